//! Reading the tenant manager's `200` body into a [`Credential`].
//!
//! Two shapes are in the wild (see the seed inventory, §4.4): the documented contract
//! `{ access_token, expires_at? }` and the example manager's `{ accessToken, expiresAt }` with
//! epoch milliseconds. Both are accepted, plus a bare `token`. The original ignored the expiry;
//! here it bounds how long the credential is cached.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::credentials::Credential;

/// Token fields, in order of preference: the first non-empty string wins.
const TOKEN_FIELDS: [&str; 3] = ["accessToken", "access_token", "token"];
/// Expiry fields, in order of preference.
const EXPIRY_FIELDS: [&str; 2] = ["expiresAt", "expires_at"];
/// Numeric expiries above this are epoch milliseconds, below it epoch seconds: 10^11 seconds is
/// the year 5138, 10^11 milliseconds is March 1973 — no real expiry is ambiguous.
const MILLIS_THRESHOLD: f64 = 1e11;

/// Why a `200` body could not be used. The text is safe to log: it never quotes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unusable(pub(super) &'static str);

/// Parses a `200` body. A credential whose expiry has passed is still returned; the caller
/// decides what an expired credential means.
pub(super) fn parse_body(body: &[u8]) -> Result<Credential, Unusable> {
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| Unusable("the body is not a JSON object"))?;
    let token = TOKEN_FIELDS
        .iter()
        .filter_map(|field| object.get(*field).and_then(Value::as_str))
        .find(|token| !token.is_empty())
        .ok_or(Unusable("the body has no non-empty accessToken, access_token or token"))?;
    let credential = Credential::new(token);
    match EXPIRY_FIELDS.iter().find_map(|field| object.get(*field).filter(|v| !v.is_null())) {
        None => Ok(credential),
        Some(expiry) => parse_expiry(expiry).map(|at| credential.with_expiry(at)).ok_or(Unusable(
            "the expiry is neither an RFC 3339 string nor a positive epoch number",
        )),
    }
}

/// An RFC 3339 string, or a number of epoch milliseconds (above 10^11) or seconds.
fn parse_expiry(value: &Value) -> Option<SystemTime> {
    match value {
        Value::String(text) => OffsetDateTime::parse(text, &Rfc3339).ok().map(SystemTime::from),
        Value::Number(number) => {
            let raw = number.as_f64().filter(|n| n.is_finite() && *n >= 0.0)?;
            let seconds = if raw > MILLIS_THRESHOLD { raw / 1000.0 } else { raw };
            UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(seconds).ok()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Credential, Unusable> {
        parse_body(json.as_bytes())
    }

    fn epoch(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn token_field_variants_in_order_of_preference() {
        assert_eq!(parse(r#"{"accessToken":"a","token":"t"}"#).unwrap().secret().expose(), "a");
        assert_eq!(parse(r#"{"access_token":"b"}"#).unwrap().secret().expose(), "b");
        assert_eq!(parse(r#"{"token":"c"}"#).unwrap().secret().expose(), "c");
        // Empty or non-string values do not count: the next field is tried.
        assert_eq!(
            parse(r#"{"accessToken":"","access_token":7,"token":"d"}"#).unwrap().secret().expose(),
            "d"
        );
    }

    #[test]
    fn missing_token_or_bad_json_is_unusable() {
        for body in [r#"{"accessToken":""}"#, r#"{"userId":"alice"}"#, "[]", "not json", ""] {
            assert!(parse(body).is_err(), "{body}");
        }
    }

    #[test]
    fn expiry_as_rfc3339_seconds_or_millis() {
        let rfc = parse(r#"{"token":"t","expires_at":"2030-01-01T01:00:00+01:00"}"#).unwrap();
        assert_eq!(rfc.expires_at(), Some(epoch(1_893_456_000)));
        let secs = parse(r#"{"token":"t","expiresAt":1893456000}"#).unwrap();
        assert_eq!(secs.expires_at(), Some(epoch(1_893_456_000)));
        let millis = parse(r#"{"token":"t","expiresAt":1893456000500}"#).unwrap();
        assert_eq!(millis.expires_at(), Some(epoch(1_893_456_000) + Duration::from_millis(500)));
        let none = parse(r#"{"token":"t","expiresAt":null}"#).unwrap();
        assert_eq!(none.expires_at(), None);
    }

    #[test]
    fn garbage_expiry_is_unusable_rather_than_ignored() {
        for expiry in [r#""tomorrow""#, "-5", "true", "1e300", r#"{"at":1}"#] {
            let body = format!(r#"{{"token":"t","expiresAt":{expiry}}}"#);
            assert!(parse(&body).is_err(), "{body}");
        }
    }
}
