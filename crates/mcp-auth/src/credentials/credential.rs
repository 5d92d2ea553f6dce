//! [`Credential`]: an upstream secret and how long it may be used.

use std::time::SystemTime;

use crate::secret::Secret;

/// A resolved upstream credential (a GitHub token, an API key…) and its optional expiry.
///
/// `Debug` redacts the secret. Equality compares the secret *and* the expiry; whether an instance
/// must be rebuilt is [`same_secret`](Self::same_secret), which ignores the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    secret: Secret,
    expires_at: Option<SystemTime>,
}

impl Credential {
    /// A credential that does not expire.
    pub fn new(secret: impl Into<Secret>) -> Self {
        Self { secret: secret.into(), expires_at: None }
    }

    /// The empty credential of static mode (no resolver configured).
    pub fn empty() -> Self {
        Self::new("")
    }

    /// Sets the expiry.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The secret itself.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// When the credential stops being valid, if it expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// True when both hold the same secret, whatever their expiries (constant time).
    ///
    /// This is what decides whether a user's instance must be rebuilt: a refreshed JWT or a
    /// tenant manager's sliding expiry changes the expiry on every resolution, and rebuilding
    /// for that would drop all of the user's sessions.
    pub fn same_secret(&self, other: &Self) -> bool {
        self.secret == other.secret
    }

    /// True when the expiry has passed.
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= SystemTime::now())
    }
}
