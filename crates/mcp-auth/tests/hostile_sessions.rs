//! Sessions are capped per user on both session transports and in total: past the cap a new
//! session is refused with a clear message (`429` per user, `503` + `Retry-After` in total), and
//! the sessions already open keep working.

mod support;

use mcp_auth::Limits;
use serde_json::{Value, json};
use support::app::*;

const ACCEPT: &str = "application/json, text/event-stream";

async fn initialize(http: &reqwest::Client, url: &str, user: &str) -> reqwest::Response {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let request = http.post(url).bearer_auth(token_for(user)).header("accept", ACCEPT).json(&init);
    request.send().await.unwrap()
}

/// Opens a session; returns its id.
async fn open(http: &reqwest::Client, url: &str, user: &str) -> String {
    let response = initialize(http, url, user).await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = response.text().await;
    id
}

async fn error_of(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json::<Value>().await.unwrap()["error"].clone())
}

#[tokio::test]
async fn a_user_over_the_session_cap_gets_429_and_keeps_the_open_ones() {
    let app = App::start(|b| b.limits(Limits::default().with_max_sessions_per_user(3))).await;
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(open(&http, &app.url, "mallory").await);
    }
    let (status, retry, error) = error_of(initialize(&http, &app.url, "mallory").await).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert_eq!(error["message"], "Too many open sessions for this user; close one (DELETE) first");
    assert_eq!(app.server.stats().await.sessions, 3);
    // Another user is not affected.
    open(&http, &app.url, "alice").await;

    // Closing one makes room.
    let delete = http
        .delete(&app.url)
        .bearer_auth(token_for("mallory"))
        .header("mcp-session-id", &sessions[0])
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 200);
    open(&http, &app.url, "mallory").await;
}

#[tokio::test]
async fn all_users_together_over_the_total_get_503_with_retry_after() {
    let limits = Limits::default().with_max_sessions_total(4);
    let app = App::start(|b| b.limits(limits)).await;
    let http = reqwest::Client::new();
    for user in ["u1", "u1", "u2", "u3"] {
        open(&http, &app.url, user).await;
    }
    let (status, retry, error) = error_of(initialize(&http, &app.url, "u4").await).await;
    assert_eq!((status, retry.as_deref()), (503, Some("5")));
    assert_eq!(error["code"], -32000);
    assert_eq!(app.server.stats().await.sessions, 4);
}

#[tokio::test]
async fn a_user_over_the_legacy_sse_session_cap_gets_429() {
    let limits = Limits::default().with_max_sse_sessions_per_user(2);
    let app = App::start(|b| b.limits(limits)).await;
    let http = reqwest::Client::new();
    let connect = |user: &str| {
        http.get(format!("{}/sse", app.url))
            .bearer_auth(token_for(user))
            .header("accept", "text/event-stream")
            .send()
    };
    let first = connect("mallory").await.unwrap();
    let second = connect("mallory").await.unwrap();
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let (status, retry, error) = error_of(connect("mallory").await.unwrap()).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    assert_eq!(error["message"], "Too many open SSE sessions for this user; close one first");
    let alice = connect("alice").await.unwrap();
    assert_eq!(alice.status(), 200);
    assert_eq!(app.server.stats().await.legacy_sse_sessions, 3);

    // A closed stream gives its slot back.
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.server.stats().await.legacy_sse_sessions != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the closed session was kept");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(connect("mallory").await.unwrap().status(), 200);
}
