//! Minting HS256 JWTs for `mcp-auth token`: test and demo tokens that the gateway's
//! [`JwtAuthProvider`](mcp_auth::JwtAuthProvider) accepts when configured with the same secret.
//!
//! This is a development tool, not an identity provider: whoever holds the secret can mint a
//! token for any user. The rules match the verifier's, so a token minted here is never refused
//! for a reason that could have been caught at minting time: the secret must be at least 32
//! bytes (RFC 7518 §3.2) and the user id must be one `Principal::new` accepts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use mcp_auth::auth::{MAX_USER_ID_LEN, Principal};
use serde::Serialize;

/// Environment variable `mcp-auth token` reads the signing secret from.
pub const SECRET_ENV_VAR: &str = "MCP_AUTH_JWT_SECRET";
/// Shortest accepted HS256 secret, in bytes: the length of the hash output (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a token could not be minted. Messages never contain the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the JWT secret is too short: HS256 needs at least {MIN_SECRET_BYTES} bytes \
         (RFC 7518 §3.2); generate one with `openssl rand -base64 48`"
    )]
    SecretTooShort,
    /// The user id would be refused by the verifier.
    #[error(
        "the user id must be 1 to {MAX_USER_ID_LEN} bytes long and contain no control characters"
    )]
    InvalidUser,
    /// The lifetime is zero, or so long that `exp` does not fit.
    #[error("the token lifetime must be at least one second and short enough for `exp` to fit")]
    InvalidTtl,
    /// The system clock is before 1970, so `iat` cannot be written.
    #[error("the system clock is before the Unix epoch")]
    Clock,
    /// jsonwebtoken could not sign the claims.
    #[error("could not sign the token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// A `--ttl` value that is not a lifetime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid lifetime `{value}`: {reason}; use whole seconds (3600) or a number followed by \
     s, m, h or d (45s, 30m, 1h, 2d)"
)]
pub struct TtlError {
    value: String,
    reason: &'static str,
}

/// The claims of a minted token. `aud`, `iss` and `scope` are left out when not given, so the
/// verifier's "configured check requires the claim" rule applies as it would to a real token.
#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
}

/// Mints an HS256 JWT for `user` that expires `ttl` from now.
///
/// Claims: `sub` = `user`, `iat`, `exp`, and `scope` (space-separated, RFC 8693 §4.2), `aud`
/// and `iss` when given.
///
/// ```
/// use std::time::Duration;
/// use mcp_auth_gateway::token::mint;
/// let secret = "a-secret-of-at-least-thirty-two-bytes!";
/// let token = mint(secret, "alice", Duration::from_secs(3600), Some("read"), None, None)?;
/// assert_eq!(token.split('.').count(), 3);
/// assert!(mint("short", "alice", Duration::from_secs(60), None, None, None).is_err());
/// # Ok::<_, mcp_auth_gateway::token::TokenError>(())
/// ```
pub fn mint(
    secret: &str,
    user: &str,
    ttl: Duration,
    scope: Option<&str>,
    aud: Option<&str>,
    iss: Option<&str>,
) -> Result<String, TokenError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(TokenError::SecretTooShort);
    }
    Principal::new(user).map_err(|_| TokenError::InvalidUser)?;
    let iat =
        SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| TokenError::Clock)?.as_secs();
    // Verifiers commonly hold NumericDate as i64, so an `exp` beyond it would be unreadable.
    let exp = iat
        .checked_add(ttl.as_secs())
        .filter(|exp| ttl.as_secs() > 0 && i64::try_from(*exp).is_ok())
        .ok_or(TokenError::InvalidTtl)?;
    let claims = Claims { sub: user, iat, exp, scope, aud, iss };
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes()))
        .map_err(TokenError::Sign)
}

/// Parses a token lifetime: whole seconds (`"3600"`) or a number with a unit, `s`, `m`, `h` or
/// `d` (`"45s"`, `"30m"`, `"1h"`, `"2d"`). Zero is refused: such a token is born expired.
///
/// ```
/// use std::time::Duration;
/// use mcp_auth_gateway::token::parse_ttl;
/// assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
/// assert_eq!(parse_ttl("3600"), Ok(Duration::from_secs(3600)));
/// assert!(parse_ttl("1w").is_err());
/// ```
pub fn parse_ttl(value: &str) -> Result<Duration, TtlError> {
    let invalid = |reason| TtlError { value: value.to_owned(), reason };
    let trimmed = value.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    if number.is_empty() {
        return Err(invalid("it does not start with a number"));
    }
    let multiplier = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(invalid("unknown unit")),
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| invalid("too large"))?;
    if seconds == 0 {
        return Err(invalid("a token must live at least one second"));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn ttl_accepts_every_documented_unit() {
        for (input, seconds) in
            [("45s", 45), ("30m", 1800), ("1h", 3600), ("2d", 172_800), ("3600", 3600)]
        {
            assert_eq!(parse_ttl(input), Ok(Duration::from_secs(seconds)), "{input}");
        }
    }

    #[test]
    fn ttl_refuses_zero_unknown_units_overflow_and_garbage() {
        for input in ["0", "0h", "1w", "h", "", "-5m", "1.5h", "1h30m", "99999999999999999999d"] {
            assert!(parse_ttl(input).is_err(), "{input:?} was accepted");
        }
    }

    #[test]
    fn ttl_error_names_the_value_and_the_valid_forms() {
        let message = parse_ttl("1w").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("`1w`") && message.contains("30m"), "{message}");
    }

    #[test]
    fn a_secret_of_31_bytes_is_refused_and_32_accepted() {
        let short = &SECRET[..31];
        assert!(matches!(
            mint(short, "alice", Duration::from_secs(60), None, None, None),
            Err(TokenError::SecretTooShort)
        ));
        assert!(mint(SECRET, "alice", Duration::from_secs(60), None, None, None).is_ok());
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let short = "a-short-but-secret-value";
        let err = mint(short, "alice", Duration::from_secs(60), None, None, None)
            .err()
            .map(|e| format!("{e} {e:?}"))
            .unwrap_or_default();
        assert!(!err.is_empty() && !err.contains(short), "{err}");
    }

    #[test]
    fn an_empty_or_control_character_user_is_refused() {
        for user in ["", "ali\nce"] {
            assert!(matches!(
                mint(SECRET, user, Duration::from_secs(60), None, None, None),
                Err(TokenError::InvalidUser)
            ));
        }
    }

    #[test]
    fn a_lifetime_beyond_the_numeric_date_range_is_refused() {
        assert!(matches!(
            mint(SECRET, "alice", Duration::from_secs(u64::MAX), None, None, None),
            Err(TokenError::InvalidTtl)
        ));
    }
}
