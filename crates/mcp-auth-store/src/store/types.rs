//! The values that go into and come out of a [`CredentialStore`](super::CredentialStore): what
//! a put carries, what a read returns (secrets as [`Secret`]), and what a listing shows (no
//! secrets at all).

use std::{fmt, str::FromStr, time::SystemTime};

use mcp_auth::Secret;

/// Whether a stored credential can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialStatus {
    /// Usable (if not expired).
    Active,
    /// The provider refused it (a refresh answered `invalid_grant`, say): the user must connect
    /// the account again. Resolvers treat it as missing.
    NeedsReconnect,
}

impl CredentialStatus {
    /// The name stored in the `status` column and shown by the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReconnect => "needs_reconnect",
        }
    }
}

impl fmt::Display for CredentialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialStatus {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "active" => Ok(Self::Active),
            "needs_reconnect" => Ok(Self::NeedsReconnect),
            _ => Err(()),
        }
    }
}

/// A credential to store for one user and resource type; see
/// [`CredentialStore::put`](super::CredentialStore::put).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use mcp_auth_store::NewCredential;
/// let credential = NewCredential::new("gho_access")
///     .with_refresh_token("ghr_refresh")
///     .with_expiry(SystemTime::now() + Duration::from_secs(3600))
///     .with_scopes(["repo", "read:org"]);
/// assert!(!format!("{credential:?}").contains("gho_access"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewCredential {
    /// The upstream access token.
    pub access_token: Secret,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<Secret>,
    /// When the access token expires (stored to the second).
    pub expires_at: Option<SystemTime>,
    /// The scopes granted (OAuth scope tokens: no whitespace).
    pub scopes: Vec<String>,
}

impl NewCredential {
    /// A credential holding `access_token`, with no refresh token, expiry or scopes.
    pub fn new(access_token: impl Into<Secret>) -> Self {
        Self {
            access_token: access_token.into(),
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
        }
    }

    /// Sets the refresh token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<Secret>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Sets the expiry.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the granted scopes.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

/// What a listing shows of one stored credential: everything but its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialInfo {
    /// Whose credential it is.
    pub user_id: String,
    /// For which resource type (`"github"`, say).
    pub resource_type: String,
    /// The id of the key it is sealed under.
    pub key_id: String,
    /// When the access token expires, if it does.
    pub expires_at: Option<SystemTime>,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// Whether it can be used.
    pub status: CredentialStatus,
    /// When it was first stored.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub updated_at: SystemTime,
}

/// A stored credential, decrypted: its [`CredentialInfo`] and its secrets.
///
/// `Debug` redacts the secrets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredCredential {
    /// Everything but the secrets.
    pub info: CredentialInfo,
    /// The upstream access token.
    pub access_token: Secret,
    /// The refresh token, if there is one.
    pub refresh_token: Option<Secret>,
}

impl StoredCredential {
    /// True when the access token's expiry has passed.
    pub fn is_expired(&self) -> bool {
        self.info.expires_at.is_some_and(|at| at <= SystemTime::now())
    }
}

/// What a [`CredentialStore::lookup`](super::CredentialStore::lookup) found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Lookup {
    /// The credential, decrypted (whatever its status or expiry).
    Found(StoredCredential),
    /// No credential for this user and resource type.
    NotFound,
    /// The user was revoked, at this time, and has no credential since.
    Revoked {
        /// When the revocation happened.
        at: SystemTime,
    },
}

/// What a [`CredentialStore::rotate_key`](super::CredentialStore::rotate_key) run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationReport {
    /// The key every rotated row is now sealed under.
    pub key_id: String,
    /// Rows re-encrypted under it.
    pub rotated: u64,
    /// Rows left as they were because they could not be opened (unknown key id, tampered or
    /// moved); each was reported in the audit log and at `error` level.
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
}
