//! [`AuthError`]: why a caller was not authenticated.

use std::borrow::Cow;

/// Why authentication failed.
///
/// Messages name the reason and never echo the presented token, so they are safe to log and to
/// return to the client. The HTTP layer maps every variant to `401` with a
/// `WWW-Authenticate: Bearer` challenge, except [`AuthError::KeysUnavailable`] (a server-side
/// failure, `503`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no credentials at all.
    #[error("no credentials were presented")]
    MissingCredentials,
    /// An `Authorization` header was present but is not `Bearer <token>`.
    #[error("the Authorization header is not of the form `Bearer <token>`")]
    MalformedHeader,
    /// The bearer token is longer than the configured limit. Refused before any parsing, key
    /// lookup or signature check.
    #[error("the token is longer than the {limit}-byte limit")]
    TokenTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The token's header lists critical extensions (`crit`, RFC 7515 §4.1.11), none of which
    /// this server understands.
    #[error("the token's header marks extensions as critical (`crit`); none is supported")]
    UnsupportedCritical,
    /// The token's `typ` header is not the one required (e.g. `at+jwt`, RFC 9068 §4).
    #[error("the token's `typ` header is not `{expected}`")]
    WrongTokenType {
        /// The required type.
        expected: String,
    },
    /// The token lives longer (`exp` minus `iat`) than the configured maximum.
    #[error("the token's lifetime exceeds the {max_secs}-second maximum")]
    LifetimeTooLong {
        /// The maximum, in seconds.
        max_secs: u64,
    },
    /// The token is not a well-formed JWT (wrong shape, bad base64 or JSON, wrong claim types).
    #[error("the token is not a well-formed JWT")]
    MalformedToken,
    /// `exp` is in the past (beyond the configured leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the configured leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The signature does not verify against the configured key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by an issuer this server does not trust")]
    WrongIssuer,
    /// `aud` does not name this server.
    #[error("the token's audience is not this server")]
    WrongAudience,
    /// The token's `alg` is refused: `none`, or an algorithm other than the key's (algorithm
    /// confusion, e.g. an HS256 token presented against an RSA public key).
    #[error("the token's signing algorithm `{alg}` is not accepted")]
    DisallowedAlgorithm {
        /// The algorithm the token's header named.
        alg: String,
    },
    /// The token's `kid` is not in the key set, even after a refresh.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// A claim the configuration requires (`exp`, `iss`, `aud`, `iat`) is absent or of the wrong type.
    #[error("the token has no valid `{claim}` claim")]
    MissingClaim {
        /// Name of the absent claim.
        claim: String,
    },
    /// A time claim holds a value this server cannot use: an `exp` past the last instant the
    /// platform's clock can represent, or an `iat` in the future.
    #[error("the token's `{claim}` claim is out of range")]
    InvalidClaim {
        /// Name of the claim, e.g. `exp`.
        claim: String,
    },
    /// Neither the configured user-id claim nor its fallbacks carry a user id.
    #[error("the token carries no user id (looked for `{claim}`)")]
    MissingUserId {
        /// The claims that were searched, e.g. `sub`, `userId`.
        claim: String,
    },
    /// The user id is empty, longer than 255 bytes, or contains control, line-separator or
    /// invisible format characters (zero-width, bidi overrides; Unicode category Cf). See
    /// [`Principal::new`](super::Principal::new).
    #[error(
        "the user id is empty, longer than 255 bytes or contains control or invisible formatting \
         characters"
    )]
    InvalidUserId,
    /// Presented credentials (an API key, say) are not valid.
    #[error("the presented credentials are not valid")]
    InvalidCredentials,
    /// The verification keys (JWKS) could not be fetched: a server-side failure, not the
    /// caller's fault.
    #[error("the token verification keys are unavailable")]
    KeysUnavailable,
    /// A custom provider's own reason. Keep it free of secrets: it reaches the client.
    #[error("{0}")]
    Rejected(Cow<'static, str>),
}

impl AuthError {
    /// True when the failure lies with this server, not with the caller's credentials (the HTTP
    /// layer answers `503` rather than `401`).
    pub fn is_server_side(&self) -> bool {
        matches!(self, Self::KeysUnavailable)
    }

    /// A short, fixed name of this kind of failure (a metrics label; never any token data).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing",
            Self::MalformedHeader => "malformed_header",
            Self::TokenTooLarge { .. } => "too_large",
            Self::UnsupportedCritical => "unsupported_critical",
            Self::WrongTokenType { .. } => "wrong_token_type",
            Self::LifetimeTooLong { .. } => "lifetime_too_long",
            Self::MalformedToken => "malformed_token",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::DisallowedAlgorithm { .. } => "disallowed_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::MissingUserId { .. } => "missing_user_id",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidCredentials => "invalid_credentials",
            Self::KeysUnavailable => "keys_unavailable",
            Self::Rejected(_) => "rejected",
        }
    }

    /// The RFC 6750 §3.1 `error` code for the `WWW-Authenticate` challenge; `None` when the
    /// request carried no credentials (the RFC says to send no error code then).
    pub fn bearer_error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingCredentials => None,
            Self::MalformedHeader => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }
}
