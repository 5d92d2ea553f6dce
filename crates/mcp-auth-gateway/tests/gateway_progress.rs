//! `[server.progress]` through the real binary: a forwarded answer's progress is counted in the
//! caller's `/progress/stats` while it streams, and the endpoints go when monitoring is off.

mod support;

use futures::StreamExt;
use serde_json::{Value, json};
use support::gateway::{Gateway, demo_stdio_config, stateless_call};

async fn stats(gateway: &Gateway, user: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{}/progress/stats", gateway.url))
        .bearer_auth(gateway.token(user))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_forwarded_calls_progress_is_counted_while_it_streams() {
    let gateway = Gateway::start(&demo_stdio_config("")).await;
    let http = reqwest::Client::new();
    let mut call = stateless_call(&http, &gateway.url, &gateway.token("alice"), "slow", json!({}));
    // `slow` for 20 s, one progress message every 20 ms, with a progress token.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow",
        "arguments":{"steps":1000,"delay_ms":20},"_meta":{"progressToken":"p-1",
        "io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"},
        "io.modelcontextprotocol/clientCapabilities":{}}}});
    call = call.json(&body);
    let response = call.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("notifications/progress") {
        seen.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
    }
    let (status, text) = stats(&gateway, "alice").await;
    assert_eq!(status, 200, "{text}");
    let now: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(now["user"]["activeStreams"], 1, "{now}");
    assert!(now["user"]["totalMessages"].as_u64().unwrap() >= 1, "{now}");
    let (_, bob) = stats(&gateway, "bob").await;
    let bob: Value = serde_json::from_str(&bob).unwrap();
    assert_eq!(
        (bob["user"]["activeStreams"].as_u64(), bob["global"]["activeStreams"].as_u64()),
        (Some(0), Some(1))
    );

    drop(stream); // the client goes: the stream ends with its response
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, text) = stats(&gateway, "alice").await;
        let now: Value = serde_json::from_str(&text).unwrap();
        if now["global"]["activeStreams"] == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the stream never ended: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn monitoring_off_takes_the_endpoints_away() {
    let config = format!("[server.progress]\nenabled = false\n{}", demo_stdio_config(""));
    let gateway = Gateway::start(&config).await;
    assert_eq!(stats(&gateway, "alice").await.0, 404);
}
