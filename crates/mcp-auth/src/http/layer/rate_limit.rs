//! [`UserRateLimitLayer`]: a per-user rate limit for HTTP requests, keyed by the verified user
//! id an [`AuthLayer`](super::AuthLayer) in front of it found — the limiter and the `429`
//! `wrap_server` uses.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{extract::Request, http::StatusCode, response::Response};
use tower::{Layer, Service};

use crate::{
    auth::Principal,
    config::ConfigError,
    http::errors,
    middleware::{RateLimitConfig, rate_limit::KeyedLimiter},
};

/// Limits each user's requests: over the limit, `429` with `Retry-After`, the `RateLimit-*`
/// headers and a JSON-RPC error (`-32029`), before the inner service sees the request.
/// Needs an [`AuthLayer`](super::AuthLayer) outside it: a request without a
/// [`Principal`] is a server misconfiguration (`500`), never unlimited.
#[derive(Clone, Debug)]
pub struct UserRateLimitLayer {
    limiter: Arc<KeyedLimiter<Arc<str>>>,
}

impl UserRateLimitLayer {
    /// A limit of `config` per user (`per_tool` does not apply to HTTP requests).
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        Ok(Self { limiter: Arc::new(KeyedLimiter::new(config)?) })
    }
}

impl<S> Layer<S> for UserRateLimitLayer {
    type Service = UserRateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UserRateLimitService { limiter: self.limiter.clone(), inner }
    }
}

/// The service of a [`UserRateLimitLayer`].
#[derive(Clone, Debug)]
pub struct UserRateLimitService<S> {
    limiter: Arc<KeyedLimiter<Arc<str>>>,
    inner: S,
}

impl<S> Service<Request> for UserRateLimitService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let refused = match request.extensions().get::<Principal>() {
            None => {
                tracing::error!(
                    "UserRateLimitLayer saw a request without a Principal: put an AuthLayer outside it"
                );
                Some(errors::jsonrpc_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    -32603,
                    "Internal error",
                ))
            }
            Some(principal) => {
                let user: Arc<str> = principal.user_id().into();
                self.limiter.check(&user).err().map(|exceeded| errors::too_many_requests(&exceeded))
            }
        };
        if let Some(response) = refused {
            return Box::pin(async move { Ok(response) });
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}
