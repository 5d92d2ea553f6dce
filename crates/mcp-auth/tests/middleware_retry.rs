//! `with_retry` backs off exponentially with bounded jitter, stops at `max_attempts`, and
//! retries only idempotent calls and retryable errors.
//!
//! Time is virtual (`start_paused`), so the gap between two attempts is exactly the backoff
//! delay, give or take the timer wheel's 1 ms resolution (`TICK`). With `min_delay` m and jitter
//! j, the gap before retry k (k = 1 first) lies in `[b, b * (1 + j)]` with
//! `b = min(m * 2^(k-1), max_delay)`, capped at `max_delay`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use mcp_auth::{
    Principal,
    middleware::{RetryConfig, with_retry},
    tool::{ToolCall, ToolContext, ToolError},
};
use rmcp::model::{CallToolResult, ContentBlock};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const TICK: Duration = Duration::from_millis(1);

fn call_as(context: ToolContext) -> ToolCall {
    ToolCall::new("t", serde_json::Map::new(), context)
}

fn idempotent() -> ToolContext {
    ToolContext::new(Principal::new("alice").unwrap()).with_idempotent(true)
}

/// A tool that records when each attempt starts and answers with `outcome(attempt)`.
fn recording_tool(
    outcome: impl Fn(usize) -> Result<CallToolResult, ToolError> + Clone + Send + 'static,
) -> (
    impl Service<ToolCall, Response = CallToolResult, Error = ToolError, Future = impl Future + Send>
    + Clone
    + Send,
    Arc<Mutex<Vec<Instant>>>,
) {
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let tool = service_fn({
        let attempts = attempts.clone();
        move |_call: ToolCall| {
            let n = {
                let mut attempts = attempts.lock().unwrap();
                attempts.push(Instant::now());
                attempts.len()
            };
            std::future::ready(outcome(n))
        }
    });
    (tool, attempts)
}

fn always_failing(_: usize) -> Result<CallToolResult, ToolError> {
    Err(ToolError::failed("upstream hiccup"))
}

