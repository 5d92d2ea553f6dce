//! [`with_concurrency_limit`]: at most *n* calls of one user in flight.
//!
//! Unlike `tower::limit::ConcurrencyLimit`, which bounds a service as a whole, the bound here is
//! per user ([`ToolContext::user_id`](crate::tool::ToolContext::user_id)): one user's slow calls
//! queue behind each other (first come, first served: a tokio `Semaphore` per user) while other
//! users' calls run. Waiting ends with [`ToolError::Cancelled`] when the call's cancellation token
//! fires.
//!
//! The semaphores live in a bounded `moka` cache that forgets users idle for a while, so memory
//! does not grow with the number of users. A call in flight holds its semaphore through an `Arc`,
//! so an eviction never frees a semaphore in use; but a user evicted *while* a call is in flight
//! (the cache full of other users, or a call longer than the idle time) gets a fresh semaphore,
//! and may briefly have up to twice the limit in flight. Keep the idle time above the timeout.
//!
//! One layer value is one set of limits: services built from the same layer (or clones of it)
//! share it, so `n` bounds a user across all the tools wrapped by that layer.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use moka::future::Cache;
use rmcp::model::CallToolResult;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::tool::{ToolCall, ToolError};

/// How [`with_concurrency_limit`] bounds calls.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConcurrencyLimitConfig {
    /// Calls of one user in flight at once (default 4). `0` is taken as `1`.
    pub max_in_flight: usize,
    /// Users whose semaphores are kept at once (default 10 000); the least useful are evicted.
    pub max_users: u64,
    /// A user's semaphore is forgotten after this long without a call (default 10 min).
    pub idle_timeout: Duration,
}

impl Default for ConcurrencyLimitConfig {
    fn default() -> Self {
        Self { max_in_flight: 4, max_users: 10_000, idle_timeout: Duration::from_secs(600) }
    }
}

impl ConcurrencyLimitConfig {
    /// Sets [`Self::max_in_flight`].
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// Sets [`Self::max_users`].
    pub fn with_max_users(mut self, max_users: u64) -> Self {
        self.max_users = max_users;
        self
    }

    /// Sets [`Self::idle_timeout`].
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }
}

/// At most `max_in_flight` calls per user at once; the others of that user wait their turn.
///
/// ```
/// use mcp_auth::{middleware::with_concurrency_limit, tool::{ToolError, tool_fn}};
/// let tool = tower::ServiceBuilder::new()
///     .layer(with_concurrency_limit(2))
///     .service(tool_fn(|_args, _ctx| async { Ok::<_, ToolError>("done") }));
/// ```
pub fn with_concurrency_limit(max_in_flight: usize) -> ConcurrencyLimitLayer {
    ConcurrencyLimitLayer::new(ConcurrencyLimitConfig::default().with_max_in_flight(max_in_flight))
}

/// Applies [`ConcurrencyLimit`] to a tool service. See [`with_concurrency_limit`].
#[derive(Clone)]
pub struct ConcurrencyLimitLayer {
    limits: Limits,
}

impl ConcurrencyLimitLayer {
    /// A layer bounding calls as `config` says.
    pub fn new(config: ConcurrencyLimitConfig) -> Self {
        let per_user = config.max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        let semaphores = Cache::builder()
            .max_capacity(config.max_users)
            .time_to_idle(config.idle_timeout)
            .build();
        Self { limits: Limits { semaphores, per_user } }
    }
}

impl std::fmt::Debug for ConcurrencyLimitLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyLimitLayer").field("per_user", &self.limits.per_user).finish()
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit { inner, limits: self.limits.clone() }
    }
}

/// The per-user semaphores, shared by every service of one layer.
#[derive(Clone)]
struct Limits {
    semaphores: Cache<String, Arc<Semaphore>>,
    per_user: usize,
}

/// A tool service with a per-user bound on calls in flight. See [`with_concurrency_limit`].
#[derive(Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    limits: Limits,
}

impl<S> ConcurrencyLimit<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, consuming the limit.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for ConcurrencyLimit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("inner", &self.inner)
            .field("per_user", &self.limits.per_user)
            .finish()
    }
}

impl<S> Service<ToolCall> for ConcurrencyLimit<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = BoxFuture<'static, Result<CallToolResult, ToolError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ToolCall) -> Self::Future {
        // The inner service is called only once a permit is held; take the instance that
        // `poll_ready` readied and leave a clone in its place (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limits = self.limits.clone();
        Box::pin(async move {
            let semaphore = limits
                .semaphores
                .get_with_by_ref(call.context.user_id(), async {
                    Arc::new(Semaphore::new(limits.per_user))
                })
                .await;
            let cancellation = call.context.cancellation().clone();
            let permit = tokio::select! {
                // A cancelled call must not start, even if a permit is free.
                biased;
                () = cancellation.cancelled() => return Err(ToolError::Cancelled),
                permit = semaphore.acquire_owned() => match permit {
                    Ok(permit) => permit,
                    // The semaphore is never closed; should it be, the call cannot go ahead.
                    Err(_closed) => return Err(ToolError::Cancelled),
                },
            };
            let result = inner.call(call).await;
            drop(permit);
            result
        })
    }
}
