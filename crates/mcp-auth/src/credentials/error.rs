//! [`CredentialError`]: why no credential could be resolved.

use std::time::Duration;

/// Why a caller's upstream credential could not be resolved.
///
/// The split matters to clients: [`NotFound`](Self::NotFound) and [`Expired`](Self::Expired) are
/// the caller's problem (the HTTP layer answers `403`: connect the account first), while
/// [`TenantManagerUnavailable`](Self::TenantManagerUnavailable) is ours (`503` with
/// `Retry-After`). Messages never contain the credential, the service token or the user id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// There is no credential of this resource type for the caller.
    #[error("no `{resource_type}` credential is available for this user")]
    NotFound {
        /// The resource type asked for.
        resource_type: String,
    },
    /// The credential exists but has expired (for a JWT-embedded one: the JWT has expired).
    #[error("the `{resource_type}` credential for this user has expired")]
    Expired {
        /// The resource type asked for.
        resource_type: String,
    },
    /// The tenant manager could not be reached, failed, rejected our service token or answered
    /// something unusable, and no cached credential could stand in.
    #[error("the tenant manager is unavailable; retry after {} s", retry_after.as_secs())]
    TenantManagerUnavailable {
        /// How long the client should wait before retrying.
        retry_after: Duration,
    },
}

impl CredentialError {
    /// The `Retry-After` to send, for errors worth retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TenantManagerUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The resource type a `NotFound` or `Expired` is about.
    pub fn resource_type(&self) -> Option<&str> {
        match self {
            Self::NotFound { resource_type } | Self::Expired { resource_type } => {
                Some(resource_type)
            }
            Self::TenantManagerUnavailable { .. } => None,
        }
    }

    /// True when the failure lies with this server or its tenant manager, not the caller.
    pub fn is_server_side(&self) -> bool {
        matches!(self, Self::TenantManagerUnavailable { .. })
    }
}
