//! The stack documented in `mcp_auth::middleware`, outermost first — logging, rate limit,
//! concurrency limit, timeout, retry — behaves as its order promises:
//!
//! * the timeout, outside the retry, bounds the whole retry loop (backoff included);
//! * logging, outermost, records the rejections of the layers under it (a timeout, a rate
//!   limit) and the retries happen inside its span;
//! * a call refused by the rate limit never reaches the tool.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use mcp_auth::{
    Principal,
    middleware::{
        LoggingConfig, RateLimitConfig, RetryConfig, with_concurrency_limit, with_logging,
        with_rate_limit, with_retry, with_timeout,
    },
    tool::{ToolCall, ToolContext, ToolError, ToolService},
};
use rmcp::model::CallToolResult;
use support::log_capture::capture_logs;
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const DEADLINE: Duration = Duration::from_secs(1);

fn idempotent_call() -> ToolCall {
    let context = ToolContext::new(Principal::new("alice").unwrap()).with_idempotent(true);
    ToolCall::new("flaky", serde_json::Map::new(), context)
}

/// A tool that always fails transiently, counting its attempts.
fn always_failing(attempts: Arc<AtomicUsize>) -> ToolService {
    ToolService::new(service_fn(move |_call: ToolCall| {
        attempts.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Err::<CallToolResult, _>(ToolError::failed("upstream hiccup")))
    }))
}

/// The documented stack around `tool`.
fn stack(
    tool: ToolService,
    rate_limit: RateLimitConfig,
) -> impl Service<ToolCall, Response = CallToolResult, Error = ToolError> {
    ServiceBuilder::new()
        .layer(with_logging(LoggingConfig::default()))
        .layer(with_rate_limit(rate_limit))
        .layer(with_concurrency_limit(4))
        .layer(with_timeout(DEADLINE))
        .layer(with_retry(
            RetryConfig::default()
                .with_max_attempts(100)
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(10))
                .with_jitter(0.0),
        ))
        .service(tool)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_timeout_bounds_the_whole_retry_loop_and_logging_records_it() {
    let (logs, _guard) = capture_logs();
    let attempts = Arc::new(AtomicUsize::new(0));
    let tool = stack(always_failing(attempts.clone()), RateLimitConfig::per_second(100));

    let started = Instant::now();
    let result = tool.oneshot(idempotent_call()).await;

    assert_eq!(result.unwrap_err(), ToolError::TimedOut { after: DEADLINE });
    assert_eq!(started.elapsed(), DEADLINE, "the deadline, not 100 attempts' worth of backoff");
    // Attempts at 0, 100, 300 and 700 ms; the next would be at 1500 ms.
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    let logs = logs.text();
    assert!(logs.contains(r#"outcome="timed_out""#), "logging saw the timeout:\n{logs}");
    let retries: Vec<_> = logs.lines().filter(|l| l.contains("retrying tool call")).collect();
    let alice = mcp_auth::UserIdLogging::default().tag("alice").to_string();
    // Four retries scheduled; the fourth one's backoff (800 ms from 700 ms) is cut by the deadline.
    assert_eq!(retries.len(), 4, "{logs}");
    assert!(
        retries.iter().all(|l| l.contains(&format!("tool.call{{user={alice} tool=flaky}}"))),
        "the retries happen inside the logging span:\n{logs}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_rate_limited_call_is_logged_and_never_reaches_the_tool() {
    let (logs, _guard) = capture_logs();
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut tool = stack(
        ToolService::new(service_fn({
            let attempts = attempts.clone();
            move |_call: ToolCall| {
                attempts.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Ok::<_, ToolError>(CallToolResult::success(vec![])))
            }
        })),
        RateLimitConfig::per_minute(1).with_burst(1),
    );

    let first = tool.ready().await.unwrap().call(idempotent_call()).await;
    let second = tool.ready().await.unwrap().call(idempotent_call()).await;

    assert!(first.is_ok());
    assert!(matches!(second, Err(ToolError::RateLimited { .. })), "{second:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "the refused call did not reach the tool");
    let logs = logs.text();
    assert!(logs.contains(r#"outcome="ok""#), "{logs}");
    assert!(logs.contains(r#"outcome="rate_limited""#), "logging saw the refusal:\n{logs}");
}
