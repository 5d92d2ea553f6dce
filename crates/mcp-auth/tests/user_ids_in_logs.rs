//! Log lines name a user by a keyed tag — 16 hex digits of HMAC-SHA256 of the id — never by
//! the id, unless the server was told `with_raw_ids(true)`. One key gives one user one tag on
//! every line; another key, another tag.
//!
//! Each test runs on a current-thread runtime, so the server's tasks log into this thread's
//! capture.

mod support;

use axum::{Router, http::StatusCode, routing::get};
use mcp_auth::{
    ApiTokenResolver, Principal, Secret, TokenResolver, UserIdLogging, middleware::RateLimitConfig,
};
use serde_json::json;
use support::{app::*, log_capture::capture_logs};

const USER: &str = "nina@example.test";

/// One served request and one refused by the rate limit (1 a minute): each logs a line naming
/// the user (`instance created`, the security event `refused`). Returns their request ids.
async fn serve_and_refuse(app: &App) -> [String; 2] {
    let http = reqwest::Client::new();
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    let mut ids = Vec::new();
    for status in [200, 429] {
        let response = stateless_request(&http, &app.url, Some(&token_for(USER)), "echo", &body);
        let response = response.send().await.unwrap();
        assert_eq!(response.status(), status);
        ids.push(response.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    [ids[0].clone(), ids[1].clone()]
}

fn one_a_minute() -> RateLimitConfig {
    RateLimitConfig::per_minute(1).with_burst(1)
}

/// The `user=` value of the line logged in request `id` that says `what`.
fn user_in(logs: &str, id: &str, what: &str) -> String {
    let span = format!("request{{request_id={id}}}");
    let line = logs
        .lines()
        .find(|l| l.contains(&span) && l.contains(what))
        .unwrap_or_else(|| panic!("no {what:?} line in request {id}:\n{logs}"));
    let user = line.split(" user=").nth(1).unwrap_or_else(|| panic!("no user: {line}"));
    user.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn by_default_a_user_is_named_by_a_keyed_tag_and_never_by_the_id() {
    let (capture, _guard) = capture_logs();
    let app = App::start(|b| b.rate_limit(one_a_minute())).await;
    let [served, refused] = serve_and_refuse(&app).await;

    let logs = capture.text();
    let tag = UserIdLogging::default().tag(USER).to_string();
    assert_eq!(user_in(&logs, &served, "instance created"), tag);
    assert_eq!(user_in(&logs, &refused, "request refused"), tag);
    assert!(tag.len() == 16 && tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
    assert!(!logs.contains(USER), "the user id reached the logs:\n{logs}");
    let local = USER.split('@').next().unwrap();
    assert!(!logs.contains(local), "part of the user id reached the logs:\n{logs}");
}

#[tokio::test]
async fn with_raw_ids_a_user_is_named_by_the_id() {
    let (capture, _guard) = capture_logs();
    let raw = UserIdLogging::default().with_raw_ids(true);
    let app = App::start(|b| b.rate_limit(one_a_minute()).user_id_logging(raw)).await;
    let [served, refused] = serve_and_refuse(&app).await;

    let logs = capture.text();
    assert_eq!(user_in(&logs, &served, "instance created"), USER);
    assert_eq!(user_in(&logs, &refused, "request refused"), USER);
}

#[tokio::test]
async fn tags_are_stable_under_one_key_and_differ_under_another() {
    let (capture, _guard) = capture_logs();
    let keyed = |key: &str| UserIdLogging::keyed(&Secret::new(key));
    let key_a = "key-a-0123456789abcdef0123456789abcdef";
    let key_b = "key-b-0123456789abcdef0123456789abcdef";
    let a = App::start(|b| b.rate_limit(one_a_minute()).user_id_logging(keyed(key_a))).await;
    let b = App::start(|b| b.rate_limit(one_a_minute()).user_id_logging(keyed(key_b))).await;
    let [a_served, a_refused] = serve_and_refuse(&a).await;
    let [b_served, b_refused] = serve_and_refuse(&b).await;

    let logs = capture.text();
    let tag_a = user_in(&logs, &a_served, "instance created");
    assert_eq!(user_in(&logs, &a_refused, "request refused"), tag_a, "one key, one tag");
    let tag_b = user_in(&logs, &b_served, "instance created");
    assert_eq!(user_in(&logs, &b_refused, "request refused"), tag_b);
    assert_ne!(tag_a, tag_b, "another key, another tag");
    assert_eq!(tag_a, keyed(key_a).tag(USER).to_string());
    assert_ne!(tag_a, UserIdLogging::default().tag(USER).to_string());
    assert!(!logs.contains(USER), "{logs}");
}

#[tokio::test]
async fn the_tenant_manager_resolver_names_the_user_as_it_is_told() {
    let (capture, _guard) = capture_logs();
    let app = Router::new()
        .route("/api/credentials/{user}/{resource}", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let user_ids = UserIdLogging::keyed(&Secret::new("resolver-key-0123456789abcdef01234"));
    let resolver = |user_ids: UserIdLogging| {
        ApiTokenResolver::builder(&url, "service-token").user_id_logging(user_ids).build().unwrap()
    };
    let principal = Principal::new(USER).unwrap();

    let tagged = resolver(user_ids.clone()).resolve(&principal, "github").await;
    assert!(tagged.is_err(), "{tagged:?}");
    let logs = capture.text();
    let line = logs.lines().find(|l| l.contains("no credential upstream")).expect("the 404 logged");
    assert!(line.contains(&format!("user={}", user_ids.tag(USER))), "{line}");
    assert!(!logs.contains(USER), "{logs}");

    let raw = resolver(user_ids.with_raw_ids(true)).resolve(&principal, "github").await;
    assert!(raw.is_err());
    let logs = capture.text();
    assert!(logs.contains(&format!("user={USER}")), "{logs}");
}
