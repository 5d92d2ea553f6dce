//! One user cannot pile up long-running calls: past `max_in_flight_per_user` requests being
//! answered at once, the next gets `429` with `Retry-After` and a JSON-RPC error, other users are
//! untouched, and the slots come back as the calls end (issue 9: a user started 294 sixteen-hour
//! calls).

mod support;

use std::time::Duration;

use mcp_auth::Limits;
use serde_json::{Value, json};
use support::app::*;

fn slow_call(http: &reqwest::Client, app: &App, user: &str) -> reqwest::RequestBuilder {
    // A progress token makes the answer a stream from the first progress notification on.
    let body = stateless_call(1, "slow", json!({ "steps": 36000, "delay_ms": 100 }), Some("p"));
    stateless_request(http, &app.url, Some(&token_for(user)), "slow", &body)
}

fn echo(http: &reqwest::Client, app: &App, user: &str) -> reqwest::RequestBuilder {
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    stateless_request(http, &app.url, Some(&token_for(user)), "echo", &body)
}

#[tokio::test]
async fn a_user_over_the_in_flight_cap_gets_429_and_others_do_not() {
    let app = App::start(|b| b.limits(Limits::default().with_max_in_flight_per_user(4))).await;
    let http = reqwest::Client::new();
    // Four hour-long calls: their answers stream, so each is in flight until it ends.
    let mut running = Vec::new();
    for _ in 0..4 {
        let response = slow_call(&http, &app, "mallory").send().await.unwrap();
        assert_eq!(response.status(), 200);
        running.push(response);
    }
    let refused = echo(&http, &app, "mallory").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32029,
            "message": "Too many requests in flight for this user; wait for one to finish",
            "data": { "retryAfter": 1 } } })
    );
    assert_eq!(echo(&http, &app, "alice").send().await.unwrap().status(), 200);

    // Ending the calls (the client goes away) gives the slots back.
    running.clear();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = echo(&http, &app, "mallory").send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(tokio::time::Instant::now() < deadline, "the in-flight slots never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
