//! [`RateLimitLayer`] and [`RateLimit`]: the rate limit as tower middleware for tool services.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::{Either, Ready, ready};
use rmcp::model::CallToolResult;
use tower::{Layer, Service};

use super::{KeyedLimiter, RateLimitConfig};
use crate::{
    config::ConfigError,
    tool::{ToolCall, ToolError},
};

/// Limits tool calls per user (or per user and tool) with `config`; see [`RateLimitLayer`].
/// A disabled config gives a layer that lets everything through.
///
/// # Panics
///
/// When the quota is impossible (a zero rate, burst, period or key cap), with the
/// [`ConfigError`] as message. For a config read from a file or the environment, use
/// [`RateLimitLayer::try_new`], which returns the error instead.
pub fn with_rate_limit(config: RateLimitConfig) -> RateLimitLayer {
    match RateLimitLayer::try_new(config) {
        Ok(layer) => layer,
        Err(err) => panic!("with_rate_limit: {err}"),
    }
}

/// A [`Layer`] that refuses tool calls over the caller's rate limit with
/// [`ToolError::RateLimited`] (a JSON-RPC error carrying `data.retryAfter`), without calling
/// the tool.
///
/// Calls are keyed by [`ToolContext::user_id`](crate::tool::ToolContext::user_id), plus the tool
/// name with [`per_tool`](RateLimitConfig::per_tool). Every service made by one layer (or its
/// clones) shares one limiter, so a layer applied to all tools gives each user one budget across
/// them.
///
/// ```
/// use mcp_auth::{middleware::{RateLimitConfig, with_rate_limit}, tool::{ToolCall, ToolError}};
/// use rmcp::model::CallToolResult;
///
/// let tool = tower::ServiceBuilder::new()
///     .layer(with_rate_limit(RateLimitConfig::per_second(5).with_burst(10)))
///     .service_fn(|_: ToolCall| async { Ok::<_, ToolError>(CallToolResult::success(vec![])) });
/// # let _ = tool;
/// ```
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: Option<Arc<KeyedLimiter<ToolKey>>>,
    per_tool: bool,
}

impl RateLimitLayer {
    /// A layer limiting with `config`, or the setting that makes its quota impossible.
    pub fn try_new(config: RateLimitConfig) -> Result<Self, ConfigError> {
        let limiter =
            if config.enabled { Some(Arc::new(KeyedLimiter::new(&config)?)) } else { None };
        Ok(Self { limiter, per_tool: config.per_tool })
    }

    /// Keys the limiter holds now (0 when disabled); see [`KeyedLimiter::tracked_keys`].
    pub fn tracked_keys(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.tracked_keys())
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit { inner, limiter: self.limiter.clone(), per_tool: self.per_tool }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    limiter: Option<Arc<KeyedLimiter<ToolKey>>>,
    per_tool: bool,
}

/// What a tool call is counted under. Separate fields, not a joined string: no user id can be
/// made to collide with another user's key for some tool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ToolKey {
    user: Box<str>,
    tool: Option<Arc<str>>,
}

impl<S> Service<ToolCall> for RateLimit<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError>,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = Either<Ready<Result<CallToolResult, ToolError>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ToolCall) -> Self::Future {
        if let Some(limiter) = &self.limiter {
            let key = ToolKey {
                user: call.context.user_id().into(),
                tool: self.per_tool.then(|| call.name.clone()),
            };
            if let Err(exceeded) = limiter.check(&key) {
                return Either::Left(ready(Err(ToolError::RateLimited {
                    retry_after: exceeded.retry_after,
                })));
            }
        }
        Either::Right(self.inner.call(call))
    }
}
