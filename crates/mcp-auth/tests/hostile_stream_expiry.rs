//! A stream does not outlive the token it was opened with: a GET stream or a legacy SSE stream
//! ends at the token's expiry plus the configured leeway, and the client reconnects with a
//! fresh token.

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcp_auth::Limits;
use serde_json::json;
use support::{app::*, now, sign};

/// A token valid for two more seconds (the JWT provider's 60 s leeway is about `exp` checks at
/// admission; the stream's own leeway is set to zero here).
fn short_token() -> String {
    sign(Algorithm::HS256, "hs", None, &json!({ "sub": "alice", "exp": now() + 2 }))
}

fn no_leeway() -> Limits {
    Limits::default().with_stream_expiry_leeway(Some(Duration::ZERO))
}

/// Reads events until the stream ends; fails if it is still open after `within`.
async fn ends_within(mut events: SseReader, within: Duration) {
    let drained = async { while events.next().await.is_some() {} };
    tokio::time::timeout(within, drained).await.expect("the stream outlived its token");
}

#[tokio::test]
async fn a_legacy_sse_stream_ends_when_its_token_expires() {
    let app = App::start(|b| b.limits(no_leeway())).await;
    let response = reqwest::Client::new()
        .get(format!("{}/sse", app.url))
        .bearer_auth(short_token())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    ends_within(SseReader::new(response), Duration::from_secs(15)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.server.stats().await.legacy_sse_sessions != 0 {
        assert!(tokio::time::Instant::now() < deadline, "the session outlived its stream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_streamable_get_stream_ends_when_its_token_expires() {
    let app = App::start(|b| b.limits(no_leeway())).await;
    let http = reqwest::Client::new();
    // The session is opened with a long-lived token; the GET stream with a short one.
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let long = token_for("alice");
    let opened = http
        .post(&app.url)
        .bearer_auth(&long)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    let session = opened.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = opened.text().await;
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let post = http
        .post(&app.url)
        .bearer_auth(&long)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&initialized);
    assert_eq!(post.send().await.unwrap().status(), 202);
    let stream = http
        .get(&app.url)
        .bearer_auth(short_token())
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    ends_within(SseReader::new(stream), Duration::from_secs(15)).await;
}
