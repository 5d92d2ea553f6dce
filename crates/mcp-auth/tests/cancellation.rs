//! Cancellation reaches the handler: the client's `notifications/cancelled` (sessions), or
//! closing the response stream (2026-07-28), stops a running `slow` call.

mod support;

use std::{future::ready, sync::atomic::Ordering};

use serde_json::json;
use support::{DEADLINE, app::*, poll_until, server::Observed};

/// Waits until `user`'s `slow` call has seen its cancellation and returned early. A call that is
/// never cancelled runs all its 100 steps (2 s) and returns "done" without counting one, so the
/// wait fails at the deadline.
async fn assert_stopped(observed: &Observed, user: &str) {
    let cancelled = observed.cancellations_of(user);
    poll_until("the tool to see the cancellation", DEADLINE, || {
        ready((cancelled.load(Ordering::SeqCst) > 0).then_some(()))
    })
    .await;
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    let steps = observed.steps_of(user).load(Ordering::SeqCst);
    assert!(steps < 100, "the tool ran to completion ({steps} steps)");
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
    assert_stopped(&app.observed, "alice").await;
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
    assert_stopped(&app.observed, "bob").await;
}
