//! Idle 2025-era sessions hibernate: after `session_hibernate_after` with nothing in flight their
//! rmcp worker stops and only their record stays; the owner's next request restores them
//! unnoticed, another user's is a 404, a request in flight or an open stream keeps a session
//! running, and a session unused for `session_idle_timeout` is forgotten.

mod support;

use std::time::Duration;

use mcp_auth::Limits;
use serde_json::{Value, json};
use support::{DEADLINE, app::*, poll_until};

const HIBERNATE_AFTER: Duration = Duration::from_millis(200);

async fn app_with(limits: Limits) -> App {
    App::start(|b| b.limits(limits)).await
}

fn hibernating() -> Limits {
    Limits::default().with_session_hibernate_after(HIBERNATE_AFTER)
}

async fn running_sessions(app: &App) -> u64 {
    app.server.stats().await.running_sessions
}

async fn until_running(app: &App, what: &str, running: u64) {
    poll_until(what, DEADLINE, async || (running_sessions(app).await == running).then_some(()))
        .await;
}

/// The text of a JSON-RPC answer sent as JSON or as the last event of an SSE stream.
async fn answer_text(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap();
    let json = body.lines().rev().find_map(|l| l.strip_prefix("data:")).unwrap_or(&body);
    let answer: Value = serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    answer["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned()
}

#[tokio::test]
async fn a_hibernated_session_restores_for_its_owner_and_is_404_to_another_user() {
    let app = app_with(hibernating()).await;
    let http = reqwest::Client::new();
    let (alice, mallory) = (token_for("alice"), token_for("mallory"));
    let session = open_session(&http, &app.url, &alice).await;
    assert_eq!(running_sessions(&app).await, 1);

    until_running(&app, "the idle session to hibernate", 0).await;
    let stats = app.server.stats().await;
    assert_eq!(stats.sessions, 1, "a hibernated session is still open");

    // Another user cannot restore it: 404, and it stays hibernated.
    let hijack = whoami_in_session(&http, &app.url, &mallory, &session).await;
    assert_eq!(hijack.status(), 404);
    let body: Value = hijack.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Session not found");
    assert_eq!(running_sessions(&app).await, 0);

    // Its owner's next request is answered as if nothing happened.
    let response = whoami_in_session(&http, &app.url, &alice, &session).await;
    assert_eq!(response.status(), 200);
    assert_eq!(answer_text(response).await, "alice alice");
    assert_eq!(running_sessions(&app).await, 1, "restored");

    // And it hibernates again, and restores again.
    until_running(&app, "the session to hibernate again", 0).await;
    let response = whoami_in_session(&http, &app.url, &alice, &session).await;
    assert_eq!(answer_text(response).await, "alice alice");
}

#[tokio::test]
async fn a_call_in_flight_keeps_its_session_running_however_quiet_it_is() {
    let app = app_with(hibernating()).await;
    let http = reqwest::Client::new();
    let alice = token_for("alice");
    let session = open_session(&http, &app.url, &alice).await;
    // Ten hibernation periods without a message, then the result.
    let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"slow","arguments":{"steps":1,"delay_ms":2000}}});
    let response = in_session(http.post(&app.url), &alice, &session).json(&call).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(answer_text(response).await, "done");
}

#[tokio::test]
async fn an_open_get_stream_keeps_its_session_running() {
    let app = app_with(hibernating()).await;
    let http = reqwest::Client::new();
    let alice = token_for("alice");
    let listening = open_session(&http, &app.url, &alice).await;
    let quiet = open_session(&http, &app.url, &alice).await;
    let stream = in_session(http.get(&app.url), &alice, &listening)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // The sweep that hibernates the quiet session passes the listening one by.
    until_running(&app, "the quiet session to hibernate", 1).await;
    let response = whoami_in_session(&http, &app.url, &alice, &quiet).await;
    assert_eq!(answer_text(response).await, "alice alice");
    assert_eq!(running_sessions(&app).await, 2, "the listening one never stopped");
    drop(stream);
}

#[tokio::test]
async fn a_session_unused_past_the_idle_timeout_is_forgotten() {
    let limits = hibernating().with_session_idle_timeout(Duration::from_millis(500));
    let app = app_with(limits).await;
    let http = reqwest::Client::new();
    let alice = token_for("alice");
    let session = open_session(&http, &app.url, &alice).await;
    // Counted, not used: a request would keep it.
    poll_until("the session to be forgotten", DEADLINE, async || {
        (app.server.stats().await.sessions == 0).then_some(())
    })
    .await;
    let response = whoami_in_session(&http, &app.url, &alice, &session).await;
    assert_eq!(response.status(), 404);
    until_running(&app, "the forgotten session's worker to stop", 0).await;
}

#[tokio::test]
async fn hibernated_sessions_count_against_the_users_cap() {
    let app = app_with(hibernating().with_max_sessions_per_user(2)).await;
    let http = reqwest::Client::new();
    let alice = token_for("alice");
    for _ in 0..2 {
        open_session(&http, &app.url, &alice).await;
    }
    until_running(&app, "both sessions to hibernate", 0).await;
    let third = initialize(&http, &app.url, &alice).await;
    assert_eq!(third.status(), 429);
    // Another user is not affected.
    open_session(&http, &app.url, &token_for("bob")).await;
}

#[tokio::test]
async fn a_per_session_instance_does_not_hibernate_and_keeps_its_state() {
    use mcp_auth::instances::{InstanceMode, InstanceOptions};
    let app = App::start(|b| {
        b.limits(hibernating())
            .instances(InstanceOptions::default().with_mode(InstanceMode::PerSession))
    })
    .await;
    let http = reqwest::Client::new();
    let alice = token_for("alice");
    let session = open_session(&http, &app.url, &alice).await;
    let add = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
        "params":{"name":"notes_add","arguments":{"text":"kept"}}});
    let response = in_session(http.post(&app.url), &alice, &session).json(&add).send().await;
    assert_eq!(response.unwrap().status(), 200);
    // Time passing is what is tested: twenty sweeps, five hibernation periods (a sweep runs
    // every quarter of one). A session of a per-user instance would have hibernated by now
    // (the tests above); this one's instance would go with its worker, so it keeps running.
    let sweeps = app.server.stats().await.sweeps;
    poll_until("twenty sweeps", DEADLINE, async || {
        (app.server.stats().await.sweeps >= sweeps + 20).then_some(())
    })
    .await;
    assert_eq!(running_sessions(&app).await, 1);
    let list = json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
        "params":{"name":"notes_list","arguments":{}}});
    let response = in_session(http.post(&app.url), &alice, &session).json(&list).send().await;
    assert_eq!(answer_text(response.unwrap()).await, "kept");
}
