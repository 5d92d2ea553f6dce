//! [`UserRateLimit`]: the per-user limit admission checks after authentication — this
//! process's own [`KeyedLimiter`], or a [`SharedRateLimiter`] whose state other replicas share.
//!
//! An enum rather than a trait object: the local check stays a direct, synchronous call with
//! no allocation; only the shared one goes through a boxed future (it waits on the network).

use std::sync::Arc;

use crate::middleware::rate_limit::{
    KeyedLimiter, RateLimitStatus, SharedRateLimitError, SharedRateLimiter,
};

use super::Refusal;

/// Which limiter admission asks.
pub(crate) enum UserRateLimit {
    /// Per process, keyed by user id.
    Local(KeyedLimiter<Arc<str>>),
    /// Shared with other replicas (Redis, say).
    Shared(Arc<dyn SharedRateLimiter>),
}

impl UserRateLimit {
    /// Counts one request of `user_id`, or the refusal: `RateLimited` over the limit,
    /// `RateLimitUnavailable` when a shared limiter that fails closed cannot decide.
    pub(crate) async fn check(&self, user_id: &Arc<str>) -> Result<RateLimitStatus, Refusal> {
        match self {
            Self::Local(limiter) => limiter.check(user_id).map_err(Refusal::RateLimited),
            Self::Shared(limiter) => limiter.check(user_id).await.map_err(|err| match err {
                SharedRateLimitError::Exceeded(exceeded) => Refusal::RateLimited(exceeded),
                SharedRateLimitError::Unavailable { retry_after } => {
                    Refusal::RateLimitUnavailable(retry_after)
                }
            }),
        }
    }
}
