//! [`with_retry`]: retries failed tool calls with jittered exponential backoff.
//!
//! The original's `withRetry` waited a fixed delay between attempts (so clients that failed
//! together retried together) and retried every tool by default, including ones that send an
//! email or create an issue. Here:
//!
//! * retries are `tower::retry::Retry` with a [`Policy`], not a home-made loop;
//! * the delay before retry *k* (k = 1 is the first retry) is
//!   `base_k = min(min_delay * 2^(k-1), max_delay)` plus a uniform jitter in
//!   `[0, base_k * jitter]`, never above `max_delay` (tower's [`ExponentialBackoff`]). With
//!   `jitter <= 1` (enforced) a delay is never shorter than the one before it;
//! * each call gets a freshly seeded [`HasherRng`], so concurrent calls do not retry in lock-step;
//! * only errors the predicate accepts are retried (default [`ToolError::is_transient`]);
//! * a call whose [`ToolContext::is_idempotent`](crate::tool::ToolContext::is_idempotent) is
//!   false is attempted once, unless [`RetryConfig::retry_non_idempotent`] says otherwise;
//! * a cancelled call is neither retried nor waited for: the backoff ends when the call's
//!   cancellation token fires, and no attempt starts once it has.
//!
//! Each retry emits a `tracing` event (`attempt`, `delay_ms`, `error_kind`) inside the caller's
//! span.

use std::{
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures::future::Either;
use rmcp::model::CallToolResult;
use tower::{
    Layer, Service,
    retry::{
        Policy,
        backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff},
    },
    util::rng::HasherRng,
};

use super::logging::error_kind;
use crate::tool::{ToolCall, ToolError};

/// Which errors are worth another attempt.
pub type RetryPredicate = Arc<dyn Fn(&ToolError) -> bool + Send + Sync>;

/// How [`with_retry`] retries.
#[derive(Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 3). `0` is taken as `1`.
    pub max_attempts: u32,
    /// Delay before the first retry, before jitter (default 100 ms).
    pub min_delay: Duration,
    /// Longest delay between two attempts, jitter included (default 5 s). A value below
    /// `min_delay` is taken as `min_delay`.
    pub max_delay: Duration,
    /// Extra random delay, as a fraction of the base delay, in `[0, 1]` (default 0.5). Values
    /// outside are clamped; NaN is taken as 0.
    pub jitter: f64,
    /// Which errors are retried (default [`ToolError::is_transient`]).
    pub retryable: RetryPredicate,
    /// Retry calls not marked idempotent (default false: they are attempted once).
    pub retry_non_idempotent: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            jitter: 0.5,
            retryable: Arc::new(ToolError::is_transient),
            retry_non_idempotent: false,
        }
    }
}

impl RetryConfig {
    /// Sets [`Self::max_attempts`].
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets [`Self::min_delay`].
    pub fn with_min_delay(mut self, min_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self
    }

    /// Sets [`Self::max_delay`].
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets [`Self::jitter`].
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`Self::retryable`]: `predicate` decides which errors are retried.
    pub fn with_retryable(
        mut self,
        predicate: impl Fn(&ToolError) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.retryable = Arc::new(predicate);
        self
    }

    /// Sets [`Self::retry_non_idempotent`].
    pub fn with_retry_non_idempotent(mut self, retry: bool) -> Self {
        self.retry_non_idempotent = retry;
        self
    }
}

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_attempts", &self.max_attempts)
            .field("min_delay", &self.min_delay)
            .field("max_delay", &self.max_delay)
            .field("jitter", &self.jitter)
            .field("retry_non_idempotent", &self.retry_non_idempotent)
            .finish_non_exhaustive()
    }
}

/// The original's `withRetry`, with backoff, jitter and idempotency. See the [module
/// docs](self) for the exact delays.
///
/// ```
/// use mcp_auth::{middleware::{RetryConfig, with_retry}, tool::{ToolError, tool_fn}};
/// let tool = tower::ServiceBuilder::new()
///     .layer(with_retry(RetryConfig::default().with_max_attempts(4)))
///     .service(tool_fn(|_args, _ctx| async { Ok::<_, ToolError>("done") }));
/// ```
pub fn with_retry(config: RetryConfig) -> RetryLayer {
    RetryLayer::new(config)
}

/// Applies [`Retry`] to a tool service. See [`with_retry`].
#[derive(Debug, Clone)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer retrying as `config` says (out-of-range values normalised as documented on
    /// [`RetryConfig`]).
    pub fn new(mut config: RetryConfig) -> Self {
        config.max_attempts = config.max_attempts.max(1);
        // tower refuses a zero maximum; a zero minimum is fine (immediate retries).
        config.max_delay = config.max_delay.max(config.min_delay).max(Duration::from_nanos(1));
        config.jitter = if config.jitter.is_nan() { 0.0 } else { config.jitter.clamp(0.0, 1.0) };
        Self { policy: RetryPolicy { config: Arc::new(config), attempts: 0, backoff: None } }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry { inner: tower::retry::Retry::new(self.policy.clone(), SkipCancelled { inner }) }
    }
}

