//! Unauthenticated work is bounded: a peer that keeps failing to authenticate is refused with
//! `429` before its token is even parsed — a valid token from it included, until its budget
//! refills — while other peers are untouched.

mod support;

use mcp_auth::{Limits, middleware::RateLimitConfig};
use serde_json::{Value, json};
use support::app::*;

#[tokio::test]
async fn a_peer_over_its_failed_auth_budget_gets_429_before_any_crypto() {
    let limits = Limits::default().with_failed_auth_per_peer(RateLimitConfig::per_minute(5));
    let app = App::start(|b| b.limits(limits)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let send =
        |token: String| stateless_request(&http, &app.url, Some(&token), "whoami", &body).send();
    let mut statuses = Vec::new();
    for attempt in 0..7 {
        statuses.push(send(format!("forged-{attempt}")).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429]);
    let blocked = send(token_for("alice")).await.unwrap();
    assert_eq!(blocked.status(), 429, "a blocked peer is refused before its token is read");
    let retry: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let error: Value = blocked.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Too many failed authentications from this address");
}

#[tokio::test]
async fn successes_do_not_spend_the_failed_auth_budget() {
    let limits = Limits::default().with_failed_auth_per_peer(RateLimitConfig::per_minute(2));
    let app = App::start(|b| b.limits(limits)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    for _ in 0..10 {
        let request =
            stateless_request(&http, &app.url, Some(&token_for("alice")), "whoami", &body);
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
}
