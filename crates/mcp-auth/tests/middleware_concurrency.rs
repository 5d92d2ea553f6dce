//! `with_concurrency_limit` bounds the calls of each user in flight, queues the rest of that
//! user's calls, leaves other users alone, and lets a cancelled caller leave the queue.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use mcp_auth::{
    Principal,
    middleware::with_concurrency_limit,
    tool::{ToolCall, ToolContext, ToolError},
};
use rmcp::model::CallToolResult;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

fn call_by(user: &str) -> ToolCall {
    ToolCall::new("t", serde_json::Map::new(), ToolContext::new(Principal::new(user).unwrap()))
}

/// Calls in flight now and at most, per user.
#[derive(Default)]
struct InFlight {
    now: HashMap<String, usize>,
    peak: HashMap<String, usize>,
    started: usize,
}

/// A tool whose calls by `alice` hold on until `release` turns true; other users' calls return
/// at once.
fn gated_tool(
    in_flight: Arc<Mutex<InFlight>>,
    release: watch::Receiver<bool>,
) -> impl Service<ToolCall, Response = CallToolResult, Error = ToolError, Future = impl Send>
+ Clone
+ Send
+ 'static {
    service_fn(move |call: ToolCall| {
        let (in_flight, mut release) = (in_flight.clone(), release.clone());
        async move {
            let user = call.context.user_id().to_owned();
            {
                let mut counts = in_flight.lock().unwrap();
                counts.started += 1;
                let now = counts.now.entry(user.clone()).or_default();
                *now += 1;
                let now = *now;
                let peak = counts.peak.entry(user.clone()).or_default();
                *peak = (*peak).max(now);
            }
            if user == "alice" {
                release.wait_for(|open| *open).await.ok();
            }
            *in_flight.lock().unwrap().now.get_mut(&user).unwrap() -= 1;
            Ok(CallToolResult::success(vec![]))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn one_users_calls_are_bounded_and_another_user_is_not_held_up() {
    let in_flight: Arc<Mutex<InFlight>> = Arc::default();
    let (open, release) = watch::channel(false);
    let tool = ServiceBuilder::new()
        .layer(with_concurrency_limit(2))
        .service(gated_tool(in_flight.clone(), release));

    let alice_calls: Vec<_> =
        (0..5).map(|_| tokio::spawn(tool.clone().oneshot(call_by("alice")))).collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(in_flight.lock().unwrap().now["alice"], 2, "two of alice's five calls run");

    let bob = tokio::time::timeout(Duration::from_secs(1), tool.clone().oneshot(call_by("bob")))
        .await
        .expect("bob waited behind alice");
    assert!(bob.is_ok());

    open.send(true).unwrap();
    for call in alice_calls {
        assert!(call.await.unwrap().is_ok(), "a queued call ran once a slot was free");
    }
    let counts = in_flight.lock().unwrap();
    assert_eq!(counts.peak["alice"], 2, "never more than two of alice's calls at once");
    assert_eq!(counts.started, 6);
}

#[tokio::test(start_paused = true)]
async fn a_caller_cancelled_while_queued_leaves_without_running() {
    let in_flight: Arc<Mutex<InFlight>> = Arc::default();
    let (open, release) = watch::channel(false);
    let tool = ServiceBuilder::new()
        .layer(with_concurrency_limit(1))
        .service(gated_tool(in_flight.clone(), release));
    let first = tokio::spawn(tool.clone().oneshot(call_by("alice")));
    tokio::time::sleep(Duration::from_millis(10)).await;

    let token = CancellationToken::new();
    let mut queued = call_by("alice");
    queued.context = queued.context.with_cancellation(token.clone());
    let queued = tokio::spawn(tool.clone().oneshot(queued));
    tokio::time::sleep(Duration::from_millis(10)).await;
    token.cancel();

    assert_eq!(queued.await.unwrap().unwrap_err(), ToolError::Cancelled);
    assert_eq!(in_flight.lock().unwrap().started, 1, "the cancelled call never started");
    open.send(true).unwrap();
    assert!(first.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn separately_built_layers_keep_separate_limits() {
    let in_flight: Arc<Mutex<InFlight>> = Arc::default();
    let (open, release) = watch::channel(false);
    let tool_a = ServiceBuilder::new()
        .layer(with_concurrency_limit(1))
        .service(gated_tool(in_flight.clone(), release.clone()));
    let tool_b = ServiceBuilder::new()
        .layer(with_concurrency_limit(1))
        .service(gated_tool(in_flight.clone(), release));

    let a = tokio::spawn(tool_a.oneshot(call_by("alice")));
    let b = tokio::spawn(tool_b.oneshot(call_by("alice")));
    tokio::time::sleep(Duration::from_millis(10)).await;

    assert_eq!(in_flight.lock().unwrap().now["alice"], 2);
    open.send(true).unwrap();
    assert!(a.await.unwrap().is_ok() && b.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn one_layer_shared_by_two_tools_bounds_the_user_across_both() {
    let in_flight: Arc<Mutex<InFlight>> = Arc::default();
    let (open, release) = watch::channel(false);
    let layer = with_concurrency_limit(1);
    let tool_a = ServiceBuilder::new()
        .layer(layer.clone())
        .service(gated_tool(in_flight.clone(), release.clone()));
    let tool_b = ServiceBuilder::new().layer(layer).service(gated_tool(in_flight.clone(), release));

    let a = tokio::spawn(tool_a.oneshot(call_by("alice")));
    let b = tokio::spawn(tool_b.oneshot(call_by("alice")));
    tokio::time::sleep(Duration::from_millis(10)).await;

    assert_eq!(in_flight.lock().unwrap().now["alice"], 1);
    open.send(true).unwrap();
    assert!(a.await.unwrap().is_ok() && b.await.unwrap().is_ok());
    assert_eq!(in_flight.lock().unwrap().peak["alice"], 1);
}