/// A tool service that retries failed calls. See [`with_retry`].
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: tower::retry::Retry<RetryPolicy, SkipCancelled<S>>,
}

impl<S> Retry<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner.get_ref().inner
    }

    /// The wrapped service, consuming the retry layer.
    pub fn into_inner(self) -> S {
        self.inner.into_inner().inner
    }
}

impl<S> Service<ToolCall> for Retry<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError> + Clone,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = tower::retry::future::ResponseFuture<RetryPolicy, SkipCancelled<S>, ToolCall>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ToolCall) -> Self::Future {
        self.inner.call(call)
    }
}

/// Does not start an attempt of a call that is already cancelled: `tower::retry` always makes
/// the next attempt once the backoff future ends, and ours ends early on cancellation.
#[derive(Debug, Clone)]
pub struct SkipCancelled<S> {
    inner: S,
}

impl<S> Service<ToolCall> for SkipCancelled<S>
where
    S: Service<ToolCall, Response = CallToolResult, Error = ToolError>,
{
    type Response = CallToolResult;
    type Error = ToolError;
    type Future = Either<std::future::Ready<Result<CallToolResult, ToolError>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: ToolCall) -> Self::Future {
        if call.context.cancellation().is_cancelled() {
            Either::Left(std::future::ready(Err(ToolError::Cancelled)))
        } else {
            Either::Right(self.inner.call(call))
        }
    }
}

/// The `tower::retry` [`Policy`] behind [`Retry`]. `Retry` clones it for every call, so the
/// attempt count and backoff below are per call; the layer's copy never changes.
#[derive(Clone)]
pub struct RetryPolicy {
    config: Arc<RetryConfig>,
    /// Attempts of this call that have finished.
    attempts: u32,
    /// Created on the first retry, with its own random seed.
    backoff: Option<ExponentialBackoff<HasherRng>>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("config", &self.config)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy {
    fn may_retry(&self, call: &ToolCall) -> bool {
        call.context.is_idempotent() || self.config.retry_non_idempotent
    }

    fn new_backoff(&self) -> ExponentialBackoff<HasherRng> {
        // `make_backoff` clones the maker's rng, so a maker shared by all calls would hand every
        // call the same jitter sequence; a fresh `HasherRng` (a new `RandomState`) per call avoids
        // that.
        let maker = ExponentialBackoffMaker::new(
            self.config.min_delay,
            self.config.max_delay,
            self.config.jitter,
            HasherRng::new(),
        );
        match maker {
            Ok(mut maker) => maker.make_backoff(),
            // Unreachable: `RetryLayer::new` normalises min <= max, max > 0, jitter in [0, 1].
            Err(err) => unreachable!("retry config was normalised: {err}"),
        }
    }
}

/// Sleeps for the backoff delay, or until the call is cancelled.
type BackoffFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Policy<ToolCall, CallToolResult, ToolError> for RetryPolicy {
    type Future = BackoffFuture;

    fn retry(
        &mut self,
        call: &mut ToolCall,
        result: &mut Result<CallToolResult, ToolError>,
    ) -> Option<Self::Future> {
        let error = result.as_ref().err()?;
        self.attempts += 1;
        let cancellation = call.context.cancellation();
        if self.attempts >= self.config.max_attempts
            || !self.may_retry(call)
            || cancellation.is_cancelled()
            || !(self.config.retryable)(error)
        {
            return None;
        }
        if self.backoff.is_none() {
            self.backoff = Some(self.new_backoff());
        }
        let sleep = self.backoff.as_mut()?.next_backoff();
        let delay = sleep.deadline().saturating_duration_since(tokio::time::Instant::now());
        tracing::info!(
            tool = %call.name,
            attempt = self.attempts + 1,
            max_attempts = self.config.max_attempts,
            delay_ms = delay.as_millis() as u64,
            error_kind = error_kind(error),
            "retrying tool call",
        );
        let cancellation = cancellation.clone();
        Some(Box::pin(async move {
            tokio::select! {
                () = sleep => {}
                () = cancellation.cancelled() => {}
            }
        }))
    }

    fn clone_request(&mut self, call: &ToolCall) -> Option<ToolCall> {
        // Not keeping a copy is what tells `tower::retry` that the call cannot be retried.
        self.may_retry(call).then(|| call.clone())
    }
}
