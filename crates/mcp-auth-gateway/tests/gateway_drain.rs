//! `mcp-auth serve` stopping gracefully on SIGTERM (a real process with a real stdio child per
//! user): `/ready` turns `503 {"status":"draining"}` at once while `/health` stays `200`;
//! for `server.drain_delay` new requests are still answered; then the listener closes, the call
//! in flight gets its result, the process exits 0 and no child of it is left. A second SIGTERM
//! skips what is left of the delay.
#![cfg(target_os = "linux")]

mod support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{
    gateway::{Gateway, answer, answer_text, demo_stdio_config, stateless_call},
    procs::{assert_all_gone, descendants, wait_until},
};

/// The `server.drain_delay` of the first test.
const DRAIN_DELAY: Duration = Duration::from_secs(3);
/// The library's shutdown grace period (`HttpOptions::shutdown_grace_period`).
const GRACE: Duration = Duration::from_secs(10);
/// How long the gateway may take to stop its children once serving has ended (`CLOSE_WAIT`).
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// Generous bound of any wait for something that happens at once (the host may be busy).
const SOON: Duration = Duration::from_secs(10);

/// The demo stdio config with `server.drain_delay = delay`.
fn config(delay: &str) -> String {
    format!("[server]\ndrain_delay = \"{delay}\"\n{}", demo_stdio_config(""))
}

/// `GET url`: status, `Cache-Control` and JSON body; `None` when no connection is accepted.
async fn get(url: &str) -> Option<(u16, String, Value)> {
    let response = reqwest::Client::new().get(url).send().await.ok()?;
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Some((status, cache, response.json().await.unwrap()))
}

/// Polls `/ready` until it answers 503, and returns that answer.
async fn ready_once_draining(gateway: &Gateway) -> (u16, String, Value) {
    let url = format!("{}/ready", gateway.url);
    let deadline = Instant::now() + SOON;
    loop {
        let answer = get(&url).await.expect("the listener accepts while readiness flips");
        if answer.0 == 503 {
            return answer;
        }
        assert_eq!(answer.0, 200, "{answer:?}");
        assert!(Instant::now() < deadline, "/ready still 200 {SOON:?} after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The gateway's listen address, from its mount URL (`http://127.0.0.1:PORT/mcp`).
fn listen_addr(gateway: &Gateway) -> SocketAddr {
    let rest = gateway.url.strip_prefix("http://").unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

/// A 2026-07-28 `slow` call of `steps` half-second steps with a progress token, as a raw POST
/// whose answer streams: returned once the first progress event has arrived (the tool runs in
/// the user's child), with the body read so far.
async fn slow_call_in_flight(
    gateway: &Gateway,
    token: &str,
    steps: u32,
) -> (reqwest::Response, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "slow", "arguments": { "steps": steps, "delay_ms": 500 }, "_meta": {
            "progressToken": "drain",
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    });
    let mut response = reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "slow")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut read = String::new();
    while !read.contains("notifications/progress") {
        let chunk = tokio::time::timeout(SOON, response.chunk()).await.expect("progress");
        let chunk = chunk.unwrap().unwrap_or_else(|| panic!("ended before any progress: {read}"));
        read.push_str(&String::from_utf8_lossy(&chunk));
    }
    (response, read)
}

#[tokio::test]
async fn sigterm_drains_ready_first_then_the_listener_and_the_call_in_flight_still_finishes() {
    let mut gateway = Gateway::start(&config("3s")).await;
    let ready_url = format!("{}/ready", gateway.url);
    let ready = get(&ready_url).await.unwrap();
    assert_eq!(ready, (200, "no-store".to_owned(), json!({ "status": "ready" })));
    let token = gateway.token("alice");
    // Twelve half-second steps: in flight well past the drain delay, done well within the grace.
    let (mut call, mut read) = slow_call_in_flight(&gateway, &token, 12).await;
    let tree = descendants(gateway.pid());
    assert!(tree.len() >= 2, "a supervisor and alice's server: {tree:?}");

    let signalled = Instant::now();
    gateway.signal(libc::SIGTERM);

    // (a) Readiness flips while the listener still accepts; liveness does not.
    let draining = ready_once_draining(&gateway).await;
    assert_eq!(draining, (503, "no-store".to_owned(), json!({ "status": "draining" })));
    let health = get(&format!("{}/health", gateway.url)).await.unwrap();
    assert_eq!((health.0, health.2), (200, json!({ "status": "ok" })));
    // (b) A new request, on a new connection, is still answered during the delay.
    let http = reqwest::Client::new();
    let whoami = stateless_call(&http, &gateway.url, &token, "whoami", json!({})).send().await;
    let whoami = whoami.expect("a new connection is accepted during the drain delay");
    assert_eq!(whoami.status(), 200);
    assert_eq!(answer_text(&answer(&whoami.text().await.unwrap(), 1)), "alice");

    // (c) Then the listener closes, not before the delay.
    let addr = listen_addr(&gateway);
    let closed =
        wait_until(DRAIN_DELAY + SOON, || std::net::TcpStream::connect(addr).is_err()).await;
    assert!(closed, "the listener still accepts {:?} after SIGTERM", signalled.elapsed());
    let closed_after = signalled.elapsed();
    assert!(closed_after >= DRAIN_DELAY, "the listener closed {closed_after:?} after SIGTERM");
    // The call in flight is answered with its result.
    while let Some(chunk) = tokio::time::timeout(GRACE, call.chunk()).await.unwrap().unwrap() {
        read.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(answer_text(&answer(&read, 1)), "done", "{read}");

    // (d) The process exits 0 within the grace, and leaves no process behind.
    let status = tokio::time::timeout(GRACE + CLOSE_WAIT, gateway.child.wait())
        .await
        .expect("the gateway exits once the call is answered")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}\n{}", gateway.logs());
    assert_all_gone(&tree, SOON).await;
}

#[tokio::test]
async fn a_second_sigterm_skips_the_rest_of_the_drain_delay() {
    let mut gateway = Gateway::start(&config("5m")).await;
    let token = gateway.token("bob");
    let http = reqwest::Client::new();
    let whoami = stateless_call(&http, &gateway.url, &token, "whoami", json!({})).send().await;
    assert_eq!(answer_text(&answer(&whoami.unwrap().text().await.unwrap(), 1)), "bob");
    let tree = descendants(gateway.pid());
    assert!(tree.len() >= 2, "a supervisor and bob's server: {tree:?}");

    gateway.signal(libc::SIGTERM);
    let draining = ready_once_draining(&gateway).await;
    assert_eq!(draining.2, json!({ "status": "draining" }));
    gateway.signal(libc::SIGTERM);

    // Five minutes of delay are skipped: the gateway stops as if it had none.
    let status = tokio::time::timeout(GRACE + CLOSE_WAIT, gateway.child.wait())
        .await
        .expect("the second SIGTERM ends the drain delay")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status}\n{}", gateway.logs());
    // Its stderr is read by a task of the test's own: the last lines may still be on their way.
    let said = wait_until(SOON, || gateway.logs().contains("second stop signal")).await;
    assert!(said, "{}", gateway.logs());
    assert_all_gone(&tree, SOON).await;
}
