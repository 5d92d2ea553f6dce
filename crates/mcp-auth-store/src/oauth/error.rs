//! [`OAuthError`]: why connecting an account or exchanging a code failed. Messages never hold a
//! token, a code, a PKCE verifier, the client secret or a user id.

use crate::store::StoreError;

/// Why an OAuth operation of [`OAuthConnector`](super::OAuthConnector) failed.
///
/// The state errors ([`UnknownState`](Self::UnknownState), [`ExpiredState`](Self::ExpiredState),
/// [`StateMismatch`](Self::StateMismatch)) are the caller's: a callback that is forged,
/// replayed, too late, or brought by another user than the one who started it (`400`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// A provider setting is unusable.
    #[error("invalid OAuth provider setting `{field}`: {reason}")]
    Config {
        /// Which setting (`authorize_url`, `token_url`, `redirect_uri`, …).
        field: &'static str,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// No provider is configured for this resource type.
    #[error("no OAuth provider is configured for resource type `{resource_type}`")]
    UnknownProvider {
        /// The resource type asked for.
        resource_type: String,
    },
    /// The callback's `state` was never issued here, was already used, or was forgotten (a
    /// restart, or too many connections pending).
    #[error("unknown OAuth state: forged, already used, or no longer pending; connect again")]
    UnknownState,
    /// The callback's `state` was issued here but has expired.
    #[error("the OAuth state has expired; connect again")]
    ExpiredState,
    /// The callback's `state` was issued to another user. It is spent all the same.
    #[error("the OAuth state was issued to another user")]
    StateMismatch,
    /// The callback's `iss` (RFC 9207) is missing or names another issuer than the provider
    /// the connection was started with: a mix-up attack, or a misconfigured `issuer`. The
    /// state is spent and no code is redeemed.
    #[error("the OAuth callback's issuer is not the provider's; connect again")]
    IssuerMismatch,
    /// The provider refused the token request with an OAuth error (`invalid_grant` for a used
    /// or expired code, say).
    #[error("the OAuth provider refused the token request: {error}")]
    Refused {
        /// The OAuth error code (RFC 6749 §5.2).
        error: String,
    },
    /// The provider could not be reached or answered `5xx` / `429`.
    #[error("the OAuth provider is unavailable: {reason}")]
    Unavailable {
        /// Why, without any secret.
        reason: String,
    },
    /// The provider's answer was not a usable token response.
    #[error("the OAuth provider's token response is unusable: {reason}")]
    InvalidResponse {
        /// Why, without any secret.
        reason: String,
    },
    /// Storing the tokens failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