fn gaps(attempts: &[Instant]) -> Vec<Duration> {
    attempts.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_within_its_jitter_bounds_and_stops_at_max_attempts() {
    let (tool, attempts) = recording_tool(always_failing);
    let config = RetryConfig::default()
        .with_max_attempts(5)
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(60))
        .with_jitter(0.5);
    let tool = ServiceBuilder::new().layer(with_retry(config)).service(tool);

    let result = tool.oneshot(call_as(idempotent())).await;

    assert_eq!(result.unwrap_err(), ToolError::failed("upstream hiccup"), "the last error");
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 5, "stopped at max_attempts");
    let gaps = gaps(&attempts);
    for (k, gap) in gaps.iter().enumerate() {
        let base = Duration::from_millis(100) * 2u32.pow(k as u32);
        assert!(
            *gap >= base && *gap <= base.mul_f64(1.5) + TICK,
            "retry {}: {gap:?} outside [{base:?}, {:?}]",
            k + 1,
            base.mul_f64(1.5)
        );
    }
    for pair in gaps.windows(2) {
        assert!(pair[1] >= pair[0], "the backoff shrank: {gaps:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_stops_growing_at_max_delay() {
    let (tool, attempts) = recording_tool(always_failing);
    let config = RetryConfig::default()
        .with_max_attempts(5)
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_millis(250))
        .with_jitter(0.0);
    let tool = ServiceBuilder::new().layer(with_retry(config)).service(tool);

    let _ = tool.oneshot(call_as(idempotent())).await;

    let ms = |ms| Duration::from_millis(ms);
    assert_eq!(gaps(&attempts.lock().unwrap()), [ms(100), ms(200), ms(250), ms(250)]);
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_until_it_succeeds() {
    let (tool, attempts) = recording_tool(|n| {
        if n < 3 {
            Err(ToolError::failed("not yet"))
        } else {
            Ok(CallToolResult::success(vec![ContentBlock::text("third time")]))
        }
    });
    let tool = ServiceBuilder::new().layer(with_retry(RetryConfig::default())).service(tool);

    let result = tool.oneshot(call_as(idempotent())).await.unwrap();

    assert_eq!(result, CallToolResult::success(vec![ContentBlock::text("third time")]));
    assert_eq!(attempts.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_attempted_once() {
    let (tool, attempts) = recording_tool(always_failing);
    let tool = ServiceBuilder::new().layer(with_retry(RetryConfig::default())).service(tool);
    let not_idempotent = ToolContext::new(Principal::new("alice").unwrap());

    let result = tool.oneshot(call_as(not_idempotent)).await;

    assert!(result.is_err());
    assert_eq!(attempts.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_idempotent_call_is_retried_when_configured_to() {
    let (tool, attempts) = recording_tool(always_failing);
    let config = RetryConfig::default().with_max_attempts(3).with_retry_non_idempotent(true);
    let tool = ServiceBuilder::new().layer(with_retry(config)).service(tool);
    let not_idempotent = ToolContext::new(Principal::new("alice").unwrap());

    let _ = tool.oneshot(call_as(not_idempotent)).await;

    assert_eq!(attempts.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_error_is_not_retried() {
    let (tool, attempts) =
        recording_tool(|_| Err(ToolError::InvalidArguments("missing `query`".into())));
    let tool = ServiceBuilder::new().layer(with_retry(RetryConfig::default())).service(tool);

    let result = tool.oneshot(call_as(idempotent())).await;

    assert!(matches!(result, Err(ToolError::InvalidArguments(_))));
    assert_eq!(attempts.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_retryable_predicate_decides_what_is_retried() {
    let (tool, attempts) = recording_tool(always_failing);
    let config =
        RetryConfig::default().with_retryable(|error| matches!(error, ToolError::TimedOut { .. }));
    let tool = ServiceBuilder::new().layer(with_retry(config)).service(tool);

    let _ = tool.oneshot(call_as(idempotent())).await;

    assert_eq!(attempts.lock().unwrap().len(), 1, "`Failed` is not retryable here");
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_do_not_retry_in_lock_step() {
    // A long minimum delay gives the jitter a wide range (1000 s at 1 ms resolution), so two
    // equal draws are a one-in-a-million coincidence, not a flake to expect.
    let config = RetryConfig::default()
        .with_max_attempts(2)
        .with_min_delay(Duration::from_secs(1000))
        .with_max_delay(Duration::from_secs(10_000))
        .with_jitter(1.0);
    let layer = with_retry(config);
    let (first, first_attempts) = recording_tool(always_failing);
    let (second, second_attempts) = recording_tool(always_failing);
    let first = ServiceBuilder::new().layer(layer.clone()).service(first);
    let second = ServiceBuilder::new().layer(layer).service(second);

    let _ =
        tokio::join!(first.oneshot(call_as(idempotent())), second.oneshot(call_as(idempotent())));

    let first_gap = gaps(&first_attempts.lock().unwrap())[0];
    let second_gap = gaps(&second_attempts.lock().unwrap())[0];
    assert_ne!(first_gap, second_gap, "both calls drew the same jitter");
}

#[tokio::test(start_paused = true)]
async fn a_call_cancelled_during_backoff_is_not_attempted_again() {
    let (tool, attempts) = recording_tool(always_failing);
    let config = RetryConfig::default().with_min_delay(Duration::from_secs(10)).with_jitter(0.0);
    let tool = ServiceBuilder::new().layer(with_retry(config)).service(tool);
    let token = CancellationToken::new();

    let started = Instant::now();
    let pending =
        tokio::spawn(tool.oneshot(call_as(idempotent().with_cancellation(token.clone()))));
    tokio::time::sleep(Duration::from_secs(1)).await;
    token.cancel();
    let result = pending.await.unwrap();

    assert_eq!(result.unwrap_err(), ToolError::Cancelled);
    assert_eq!(attempts.lock().unwrap().len(), 1);
    assert_eq!(started.elapsed(), Duration::from_secs(1), "the backoff ended with the cancel");
}
