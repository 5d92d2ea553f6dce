//! `with_timeout` stops the work it gives up on: the handler's future is dropped, its
//! cancellation token fires, and the caller gets `TimedOut` at the deadline, not later.
//!
//! Time is virtual (`start_paused`), so the deadlines are exact.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use mcp_auth::{
    Principal,
    middleware::with_timeout,
    tool::{ToolCall, ToolContext, ToolError},
};
use rmcp::model::{CallToolResult, ContentBlock};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::{ServiceBuilder, ServiceExt, service_fn};

const LIMIT: Duration = Duration::from_millis(100);

fn call_as(context: ToolContext) -> ToolCall {
    ToolCall::new("t", serde_json::Map::new(), context)
}

fn alice() -> ToolContext {
    ToolContext::new(Principal::new("alice").unwrap())
}

fn done() -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text("done")])
}

/// Sets its flag when dropped: proof that the future holding it was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_drops_the_handler_and_cancels_its_token() {
    let dropped = Arc::new(AtomicBool::new(false));
    let handler_token: Arc<Mutex<Option<CancellationToken>>> = Arc::default();
    let tool = ServiceBuilder::new().layer(with_timeout(LIMIT)).service(service_fn({
        let (dropped, handler_token) = (dropped.clone(), handler_token.clone());
        move |call: ToolCall| {
            let dropped = dropped.clone();
            *handler_token.lock().unwrap() = Some(call.context.cancellation().clone());
            async move {
                let _guard = DropFlag(dropped);
                // Never looks at its token: only dropping the future stops it.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, ToolError>(done())
            }
        }
    }));
    let caller_token = CancellationToken::new();

    let started = Instant::now();
    let result = tool.oneshot(call_as(alice().with_cancellation(caller_token.clone()))).await;

    assert_eq!(result.unwrap_err(), ToolError::TimedOut { after: LIMIT });
    assert_eq!(started.elapsed(), LIMIT, "the caller heard at the deadline");
    assert!(dropped.load(Ordering::SeqCst), "the handler's future was dropped");
    let handler_token = handler_token.lock().unwrap().clone().unwrap();
    assert!(handler_token.is_cancelled(), "the handler's token was cancelled");
    // A child token: the caller's own token stays usable (a retry layer around it goes on).
    assert!(!caller_token.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn work_the_handler_spawned_with_its_token_is_told_to_stop() {
    let noticed = Arc::new(AtomicBool::new(false));
    let tool = ServiceBuilder::new().layer(with_timeout(LIMIT)).service(service_fn({
        let noticed = noticed.clone();
        move |call: ToolCall| {
            let noticed = noticed.clone();
            async move {
                let token = call.context.cancellation().clone();
                let background = tokio::spawn(async move {
                    tokio::select! {
                        () = token.cancelled() => noticed.store(true, Ordering::SeqCst),
                        () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    }
                });
                background.await.ok();
                Ok::<_, ToolError>(done())
            }
        }
    }));

    let result = tool.oneshot(call_as(alice())).await;

    assert!(matches!(result, Err(ToolError::TimedOut { .. })));
    // Let the spawned task run once more.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(noticed.load(Ordering::SeqCst), "the spawned work saw the cancellation");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_finishes_in_time_keeps_its_result_and_its_token() {
    let handler_token: Arc<Mutex<Option<CancellationToken>>> = Arc::default();
    let tool = ServiceBuilder::new().layer(with_timeout(LIMIT)).service(service_fn({
        let handler_token = handler_token.clone();
        move |call: ToolCall| {
            *handler_token.lock().unwrap() = Some(call.context.cancellation().clone());
            async move {
                tokio::time::sleep(LIMIT / 2).await;
                Ok::<_, ToolError>(done())
            }
        }
    }));

    let result = tool.oneshot(call_as(alice())).await.unwrap();

    assert_eq!(result, done());
    assert!(!handler_token.lock().unwrap().clone().unwrap().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_client_cancellation_still_reaches_the_handler() {
    let tool = ServiceBuilder::new().layer(with_timeout(LIMIT)).service(service_fn(
        |call: ToolCall| async move {
            call.context.cancellation().cancelled().await;
            Err::<CallToolResult, _>(ToolError::Cancelled)
        },
    ));
    let caller_token = CancellationToken::new();
    let call = call_as(alice().with_cancellation(caller_token.clone()));

    let started = Instant::now();
    let pending = tokio::spawn(tool.oneshot(call));
    tokio::time::sleep(LIMIT / 4).await;
    caller_token.cancel();
    let result = pending.await.unwrap();

    assert_eq!(result.unwrap_err(), ToolError::Cancelled);
    assert_eq!(started.elapsed(), LIMIT / 4, "cancelled at once, not at the deadline");
}
