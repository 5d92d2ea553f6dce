//! Who is calling: the [`AuthProvider`] trait and its built-in implementations.
//!
//! In the request path this is the first step after the transport: every HTTP request (and, on
//! stdio, the process itself) is turned into a [`Principal`] or refused with an [`AuthError`].
//! The [`TokenResolver`](crate::credentials::TokenResolver) then finds that principal's upstream
//! credential.
//!
//! | provider | identity from |
//! |---|---|
//! | [`EnvAuthProvider`] | an environment variable (stdio, single-user) |
//! | [`JwtAuthProvider`] | a verified bearer JWT: HMAC secret, PEM public key, or JWKS URL |
//! | [`AnonymousLoopbackProvider`] | nothing: loopback callers only, refused in production (conformance runs) |
//! | your own | implement [`AuthProvider`]; see `examples/api_key_provider.rs` |

mod anonymous;
mod context;
mod env;
mod error;
pub mod jwks;
pub mod jwt;
mod principal;
mod scope;

use std::sync::Arc;

pub(crate) use self::scope::missing as missing_scopes;
#[doc(inline)]
pub use self::{
    anonymous::AnonymousLoopbackProvider,
    context::{REQUEST_ID_HEADER, RequestContext, TransportKind},
    env::{DEFAULT_USER_ID, DEFAULT_USER_ID_VAR, EnvAuthProvider, EnvAuthProviderBuilder},
    error::AuthError,
    jwt::{JwtAuthProvider, JwtAuthProviderBuilder},
    principal::{MAX_USER_ID_LEN, Principal},
    scope::check_scope,
};

/// Turns a request into a [`Principal`], or refuses it.
///
/// Implementations must be cheap to call concurrently: the HTTP layer calls `authenticate` on
/// every request. Errors must never contain the presented credential.
///
/// ```
/// use mcp_auth::auth::{AuthError, AuthProvider, Principal, RequestContext};
///
/// struct HeaderUser;
///
/// #[async_trait::async_trait]
/// impl AuthProvider for HeaderUser {
///     async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
///         let user = ctx.header("x-trusted-user").ok_or(AuthError::MissingCredentials)?;
///         Principal::new(user)
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait AuthProvider: Send + Sync + 'static {
    /// Authenticates one request.
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError>;

    /// Request headers that carry this provider's credentials beyond `Authorization`,
    /// `Proxy-Authorization` and `Cookie` (say `x-api-key`). The HTTP transports remove all of
    /// them before the request reaches the wrapped server, so no handler can read, log or
    /// forward the caller's token (MCP authorization spec: no token passthrough).
    fn credential_headers(&self) -> Vec<http::HeaderName> {
        Vec::new()
    }

    /// Forgets whatever this provider remembers of `user_id` (verified tokens), so that their
    /// next request is authenticated from scratch: part of
    /// [`WrappedServer::invalidate_user`](crate::WrappedServer::invalidate_user).
    fn forget_user(&self, user_id: &str) {
        let _ = user_id;
    }

    /// Forgets whatever this provider remembers of every user: part of
    /// [`WrappedServer::invalidate_all`](crate::WrappedServer::invalidate_all).
    fn forget_all(&self) {}
}

#[async_trait::async_trait]
impl<P: AuthProvider + ?Sized> AuthProvider for Arc<P> {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        (**self).authenticate(ctx).await
    }

    fn credential_headers(&self) -> Vec<http::HeaderName> {
        (**self).credential_headers()
    }

    fn forget_user(&self, user_id: &str) {
        (**self).forget_user(user_id)
    }

    fn forget_all(&self) {
        (**self).forget_all()
    }
}

#[async_trait::async_trait]
impl<P: AuthProvider + ?Sized> AuthProvider for Box<P> {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        (**self).authenticate(ctx).await
    }

    fn credential_headers(&self) -> Vec<http::HeaderName> {
        (**self).credential_headers()
    }

    fn forget_user(&self, user_id: &str) {
        (**self).forget_user(user_id)
    }

    fn forget_all(&self) {
        (**self).forget_all()
    }
}

/// The builders' shared check: serving without an auth provider is a configuration error,
/// never an open server.
pub(crate) fn required(
    auth: Option<Arc<dyn AuthProvider>>,
) -> Result<Arc<dyn AuthProvider>, crate::ConfigError> {
    auth.ok_or_else(|| {
        crate::ConfigError::missing("auth_provider", "an AuthProvider (e.g. JwtAuthProvider)")
    })
}
