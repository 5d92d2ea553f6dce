//! Rules on the JWT's protected header beyond its algorithm: `crit` and, when configured, `typ`.
//!
//! Runs on the parsed header, before a token is accepted (on the JWKS path, before the key
//! lookup, so a refused header never triggers a refetch). Cache hits skip it: only tokens that
//! passed it are cached.

use jsonwebtoken::Header;

use crate::auth::AuthError;

/// The header rules of one provider.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderRules {
    /// The required media type, normalised by [`normalise_typ`]; `None` accepts any `typ`.
    required_typ: Option<String>,
}

impl HeaderRules {
    pub(crate) fn new(required_typ: Option<&str>) -> Self {
        Self { required_typ: required_typ.map(normalise_typ) }
    }

    pub(crate) fn check(&self, header: &Header) -> Result<(), AuthError> {
        // RFC 7515 §4.1.11: a recipient that does not understand every extension listed in
        // `crit` MUST reject the JWS. We understand none, so any `crit` at all is refused
        // (an empty list is itself invalid there: "Producers MUST NOT use the empty list").
        if header.crit.is_some() {
            return Err(AuthError::UnsupportedCritical);
        }
        if let Some(required) = &self.required_typ {
            let matches = header.typ.as_deref().is_some_and(|typ| normalise_typ(typ) == *required);
            if !matches {
                return Err(AuthError::WrongTokenType { expected: required.clone() });
            }
        }
        Ok(())
    }
}

/// `typ` is a media type compared case-insensitively, and RFC 7515 §4.1.9 says a value without
/// a `/` is to be read with `application/` in front: `at+jwt` and `application/at+jwt` (RFC 9068
/// §4) are the same type.
pub(crate) fn normalise_typ(typ: &str) -> String {
    let typ = typ.trim().to_ascii_lowercase();
    match typ.strip_prefix("application/") {
        Some(rest) if !rest.contains('/') => rest.to_owned(),
        _ => typ,
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;

    use super::*;

    fn header(typ: Option<&str>, crit: Option<Vec<&str>>) -> Header {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = typ.map(str::to_owned);
        header.crit = crit.map(|c| c.into_iter().map(str::to_owned).collect());
        header
    }

    #[test]
    fn typ_compares_as_a_media_type() {
        let rules = HeaderRules::new(Some("at+jwt"));
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
            assert!(rules.check(&header(Some(typ), None)).is_ok(), "{typ}");
        }
        for typ in [Some("JWT"), Some("text/at+jwt"), None] {
            assert_eq!(
                rules.check(&header(typ, None)),
                Err(AuthError::WrongTokenType { expected: "at+jwt".into() }),
                "{typ:?}"
            );
        }
        assert!(HeaderRules::default().check(&header(Some("anything"), None)).is_ok());
    }

    #[test]
    fn any_crit_is_refused() {
        let rules = HeaderRules::default();
        assert_eq!(rules.check(&header(None, Some(vec![]))), Err(AuthError::UnsupportedCritical));
        assert_eq!(
            rules.check(&header(None, Some(vec!["exp"]))),
            Err(AuthError::UnsupportedCritical)
        );
    }
}
