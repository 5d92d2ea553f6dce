//! `mcp-auth serve` wrapping a stdio server — `mcp-auth demo --stdio`, a real child per user —
//! driven by a real rmcp client over Streamable HTTP: each user's own child, progress with the
//! caller's token, cancellation reaching the child, a killed child, and no process left behind.

mod support;

use std::time::Duration;

use rmcp::{
    model::{
        CallToolRequestParams, ClientRequest, NumberOrString, ProgressToken, Request,
        RequestMetaObject,
    },
    service::PeerRequestOptions,
};
use serde_json::json;
use support::{
    gateway::{Gateway, demo_stdio_config, text},
    procs::{assert_all_gone, cmdline, descendants, wait_until},
};

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let serde_json::Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    params
}

/// The pids of the demo servers (not the supervisors) under the gateway.
fn demo_children(gateway: &Gateway) -> Vec<u32> {
    descendants(gateway.pid())
        .into_iter()
        .filter(|&pid| {
            cmdline(pid).contains("demo --stdio") && !cmdline(pid).contains("__supervise")
        })
        .collect()
}

#[tokio::test]
async fn each_user_gets_their_own_child_and_nobody_elses_data() {
    let gateway = Gateway::start(&demo_stdio_config("")).await;
    let (alice, _) = gateway.client("alice").await;
    let (bob, _) = gateway.client("bob").await;

    let who = alice.call_tool(call("whoami", json!({}))).await.unwrap();
    assert_eq!(text(&who), "alice");
    let who = bob.call_tool(call("whoami", json!({}))).await.unwrap();
    assert_eq!(text(&who), "bob");

    alice.call_tool(call("notes_add", json!({"text": "alice's secret plan"}))).await.unwrap();
    let bobs = bob.call_tool(call("notes_list", json!({}))).await.unwrap();
    assert!(!text(&bobs).contains("secret plan"), "bob sees: {}", text(&bobs));
    let alices = alice.call_tool(call("notes_list", json!({}))).await.unwrap();
    assert!(text(&alices).contains("alice's secret plan"), "alice sees: {}", text(&alices));

    assert_eq!(
        demo_children(&gateway).len(),
        2,
        "one child per user: {:?}",
        descendants(gateway.pid())
    );
}

#[tokio::test]
async fn progress_carries_the_callers_token_and_a_cancel_stops_the_child() {
    let gateway = Gateway::start(&demo_stdio_config("")).await;
    let (client, recorder) = gateway.client("carol").await;
    let handle = start_slow(&client).await;
    let progressed =
        wait_until(Duration::from_secs(20), || recorder.progress.lock().unwrap().len() >= 2).await;
    assert!(progressed, "no progress reached the caller");
    for progress in recorder.progress.lock().unwrap().iter() {
        // rmcp's client replaced our token with its own on the wire; the gateway must map the
        // upstream's token back to exactly the one the client sent.
        assert_eq!(progress.progress_token, handle.progress_token);
    }
    handle.cancel(Some("enough".into())).await.unwrap();
    let stopped =
        wait_until(Duration::from_secs(20), || gateway.logs().contains("slow cancelled")).await;
    assert!(stopped, "the child never saw the cancellation; logs:\n{}", gateway.logs());
}

#[tokio::test]
async fn a_child_killed_mid_call_fails_that_call_and_the_next_call_works() {
    let gateway = Gateway::start(&demo_stdio_config("")).await;
    let (client, recorder) = gateway.client("dave").await;
    assert_eq!(text(&client.call_tool(call("whoami", json!({}))).await.unwrap()), "dave");
    let children = demo_children(&gateway);
    assert_eq!(children.len(), 1);

    let handle = start_slow(&client).await;
    // The call is in flight once its first progress arrives: kill the child then.
    let in_flight =
        wait_until(Duration::from_secs(20), || !recorder.progress.lock().unwrap().is_empty()).await;
    assert!(in_flight, "the slow call never reported progress");
    // SAFETY: kill(2) on a pid read from /proc, a child of our gateway.
    unsafe { libc::kill(children[0] as i32, libc::SIGKILL) };
    let answer = tokio::time::timeout(Duration::from_secs(20), handle.await_response())
        .await
        .expect("an answer, not a hang");
    let error = answer.expect_err("the call whose child died must fail");
    assert!(error.to_string().contains("exited before answering"), "{error}");

    assert_eq!(text(&client.call_tool(call("whoami", json!({}))).await.unwrap()), "dave");
    assert_all_gone(&children, Duration::from_secs(10)).await;
    assert_eq!(demo_children(&gateway).len(), 1, "a fresh child for the next call");
}

/// Starts a long `slow` call with a progress token; returns its handle.
async fn start_slow(
    client: &support::gateway::Client,
) -> rmcp::service::RequestHandle<rmcp::RoleClient> {
    let mut options = PeerRequestOptions::no_options();
    options.meta =
        Some(RequestMetaObject::with_progress_token(ProgressToken(NumberOrString::Number(7))));
    let request = ClientRequest::CallToolRequest(Request::new(call(
        "slow",
        json!({"steps": 100, "delay_ms": 50}),
    )));
    client.send_request_with_option(request, options).await.unwrap()
}

#[tokio::test]
async fn sigterm_drains_and_leaves_no_process() {
    let mut gateway = Gateway::start(&demo_stdio_config("")).await;
    for user in ["erin", "frank"] {
        let (client, _) = gateway.client(user).await;
        assert_eq!(text(&client.call_tool(call("whoami", json!({}))).await.unwrap()), user);
    }
    let tree = descendants(gateway.pid());
    assert!(tree.len() >= 4, "two supervisors and two servers: {tree:?}");
    gateway.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), gateway.child.wait())
        .await
        .expect("the gateway exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_all_gone(&tree, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn kill_9_of_the_gateway_leaves_no_process() {
    let mut gateway = Gateway::start(&demo_stdio_config("")).await;
    let (client, _) = gateway.client("grace").await;
    assert_eq!(text(&client.call_tool(call("whoami", json!({}))).await.unwrap()), "grace");
    let tree = descendants(gateway.pid());
    assert!(tree.len() >= 2, "{tree:?}");
    gateway.signal(libc::SIGKILL);
    let _ = gateway.child.wait().await;
    assert_all_gone(&tree, Duration::from_secs(10)).await;
}
