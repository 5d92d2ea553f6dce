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
    /// [`MAX_USER_ID_LEN`] bytes, or contains control characters (which would let a caller forge
    /// log lines or cache keys).
    pub fn new(user_id: impl Into<String>) -> Result<Self, AuthError> {
        let user_id = user_id.into();
        if user_id.is_empty()
            || user_id.len() > MAX_USER_ID_LEN
            || user_id.chars().any(char::is_control)
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
