//! Turning verified claims into a [`Principal`], and jsonwebtoken errors into [`AuthError`]s.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use serde_json::{Map, Value};

use crate::{
    auth::{AuthError, Principal},
    secret::Secret,
};

/// The claim names tried for the user id, in order, after the configured one (the original
/// package's fallback: `userIdClaim || userId || sub`).
pub(crate) const USER_ID_FALLBACKS: [&str; 2] = ["userId", "sub"];

/// What a provider asks of the claims beyond what jsonwebtoken checks.
pub(crate) struct ClaimRules {
    pub(crate) user_id_claim: String,
    /// `Some(claim)` lifts `claims[claim]` out as embedded credentials.
    pub(crate) tokens_claim: Option<String>,
    /// `Some(max)` requires `iat`, not in the future, and `exp - iat <= max`.
    pub(crate) max_lifetime: Option<Duration>,
    /// The clock-skew allowance, applied to `iat` as jsonwebtoken applies it to `nbf`.
    pub(crate) leeway: Duration,
}

/// Builds the principal from claims whose signature, time window, issuer and audience were
/// already verified.
pub(crate) fn principal_from_claims(
    mut claims: Map<String, Value>,
    rules: &ClaimRules,
) -> Result<Principal, AuthError> {
    // `exp` is required and was validated, but only as a number of seconds: one past what the
    // platform's clock can hold (2^63 s on Unix) would make `UNIX_EPOCH + exp` panic. No honest
    // issuer sends such a date, and a refused token is the safe answer (RFC 7519 §4.1.4 leaves
    // the upper bound to us).
    let exp = claims.get("exp").and_then(numeric_date);
    let expiry = match claims.get("exp") {
        Some(_) => Some(
            exp.and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
                .ok_or_else(|| AuthError::InvalidClaim { claim: "exp".into() })?,
        ),
        None => None,
    };
    if let Some(max) = rules.max_lifetime {
        check_lifetime(&claims, exp.unwrap_or(u64::MAX), max, rules.leeway)?;
    }

    let user_id = [rules.user_id_claim.as_str()]
        .into_iter()
        .chain(USER_ID_FALLBACKS)
        .find_map(|name| claim_as_id(claims.get(name)?))
        .ok_or_else(|| AuthError::MissingUserId { claim: searched(&rules.user_id_claim) })?;

    let embedded = match rules.tokens_claim.as_deref().and_then(|name| claims.remove(name)) {
        Some(Value::Object(tokens)) => tokens
            .into_iter()
            .filter_map(|(resource, token)| match token {
                Value::String(token) if !token.is_empty() => Some((resource, Secret::new(token))),
                _ => None,
            })
            .collect(),
        _ => HashMap::new(),
    };

    let scopes = scopes_of(&claims);

    let mut principal = Principal::new(user_id)?
        .with_scopes(scopes)
        .with_embedded_credentials(embedded)
        .with_claims(claims);
    if let Some(expiry) = expiry {
        principal = principal.with_expiry(expiry);
    }
    Ok(principal)
}

/// RFC 7519 §4.1.6 leaves `iat` informational; a configured maximum lifetime gives it teeth
/// (RFC 8725 §3.10: tokens should be short-lived). A token without `iat`, issued in the future
/// beyond the leeway, or living longer than `max` is refused. `exp` is compared with saturating
/// arithmetic: both values are the caller's.
fn check_lifetime(
    claims: &Map<String, Value>,
    exp: u64,
    max: Duration,
    leeway: Duration,
) -> Result<(), AuthError> {
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or_else(|| AuthError::MissingClaim { claim: "iat".into() })?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    if iat > now.as_secs().saturating_add(leeway.as_secs()) {
        return Err(AuthError::InvalidClaim { claim: "iat".into() });
    }
    if exp.saturating_sub(iat) > max.as_secs() {
        return Err(AuthError::LifetimeTooLong { max_secs: max.as_secs() });
    }
    Ok(())
}

/// A NumericDate (RFC 7519 §2) as whole seconds, read the way jsonwebtoken validated it: a
/// non-negative integer, or a finite non-negative float below 2^64, rounded. Reading floats too
/// keeps a fractional `exp` from silently yielding a principal that never expires.
pub(crate) fn numeric_date(value: &Value) -> Option<u64> {
    if let Some(secs) = value.as_u64() {
        return Some(secs);
    }
    let secs = value.as_f64()?;
    // `u64::MAX as f64` rounds up to 2^64, so `<` excludes every float that would saturate.
    (secs.is_finite() && secs >= 0.0 && secs < u64::MAX as f64).then(|| secs.round() as u64)
}

fn claim_as_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn searched(configured: &str) -> String {
    let mut names = vec![configured];
    names.extend(USER_ID_FALLBACKS.iter().filter(|n| **n != configured));
    names.join("`, `")
}

/// Scopes from `scope` (RFC 9068 / RFC 8693: one space-separated string) or `scp` (an array, as
/// some providers issue).
fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => {
            items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    }
}

/// Maps a jsonwebtoken failure to the reason we report. Never includes token material.
pub(crate) fn map_jwt_error(err: &JwtError, header_alg: &str) -> AuthError {
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::DisallowedAlgorithm { alg: header_alg.to_owned() }
        }
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim { claim: claim.clone() },
        _ => AuthError::MalformedToken,
    }
}
