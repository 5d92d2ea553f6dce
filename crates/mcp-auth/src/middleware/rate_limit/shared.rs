//! [`SharedRateLimiter`]: the seam through which a limiter whose state lives outside this
//! process (Redis, in `mcp-auth-redis`) replaces [`KeyedLimiter`](super::KeyedLimiter) in
//! [`wrap_server`](crate::wrap_server), so that replicas behind one load balancer share one
//! budget per user.
//!
//! Only the HTTP and stdio admission uses it; the tool-call [`RateLimitLayer`](super::RateLimitLayer)
//! stays local. A shared check answers with the same [`RateLimitStatus`] and
//! [`RateLimitExceeded`] as the local one, so callers see the same `429`, `Retry-After` and
//! `RateLimit-*` headers whichever limiter refused them.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{RateLimitExceeded, RateLimitStatus};

/// A per-user rate limiter whose state is shared with other processes.
///
/// Installed with
/// [`WrapServerBuilder::shared_rate_limit`](crate::WrapServerBuilder::shared_rate_limit); the
/// quota is the implementation's own. Called once per admitted request, after authentication,
/// with the verified user id: an implementation must not store or log that id in the clear.
///
/// ```
/// use futures::future::BoxFuture;
/// use mcp_auth::middleware::rate_limit::{SharedRateLimitError, SharedRateLimiter, RateLimitStatus};
///
/// /// Lets everyone through: a stand-in for a limiter that asks a shared store.
/// struct Unlimited;
/// impl SharedRateLimiter for Unlimited {
///     fn check<'a>(&'a self, _user_id: &'a str)
///         -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>> {
///         Box::pin(async { Ok(RateLimitStatus::new(100, 100, std::time::Duration::ZERO)) })
///     }
/// }
/// ```
pub trait SharedRateLimiter: Send + Sync + 'static {
    /// Counts one request of `user_id`: `Ok` with the remaining budget, `Err` when over the
    /// limit or when the shared state cannot be reached and the limiter refuses rather than
    /// guess (its "fail closed" mode).
    fn check<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>>;
}

/// Why a [`SharedRateLimiter`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedRateLimitError {
    /// Over the user's limit: `429` with `Retry-After` and the `RateLimit-*` headers.
    #[error(transparent)]
    Exceeded(#[from] RateLimitExceeded),
    /// The shared state could not be reached and the limiter fails closed: `503` with
    /// `Retry-After`. Not the caller's fault, and not counted against them.
    #[error("the shared rate limiter is unavailable; retry after {} s", retry_after.as_secs().max(1))]
    Unavailable {
        /// When to try again.
        retry_after: Duration,
    },
}

/// One limiter for several servers (mounts of one process that share a budget, or tests).
impl<T: SharedRateLimiter + ?Sized> SharedRateLimiter for std::sync::Arc<T> {
    fn check<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>> {
        (**self).check(user_id)
    }
}
