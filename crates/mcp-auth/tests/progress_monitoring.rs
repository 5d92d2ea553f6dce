//! The original's progress monitoring, done right: `{base}/progress/stats` shows the caller's
//! own streams and only counts of everyone else's; `{base}/progress/metrics` shows every
//! stream, to holders of the admin scope only; a stream lasts as long as its response.

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::progress::ProgressOptions;
use serde_json::{Value, json};
use support::{
    app::{App, SseReader, in_session, open_session, stateless_call, stateless_request, token_for},
    now, sign,
};

const ADMIN: &str = "mcp-auth:admin";

fn admin_token() -> String {
    sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({ "sub": "ops", "exp": now() + 3600, "scope": ADMIN }),
    )
}

/// Starts `user`'s `hold` call (2026-07-28) with progress token `token` and returns its stream
/// once the first progress event has arrived, with that event's data.
async fn hold(app: &App, user: &str, token: &str) -> (SseReader, String) {
    let http = reqwest::Client::new();
    let body = stateless_call(1, "hold", json!({}), Some(token));
    let response = stateless_request(&http, &app.url, Some(&token_for(user)), "hold", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = SseReader::new(response);
    let (_, data) = events.next().await.expect("the progress event");
    assert!(data.contains("notifications/progress"), "{data}");
    (events, data)
}

async fn get(
    app: &App,
    path: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

async fn stats(app: &App, user: &str) -> Value {
    let (status, headers, body) = get(app, "/progress/stats", Some(&token_for(user))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn stats_show_the_callers_own_streams_and_only_counts_of_the_others() {
    let app = App::start(|b| b).await;
    // Both users pick the same token: streams are keyed apart all the same.
    let (alice_stream, alice_event) = hold(&app, "alice", "same").await;
    let (_bob_stream, _) = hold(&app, "bob", "same").await;

    let text = serde_json::to_string(&stats(&app, "alice").await).unwrap();
    let seen: Value = serde_json::from_str(&text).unwrap();
    let user = &seen["user"];
    assert_eq!(user["userId"], "alice");
    assert_eq!(user["activeStreams"], 1);
    assert_eq!(user["totalMessages"], 1);
    // The whole SSE event: `data: ` + the message + the blank line, at least.
    let bytes = user["totalBytes"].as_u64().unwrap();
    assert!(bytes > alice_event.len() as u64, "{bytes} vs {}", alice_event.len());
    assert!(user["oldestStreamAge"].is_u64());
    assert_eq!(
        seen["global"],
        json!({"activeStreams":2,"totalMessages":2,"userCount":2,"untracked":0})
    );
    assert!(!text.contains("bob"), "another user's id leaked: {text}");
    assert!(!text.contains("same"), "a token leaked: {text}");

    // The stream ends with its response: the client going away ends it.
    drop(alice_stream);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = stats(&app, "alice").await;
        if now["user"]["activeStreams"] == 0 {
            assert_eq!(now["global"]["activeStreams"], 1, "bob's is still open");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "alice's stream never ended: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.observed.release.notify_waiters();
}

#[tokio::test]
async fn a_session_era_call_is_a_stream_until_answered() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let token = token_for("carol");
    let session = open_session(&http, &app.url, &token).await;
    let call = json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
        "params":{"name":"hold","arguments":{},"_meta":{"progressToken":0}}});
    let response = in_session(http.post(&app.url), &token, &session).json(&call).send().await;
    let mut events = SseReader::new(response.unwrap());
    let (_, data) = events.next().await.unwrap();
    assert!(data.contains("notifications/progress"), "{data}");
    let now = stats(&app, "carol").await;
    assert_eq!(
        (now["user"]["activeStreams"].as_u64(), now["user"]["totalMessages"].as_u64()),
        (Some(1), Some(1))
    );

    app.observed.release.notify_waiters();
    let (_, answer) = events.next().await.unwrap();
    assert!(answer.contains("released"), "{answer}");
    assert!(events.next().await.is_none(), "the answer ends the response");
    assert_eq!(stats(&app, "carol").await["user"]["activeStreams"], 0);
}

#[tokio::test]
async fn a_legacy_sse_request_is_a_stream_until_its_answer_passes() {
    let app = App::start(|b| b).await;
    let token = token_for("dave");
    let (mut events, endpoint) = app.legacy_sse(&token).await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).bearer_auth(&token).json(&body).send();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    events.next().await.expect("the initialize answer");
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(post(initialized).await.unwrap().status(), 202);

    // Token and id as a client picks them: the id 0 is an id, and only its answer ends it.
    let call = json!({"jsonrpc":"2.0","id":0,"method":"tools/call",
        "params":{"name":"hold","arguments":{},"_meta":{"progressToken":"legacy-1"}}});
    assert_eq!(post(call).await.unwrap().status(), 202);
    let (_, data) = events.next().await.unwrap();
    assert!(data.contains("notifications/progress"), "{data}");
    let now = stats(&app, "dave").await;
    assert_eq!(now["user"]["activeStreams"], 1);
    assert_eq!(now["user"]["totalMessages"], 1);
    assert_eq!(now["user"]["totalBytes"], data.len());

    app.observed.release.notify_waiters();
    let (_, answer) = events.next().await.unwrap();
    assert!(answer.contains("released"), "{answer}");
    assert_eq!(stats(&app, "dave").await["user"]["activeStreams"], 0);
}

#[tokio::test]
async fn metrics_need_the_admin_scope_and_then_show_every_stream() {
    let app = App::start(|b| b.progress(ProgressOptions::default().with_admin_scope(ADMIN))).await;
    let (_alice, _) = hold(&app, "alice", "op-a").await;
    let (_bob, _) = hold(&app, "bob", "op-b").await;

    let (status, headers, body) = get(&app, "/progress/metrics", Some(&token_for("alice"))).await;
    assert_eq!(status, 403, "{body}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"mcp-auth:admin\""),
        "{challenge}"
    );
    assert!(!body.contains("op-b") && !body.contains("bob"), "{body}");

    let (status, _, body) = get(&app, "/progress/metrics", Some(&admin_token())).await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let mut seen: Vec<(String, String, u64)> = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let user = m["userId"].as_str().unwrap().to_owned();
            (
                user,
                m["progressToken"].as_str().unwrap().to_owned(),
                m["messageCount"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [("alice".into(), "op-a".into(), 1), ("bob".into(), "op-b".into(), 1)]);
    assert_eq!(report["health"], json!({"healthy": true, "issues": [], "warnings": []}));
    app.observed.release.notify_waiters();
}

#[tokio::test]
async fn the_endpoints_need_a_token_and_can_be_turned_off() {
    let app = App::start(|b| b).await;
    let (status, headers, _) = get(&app, "/progress/stats", None).await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let (status, _, body) = get(&app, "/progress/stats", Some("garbage")).await;
    assert_eq!(status, 401, "{body}");
    // No admin scope configured: nobody gets every user's streams.
    let (status, _, _) = get(&app, "/progress/metrics", Some(&admin_token())).await;
    assert_eq!(status, 404);

    let off = App::start(|b| b.progress(ProgressOptions::disabled())).await;
    let (status, _, _) = get(&off, "/progress/stats", Some(&token_for("alice"))).await;
    assert_eq!(status, 404);
    assert!(off.server.progress().is_none());
}
