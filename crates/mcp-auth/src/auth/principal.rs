//! [`Principal`]: who is calling, as established by an [`AuthProvider`](super::AuthProvider).

use std::{collections::HashMap, fmt, sync::Arc, time::SystemTime};

use serde_json::{Map, Value};

use super::AuthError;
use crate::secret::Secret;

/// Longest user id accepted, in bytes (the original's limit, kept for compatibility).
pub const MAX_USER_ID_LEN: usize = 255;

/// An authenticated caller: a user id, the granted scopes, the verified token claims and any
/// upstream credentials the token itself carried.
///
/// Cloning is cheap (shared allocations), so a principal can ride along with every request.
/// `Debug` prints claim *names* only: claims may hold personal data or embedded tokens.
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

/// One allocation for the whole principal: cloning or dropping it per request is a single
/// atomic operation.
#[derive(Clone)]
struct Inner {
    user_id: String,
    scopes: Vec<String>,
    claims: Map<String, Value>,
    embedded_credentials: HashMap<String, Secret>,
    expires_at: Option<SystemTime>,
}

impl Principal {
    /// A principal for `user_id`, with no scopes, claims or expiry.
    ///
    /// Fails with [`AuthError::InvalidUserId`] when the id is empty, longer than
    /// [`MAX_USER_ID_LEN`] bytes, or contains a character that would let it pass for another
    /// id or forge log lines: control characters, line and paragraph separators, and format
    /// characters (zero-width spaces and joiners, bidi overrides such as U+202E, soft hyphens).
    pub fn new(user_id: impl Into<String>) -> Result<Self, AuthError> {
        let user_id = user_id.into();
        if user_id.is_empty()
            || user_id.len() > MAX_USER_ID_LEN
            || user_id.chars().any(is_forbidden_in_user_id)
        {
            return Err(AuthError::InvalidUserId);
        }
        Ok(Self(Arc::new(Inner {
            user_id,
            scopes: Vec::new(),
            claims: Map::new(),
            embedded_credentials: HashMap::new(),
            expires_at: None,
        })))
    }

    /// Sets the granted scopes.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = String>) -> Self {
        Arc::make_mut(&mut self.0).scopes = scopes.into_iter().collect();
        self
    }

    /// Sets the verified claims.
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        Arc::make_mut(&mut self.0).claims = claims;
        self
    }

    /// Sets the upstream credentials the token carried, keyed by resource type.
    pub fn with_embedded_credentials(mut self, credentials: HashMap<String, Secret>) -> Self {
        Arc::make_mut(&mut self.0).embedded_credentials = credentials;
        self
    }

    /// Sets when the authentication stops being valid (a JWT's `exp`).
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        Arc::make_mut(&mut self.0).expires_at = Some(expires_at);
        self
    }

    /// The caller's user id.
    pub fn user_id(&self) -> &str {
        &self.0.user_id
    }

    /// The scopes granted to the caller.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// True when `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// The verified claims (empty for providers that have none).
    pub fn claims(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    /// The upstream credential for `resource_type` that the token carried, if any.
    pub fn embedded_credential(&self, resource_type: &str) -> Option<&Secret> {
        self.0.embedded_credentials.get(resource_type)
    }

    /// When the authentication stops being valid, if it expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at
    }
}

/// Characters a user id may not hold. `alice\u{202E}` displays as something else, `a\u{200B}b`
/// looks like `ab` but is another user (a second instance, rate-limit bucket and cache entry),
/// and a line separator can split a log line in some viewers (Unicode TR 36 §2, "visual
/// spoofing").
fn is_forbidden_in_user_id(c: char) -> bool {
    // Cc (controls), Zl and Zp (U+2028, U+2029), and Cf.
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_format_character(c)
}

