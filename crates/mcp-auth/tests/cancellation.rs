//! Cancellation reaches the handler: the client's `notifications/cancelled` (sessions), or
//! closing the response stream (2026-07-28), stops a running `slow` call.

mod support;

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::json;
use support::app::*;

/// Asserts that the step counter stops moving (a running call makes a step every 20 ms).
async fn assert_stopped(steps: &std::sync::atomic::AtomicU32) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = steps.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = steps.load(Ordering::SeqCst);
    assert!(after <= before + 1, "the tool kept running: {before} → {after} steps");
    assert!(after < 100, "the tool ran to completion");
}

#[tokio::test]
async fn a_cancelled_notification_stops_the_tool() {
    let app = App::start(|b| b).await;
    let (alice, _) = app.client("alice").await;
    let steps = app.observed.steps_of("alice");
    let peer = alice.peer().clone();
    let call = tokio::spawn(async move {
        peer.call_tool(call_params("slow", json!({ "steps": 100, "delay_ms": 20 }))).await
    });
    eventually("the tool to start", || steps.load(Ordering::SeqCst) >= 2).await;
    // Dropping rmcp's call future sends `notifications/cancelled` for the request.
    call.abort();
    assert_stopped(&steps).await;
    // The session is still usable.
    assert_eq!(call_text(&alice).await, "still here");
}

async fn call_text(client: &Client) -> String {
    call(client, "echo", json!({ "text": "still here" })).await
}

#[tokio::test]
async fn closing_a_stateless_response_stream_stops_the_tool() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "slow", json!({ "steps": 100, "delay_ms": 20 }), Some("p"));
    let response = stateless_request(&http, &app.url, Some(&token_for("bob")), "slow", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = SseReader::new(response);
    let mut progress_seen = 0;
    while progress_seen < 2 {
        let (_, data) = events.next().await.expect("progress events");
        if data.contains("notifications/progress") {
            progress_seen += 1;
        }
    }
    drop(events);
    assert_stopped(&app.observed.steps_of("bob")).await;
}
