//! [`with_timeout`]: a deadline for a tool call that really stops the work.
//!
//! The original's `withTimeout` raced the handler against a timer that was never cleared and
//! never cancelled the handler, which kept running after the caller had been told it failed.
//! Here the deadline is a `tokio::time::timeout` around the inner future, so the timer goes away
//! with the call, and on expiry:
//!
//! 1. the call's cancellation token (as the handler sees it) is cancelled, so a cooperative
//!    handler, or work it spawned holding the token, notices;
//! 2. the inner future is dropped, which is the cancellation for handlers that never look at
//!    the token;
//! 3. the caller gets [`ToolError::TimedOut`].
//!
//! The handler sees a *child* of the caller's token: a client cancelling the call still reaches
//! the handler, but a timeout does not mark the caller's token cancelled. That keeps a per-attempt
//! timeout placed inside [`with_retry`](super::with_retry) from cancelling the attempts after it.
//!
//! Unlike `tower::timeout`, the error is a [`ToolError`] (so it reaches the client as
//! [`TIMED_OUT_CODE`](crate::tool::TIMED_OUT_CODE)) and the handler is told through its token.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use rmcp::model::CallToolResult;
use tower::{Layer, Service};

use crate::tool::{ToolCall, ToolError};

/// The original's `withTimeout(ms)`: calls that take longer than `after` are cancelled and fail
/// with [`ToolError::TimedOut`].
///
/// ```
/// use std::time::Duration;
/// use mcp_auth::{middleware::with_timeout, tool::{ToolError, tool_fn}};
/// let tool = tower::ServiceBuilder::new()
///     .layer(with_timeout(Duration::from_secs(30)))
///     .service(tool_fn(|_args, _ctx| async { Ok::<_, ToolError>("done") }));
/// ```
pub fn with_timeout(after: Duration) -> TimeoutLayer {
    TimeoutLayer::new(after)
}

/// Applies [`Timeout`] to a tool service. See [`with_timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    after: Duration,
}

impl TimeoutLayer {
    /// A layer that gives each call `after` to finish.
    pub fn new(after: Duration) -> Self {
        Self { after }
    }

    /// The time limit.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout { inner, after: self.after }
    }
}

/// A tool service whose calls are cancelled after a time limit. See [`with_timeout`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    after: Duration,
}

impl<S> Timeout<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, consuming the timeout.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<ToolCall> for Timeout<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError>,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = BoxFuture<'static, Result<CallToolResult, ToolError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: ToolCall) -> Self::Future {
        let token = call.context.cancellation().child_token();
        call.context = call.context.with_cancellation(token.clone());
        // If this future is itself dropped (an outer timeout, the client going away), the guard
        // cancels the handler's token too, so work spawned with it does not outlive the call.
        let guard = token.drop_guard();
        let work = self.inner.call(call);
        let after = self.after;
        Box::pin(async move {
            match tokio::time::timeout(after, work).await {
                Ok(result) => {
                    // Finished in time: leave the token alone, whatever the handler left behind.
                    guard.disarm();
                    result
                }
                // `work` has been dropped with the `Timeout` future by now; dropping the guard
                // cancels the token for anything the handler handed it to.
                Err(_elapsed) => {
                    drop(guard);
                    tracing::debug!(after_ms = after.as_millis() as u64, "tool call timed out");
                    Err(ToolError::TimedOut { after })
                }
            }
        })
    }
}