/// Unicode general category Cf ("Format"), Unicode 16.0, every range (UnicodeData.txt). It
/// includes all bidirectional formatting characters of UAX #9 (U+061C, U+200E/F,
/// U+202A–U+202E, U+2066–U+2069). Only additions to Unicode can change this list, and a new
/// format character in a user id is refused by the issuer's own checks long before ours.
const FORMAT_CHARACTERS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),   // soft hyphen
    ('\u{0600}', '\u{0605}'),   // Arabic number signs
    ('\u{061C}', '\u{061C}'),   // Arabic letter mark (bidi)
    ('\u{06DD}', '\u{06DD}'),   // Arabic end of ayah
    ('\u{070F}', '\u{070F}'),   // Syriac abbreviation mark
    ('\u{0890}', '\u{0891}'),   // Arabic pound/piastre mark above
    ('\u{08E2}', '\u{08E2}'),   // Arabic disputed end of ayah
    ('\u{180E}', '\u{180E}'),   // Mongolian vowel separator
    ('\u{200B}', '\u{200F}'),   // zero-width space, ZWNJ, ZWJ, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // bidi embeddings and overrides
    ('\u{2060}', '\u{2064}'),   // word joiner, invisible operators
    ('\u{2066}', '\u{206F}'),   // bidi isolates, deprecated format characters
    ('\u{FEFF}', '\u{FEFF}'),   // zero-width no-break space (BOM)
    ('\u{FFF9}', '\u{FFFB}'),   // interlinear annotation
    ('\u{110BD}', '\u{110BD}'), // Kaithi number sign
    ('\u{110CD}', '\u{110CD}'), // Kaithi number sign above
    ('\u{13430}', '\u{1343F}'), // Egyptian hieroglyph format controls
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol beam and tie controls
    ('\u{E0001}', '\u{E0001}'), // language tag
    ('\u{E0020}', '\u{E007F}'), // tag characters
];

fn is_format_character(c: char) -> bool {
    !c.is_ascii() && FORMAT_CHARACTERS.iter().any(|&(first, last)| (first..=last).contains(&c))
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("user_id", &self.0.user_id)
            .field("scopes", &self.0.scopes)
            .field("claim_names", &self.0.claims.keys().collect::<Vec<_>>())
            .field("embedded_credentials", &self.0.embedded_credentials.keys().collect::<Vec<_>>())
            .field("expires_at", &self.0.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_validated() {
        assert!(Principal::new("alice").is_ok());
        assert_eq!(Principal::new("").unwrap_err(), AuthError::InvalidUserId);
        assert_eq!(Principal::new("a\nb").unwrap_err(), AuthError::InvalidUserId);
        assert_eq!(Principal::new("x".repeat(256)).unwrap_err(), AuthError::InvalidUserId);
        assert!(Principal::new("x".repeat(255)).is_ok());
    }

    #[test]
    fn user_ids_with_invisible_or_reordering_characters_are_refused() {
        for id in [
            "alice\u{202E}",
            "a\u{200B}b",
            "\u{FEFF}alice",
            "al\u{00AD}ice",
            "alice\u{2066}x\u{2069}",
            "alice\u{2028}forged",
            "alice\u{E0041}",
            "alice\u{061C}",
        ] {
            assert_eq!(Principal::new(id).unwrap_err(), AuthError::InvalidUserId, "{id:?}");
        }
        // Letters, marks and spaces of any script are ordinary user ids.
        for id in ["josé", "مریم", "田中", "o'brien smith", "user@example.com", "ñ\u{0303}"]
        {
            assert!(Principal::new(id).is_ok(), "{id:?}");
        }
    }

    #[test]
    fn the_format_ranges_are_sorted_and_disjoint() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn debug_hides_claim_values_and_credentials() {
        let mut claims = Map::new();
        claims.insert("email".into(), Value::from("alice@example.com"));
        let principal = Principal::new("alice")
            .unwrap()
            .with_claims(claims)
            .with_embedded_credentials(HashMap::from([("github".into(), Secret::new("ghp_x1"))]));
        let printed = format!("{principal:?}");
        assert!(printed.contains("email") && printed.contains("github"), "{printed}");
        assert!(!printed.contains("alice@example.com") && !printed.contains("ghp_x1"), "{printed}");
    }
}
