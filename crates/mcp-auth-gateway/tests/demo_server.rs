//! The demo server driven by a real rmcp client, in process over `tokio::io::duplex`: the
//! identity it was built with, per-instance notes, progress, cancellation and argument bounds.
//!
//! The tests that watch `slow` run in paused time (`start_paused`): client and server talk over
//! an in-memory pipe, so the runtime only moves the clock when every task is waiting on a timer.
//! A virtual `sleep` therefore returns only once all in-flight messages have been handled, and
//! the tool's own pauses cost no real time.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use mcp_auth_gateway::demo::{DemoServer, SERVER_NAME};
use rmcp::{
    ClientHandler, RoleClient, ServiceError, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientRequest, ErrorCode, ProgressNotificationParam,
        Request,
    },
    service::{NotificationContext, PeerRequestOptions, RunningService},
};
use serde_json::{Value, json};

/// Records every progress notification the server sends, as the rmcp probe's client does.
#[derive(Clone, Default)]
struct RecordingClient {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl RecordingClient {
    fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.progress.lock().expect("progress lock").clone()
    }
}

impl ClientHandler for RecordingClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().expect("progress lock").push(params);
    }
}

type Client = RunningService<RoleClient, RecordingClient>;

/// Serves `server` on one end of an in-memory pipe and connects a recording client to the other.
async fn connect(server: DemoServer) -> (Client, RecordingClient) {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let recorder = RecordingClient::default();
    let client = recorder.clone().serve(client_io).await.expect("client handshake");
    (client, recorder)
}

fn params(name: &'static str, args: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match args {
        Value::Object(args) => params.with_arguments(args),
        _ => params,
    }
}

async fn call(client: &Client, name: &'static str, args: Value) -> String {
    let result = client.call_tool(params(name, args)).await.expect("tool call");
    assert_ne!(result.is_error, Some(true), "{name} failed: {result:?}");
    text_of(&result)
}

fn text_of(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|block| block.as_text()).map(|t| t.text.as_str()).collect()
}

/// Polls until `done` holds, failing the test after ten (virtual) seconds. Progress
/// notifications are handled on their own tasks, so they may land just after the response.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The highest step the server has reported.
fn steps_reached(recorder: &RecordingClient) -> u32 {
    recorder.progress().iter().map(|p| p.progress as u32).max().unwrap_or(0)
}

#[tokio::test]
async fn whoami_returns_the_user_the_instance_was_built_for() {
    let (client, _) = connect(DemoServer::new("alice".to_owned())).await;
    assert_eq!(call(&client, "whoami", json!({})).await, "alice");
}

#[tokio::test]
async fn server_info_names_the_demo_and_lists_its_five_tools() {
    let (client, _) = connect(DemoServer::new("alice".to_owned())).await;
    let info = client.peer_info().expect("server info after the handshake");
    let implementation = info.server_info.as_ref().expect("server implementation info");
    assert_eq!(implementation.name, SERVER_NAME);
    assert_eq!(implementation.version, env!("CARGO_PKG_VERSION"));
    assert!(info.capabilities.tools.is_some());
    assert!(info.instructions.as_deref().is_some_and(|i| i.contains("notes_add")));

    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["echo", "notes_add", "notes_list", "slow", "whoami"]);
}

#[tokio::test]
async fn notes_are_kept_per_instance_and_listed_one_per_line() {
    let (alice, _) = connect(DemoServer::new("alice".to_owned())).await;
    let (bob, _) = connect(DemoServer::new("bob".to_owned())).await;

    assert_eq!(call(&alice, "notes_list", json!({})).await, "no notes");
    assert_eq!(call(&alice, "notes_add", json!({"text": "buy milk"})).await, "note 1 saved");
    assert_eq!(call(&alice, "notes_add", json!({"text": "call bob"})).await, "note 2 saved");
    assert_eq!(call(&bob, "notes_add", json!({"text": "bob's own"})).await, "note 1 saved");

    assert_eq!(call(&alice, "notes_list", json!({})).await, "buy milk\ncall bob");
    assert_eq!(call(&bob, "notes_list", json!({})).await, "bob's own");
}

#[tokio::test]
async fn two_instances_for_the_same_user_do_not_share_notes() {
    let (first, _) = connect(DemoServer::new("alice".to_owned())).await;
    let (second, _) = connect(DemoServer::new("alice".to_owned())).await;
    call(&first, "notes_add", json!({"text": "only in the first"})).await;
    assert_eq!(call(&second, "notes_list", json!({})).await, "no notes");
}

