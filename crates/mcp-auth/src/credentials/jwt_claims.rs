//! [`JwtTokenResolver`]: the credential the caller's own JWT carries.

use super::{Credential, CredentialError, TokenResolver};
use crate::auth::Principal;

/// Resolves `tokens.{resourceType}` from the caller's verified JWT.
///
/// Works with [`JwtAuthProvider`](crate::auth::JwtAuthProvider) (with `extract_tokens`, the
/// default). The credential expires when the JWT does, and it is read from the principal of the
/// very request being served: unlike the original package, there is no process-wide cache that
/// could hand one request's token to another or outlive the JWT.
#[derive(Debug, Clone, Default)]
pub struct JwtTokenResolver {
    _private: (),
}

impl JwtTokenResolver {
    /// A resolver reading the embedded credentials of each request's principal.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl TokenResolver for JwtTokenResolver {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        let secret = principal
            .embedded_credential(resource_type)
            .ok_or_else(|| CredentialError::NotFound { resource_type: resource_type.to_owned() })?;
        let mut credential = Credential::new(secret.clone());
        if let Some(expiry) = principal.expires_at() {
            credential = credential.with_expiry(expiry);
        }
        if credential.is_expired() {
            return Err(CredentialError::Expired { resource_type: resource_type.to_owned() });
        }
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        time::{Duration, SystemTime},
    };

    use super::*;
    use crate::Secret;

    fn principal(expires_in: i64) -> Principal {
        let expiry = if expires_in >= 0 {
            SystemTime::now() + Duration::from_secs(expires_in as u64)
        } else {
            SystemTime::now() - Duration::from_secs(expires_in.unsigned_abs())
        };
        Principal::new("alice")
            .unwrap()
            .with_embedded_credentials(HashMap::from([("github".into(), Secret::new("ghp_a"))]))
            .with_expiry(expiry)
    }

    #[tokio::test]
    async fn credential_carries_the_jwt_expiry() {
        let p = principal(600);
        let credential = JwtTokenResolver::new().resolve(&p, "github").await.unwrap();
        assert_eq!(credential.secret().expose(), "ghp_a");
        assert_eq!(credential.expires_at(), p.expires_at());
    }

    #[tokio::test]
    async fn missing_resource_is_not_found() {
        let err = JwtTokenResolver::new().resolve(&principal(600), "gitlab").await.unwrap_err();
        assert_eq!(err, CredentialError::NotFound { resource_type: "gitlab".into() });
    }

    #[tokio::test]
    async fn never_outlives_the_jwt() {
        let err = JwtTokenResolver::new().resolve(&principal(-5), "github").await.unwrap_err();
        assert_eq!(err, CredentialError::Expired { resource_type: "github".into() });
    }
}
