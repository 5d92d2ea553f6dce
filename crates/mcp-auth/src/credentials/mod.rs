//! Which upstream credential a caller gets: the [`TokenResolver`] trait and its implementations.
//!
//! In the request path this runs right after authentication: the [`Principal`] and the
//! configured resource type (`"github"`, say) go in, a [`Credential`] comes out, and that
//! credential is what the per-user server instance is built with.
//!
//! | resolver | credential from |
//! |---|---|
//! | none ("static mode") | nothing: the factory gets an empty access token |
//! | [`SimpleTokenResolver`] | an environment variable (one credential for everybody) |
//! | [`JwtTokenResolver`] | the caller's verified JWT (`tokens.{resourceType}`) |
//! | [`ApiTokenResolver`] | a tenant manager over HTTP, cached, single-flight, stale-if-error |

mod credential;
mod env;
mod error;
mod jwt_claims;
pub mod tenant_api;

use std::sync::Arc;

#[doc(inline)]
pub use self::{
    credential::Credential,
    env::SimpleTokenResolver,
    error::CredentialError,
    jwt_claims::JwtTokenResolver,
    tenant_api::{ApiTokenResolver, ApiTokenResolverBuilder},
};
use crate::auth::Principal;

/// Finds the upstream credential of an authenticated caller for one resource type.
///
/// It takes the whole [`Principal`] rather than only its user id, so that a resolver can use
/// what the authentication established (the JWT's embedded tokens and expiry, its scopes).
#[async_trait::async_trait]
pub trait TokenResolver: Send + Sync + 'static {
    /// Resolves the credential of `principal` for `resource_type`.
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError>;

    /// Forgets any cached credential of `user_id` for `resource_type` (after a revocation, or an
    /// upstream `401`), so that the next [`resolve`](Self::resolve) fetches it anew.
    async fn invalidate(&self, user_id: &str, resource_type: &str) {
        let _ = (user_id, resource_type);
    }

    /// Forgets every cached credential, of every user: after revocations this process may
    /// have missed (it was cut off from the shared state that announces them). The default,
    /// for a resolver that caches nothing, does nothing.
    async fn invalidate_all(&self) {}

    /// How a caching resolver has answered so far, for metrics; `None` (the default) for one
    /// that does not cache.
    fn cache_stats(&self) -> Option<ResolverCacheStats> {
        None
    }
}

/// How a caching [`TokenResolver`] has answered since it was built (counts only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverCacheStats {
    /// Answered from the cache: a credential, a remembered "not found", or a recent failure
    /// within its cooldown.
    pub hits: u64,
    /// Not answerable from the cache: the tenant manager was called (whatever it answered).
    pub misses: u64,
    /// The tenant manager failed and a credential past its TTL stood in (stale-if-error).
    pub stale: u64,
    /// The tenant manager failed and nothing could stand in.
    pub errors: u64,
}

#[async_trait::async_trait]
impl<R: TokenResolver + ?Sized> TokenResolver for Arc<R> {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        (**self).resolve(principal, resource_type).await
    }

    async fn invalidate(&self, user_id: &str, resource_type: &str) {
        (**self).invalidate(user_id, resource_type).await
    }

    async fn invalidate_all(&self) {
        (**self).invalidate_all().await
    }

    fn cache_stats(&self) -> Option<ResolverCacheStats> {
        (**self).cache_stats()
    }
}