#[tokio::test(start_paused = true)]
async fn slow_reports_each_step_as_progress_and_returns_done() {
    let (client, recorder) = connect(DemoServer::new("alice".to_owned())).await;

    let result = call(&client, "slow", json!({"steps": 3, "delay_ms": 10})).await;
    assert_eq!(result, "done");

    eventually("3 progress notifications", || recorder.progress().len() >= 3).await;
    // Paused time: this returns once every task is idle, so a stray fourth notification would
    // have landed by now.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut progress = recorder.progress();
    assert_eq!(progress.len(), 3, "{progress:?}");
    // Each notification is handled on its own task, so arrival order is not guaranteed.
    progress.sort_by(|a, b| a.progress.total_cmp(&b.progress));
    for (step, p) in (1..=3).zip(&progress) {
        assert_eq!(p.progress, f64::from(step));
        assert_eq!(p.total, Some(3.0));
        assert_eq!(p.message.as_deref(), Some(format!("step {step}").as_str()));
    }
    assert!(progress.windows(2).all(|w| w[0].progress_token == w[1].progress_token));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_slow_call_stops_the_tool() {
    let (client, recorder) = connect(DemoServer::new("alice".to_owned())).await;
    let peer = client.peer().clone();
    let call = tokio::spawn(async move {
        peer.call_tool(params("slow", json!({"steps": 1000, "delay_ms": 50}))).await
    });

    eventually("the first two steps", || steps_reached(&recorder) >= 2).await;
    // Aborting drops the call future; rmcp then sends notifications/cancelled for it.
    call.abort();
    assert!(call.await.is_err_and(|err| err.is_cancelled()));

    assert_progress_stops(&recorder).await;
    // The instance is still usable after the cancellation.
    assert_eq!(call_echo(&client).await, "still here");
}

#[tokio::test(start_paused = true)]
async fn an_explicit_cancel_notification_stops_a_slow_call() {
    let (client, recorder) = connect(DemoServer::new("alice".to_owned())).await;
    let request = ClientRequest::CallToolRequest(Request::new(params(
        "slow",
        json!({"steps": 1000, "delay_ms": 50}),
    )));
    let handle = client
        .send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .expect("send tools/call");

    eventually("the first two steps", || steps_reached(&recorder) >= 2).await;
    handle.cancel(Some("test cancels".to_owned())).await.expect("send notifications/cancelled");

    assert_progress_stops(&recorder).await;
    assert_eq!(call_echo(&client).await, "still here");
}

/// Proves the tool stopped: once in-flight notifications have landed, no further step is
/// reported over a window in which an uncancelled run would report a hundred more. Runs in
/// paused time (see the module docs): the clock moves only when every task is idle, so neither
/// wait depends on how busy the machine is.
async fn assert_progress_stops(recorder: &RecordingClient) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    let after_cancel = steps_reached(recorder);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = steps_reached(recorder);
    assert_eq!(after_cancel, later, "the tool kept reporting steps after the cancellation");
    assert!(later < 20, "the tool ran {later} steps; cancellation was not prompt");
}

async fn call_echo(client: &Client) -> String {
    call(client, "echo", json!({"text": "still here"})).await
}

#[tokio::test]
async fn echo_returns_its_text() {
    let (client, _) = connect(DemoServer::new("alice".to_owned())).await;
    assert_eq!(call(&client, "echo", json!({"text": "héllo, wörld"})).await, "héllo, wörld");
}

#[tokio::test]
async fn slow_refuses_out_of_range_arguments_with_invalid_params() {
    let (client, recorder) = connect(DemoServer::new("alice".to_owned())).await;
    for args in [
        json!({"steps": 0, "delay_ms": 10}),
        json!({"steps": 1001, "delay_ms": 10}),
        json!({"steps": 3, "delay_ms": 60_001}),
    ] {
        match client.call_tool(params("slow", args.clone())).await {
            Err(ServiceError::McpError(err)) => {
                assert_eq!(err.code, ErrorCode::INVALID_PARAMS, "{args}: {err:?}");
            }
            other => panic!("{args} was not refused: {other:?}"),
        }
    }
    assert!(recorder.progress().is_empty());
}

#[tokio::test]
async fn slow_reports_arguments_of_the_wrong_type_as_a_tool_error() {
    // rmcp 3.11 turns a failure to deserialize the arguments into a result with
    // `isError: true` (MCP 2025-11-25: input validation errors are tool execution errors),
    // before our code runs.
    let (client, recorder) = connect(DemoServer::new("alice".to_owned())).await;
    for args in [json!({"steps": -1, "delay_ms": 10}), json!({"steps": 3})] {
        let result = client.call_tool(params("slow", args.clone())).await;
        assert!(
            matches!(&result, Ok(result) if result.is_error == Some(true)),
            "{args}: {result:?}"
        );
    }
    assert!(recorder.progress().is_empty());
}

#[tokio::test]
async fn notes_add_refuses_a_note_longer_than_the_limit() {
    let (client, _) = connect(DemoServer::new("alice".to_owned())).await;
    let long = "x".repeat(mcp_auth_gateway::demo::MAX_NOTE_BYTES + 1);
    let result = client.call_tool(params("notes_add", json!({ "text": long }))).await;
    assert!(
        matches!(&result, Err(ServiceError::McpError(err)) if err.code == ErrorCode::INVALID_PARAMS),
        "{result:?}"
    );
    assert_eq!(call(&client, "notes_list", json!({})).await, "no notes");
}
