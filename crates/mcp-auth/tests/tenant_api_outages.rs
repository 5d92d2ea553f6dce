//! `ApiTokenResolver` against a real tenant manager (`tenant_manager/`) that fails: outages and
//! stale-if-error, retries, and how its statuses map to `CredentialError` (negative caching
//! included).

mod support;
mod tenant_manager;

use std::time::Duration;

use mcp_auth::{ApiTokenResolver, TokenResolver};
use serde_json::json;
use tenant_manager::*;

// --- Outages and stale-if-error ---

#[tokio::test]
async fn outage_with_a_warm_cache_serves_the_stale_credential() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    // A zero TTL: the entry is stale at once; a long cool-down, so the check below cannot
    // outlast it on a slow machine.
    let resolver = manager
        .resolver()
        .cache_ttl(Duration::ZERO)
        .failure_cooldown(Duration::from_secs(600))
        .default_retry_after(Duration::from_secs(600))
        .build()
        .unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(stale.secret().expose(), "ghp_cached");
    assert_eq!(manager.calls(), 1 + 3, "the refresh was tried, with its retries");
    // Within the failure cool-down the stale credential is served without another attempt.
    resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(manager.calls(), 4);
}

#[tokio::test]
async fn outage_with_a_warm_cache_serves_the_stale_credential_when_the_manager_is_gone() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    // A zero TTL: the entry is stale at once, so the next resolve tries a refresh.
    let resolver = manager.resolver().cache_ttl(Duration::ZERO).build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    // Were the manager still reachable, the refresh would return this instead.
    manager.grant("alice", "github", json!({ "accessToken": "ghp_new" }));
    manager.shut_down().await;
    let stale = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(stale.secret().expose(), "ghp_cached");
}

#[tokio::test]
async fn stale_credential_is_not_served_past_the_stale_window() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    let window = Duration::from_millis(1000);
    // A zero TTL: the stale window starts at the fetch.
    let resolver =
        manager.resolver().cache_ttl(Duration::ZERO).stale_if_error(window).build().unwrap();
    let fetched = std::time::Instant::now();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(stale.secret().expose(), "ghp_cached", "inside the window: served");

    let answer = resolve_until(&resolver, "the stale window to close", |answer| {
        if answer.is_ok() {
            assert_eq!(token_of(answer), Some("ghp_cached"));
        }
        answer.is_err()
    })
    .await;
    assert_unavailable(answer);
    assert!(fetched.elapsed() >= window, "refused inside the stale window");
}

#[tokio::test]
async fn outage_with_a_cold_cache_gives_unavailable_with_retry_after() {
    // A port that was bound and released: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let resolver = ApiTokenResolver::builder(format!("http://{addr}"), SERVICE_TOKEN)
        .retry_base_delay(Duration::from_millis(5))
        .default_retry_after(Duration::from_secs(7))
        .build()
        .unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(7));
}

#[tokio::test]
async fn connections_closed_without_an_answer_are_retried_then_reported_unavailable() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_x" }));
    manager.set_mode(Mode::DropConnections);
    let resolver = manager.resolver().build().unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(5), "the default retry_after");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test]
async fn retry_after_from_a_503_is_passed_on_without_retrying() {
    let manager = Manager::start().await;
    let reply = Reply { retry_after: Some("42"), ..Reply::status(503) };
    manager.reply("/api/credentials/alice/github", reply);
    let resolver = manager.resolver().build().unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(42));
    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn rate_limited_by_the_manager_gives_unavailable_with_its_retry_after() {
    let manager = Manager::start().await;
    let reply = Reply { retry_after: Some("9"), ..Reply::status(429) };
    manager.reply("/api/credentials/alice/github", reply);
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(
        assert_unavailable(resolver.resolve(&alice(), "github").await),
        Duration::from_secs(9)
    );
    assert_eq!(manager.calls(), 1);
}

// --- Retries ---

#[tokio::test]
async fn two_500s_then_success_yields_the_credential_after_three_calls() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_third_time" }));
    manager.fail_next(2);
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_third_time");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test]
async fn a_manager_that_always_fails_gives_unavailable_after_max_retries_plus_one_calls() {
    let manager = Manager::start().await;
    manager.fail_next(usize::MAX);
    let default_retries = manager.resolver().build().unwrap();
    let four_retries = manager.resolver().max_retries(4).build().unwrap();

    assert_unavailable(default_retries.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 3);
    assert_unavailable(four_retries.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 3 + 5);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let manager = Manager::start().await;
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(manager.calls(), 1);
}

// --- Status mapping and negative caching ---

#[tokio::test]
async fn not_found_is_cached_for_the_negative_ttl() {
    let manager = Manager::start().await;
    let resolver = manager.resolver().negative_ttl(Duration::from_millis(300)).build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(manager.calls(), 1, "the second 404 came from the cache");

    manager.grant("alice", "github", json!({ "accessToken": "ghp_connected" }));
    // The remembered 404 answers (no call) until the negative TTL runs out.
    let after = resolve_until(&resolver, "the negative entry to expire", |answer| match answer {
        Ok(_) => true,
        Err(err) => {
            assert_eq!(*err, not_found("github"));
            false
        }
    })
    .await;
    assert_eq!(after.unwrap().secret().expose(), "ghp_connected");
    assert_eq!(manager.calls(), 2);
}

#[tokio::test]
async fn gone_is_not_found_too() {
    let manager = Manager::start().await;
    manager.reply("/api/credentials/alice/github", Reply::status(410));
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
}

#[tokio::test]
async fn rejected_service_token_gives_unavailable_not_not_found() {
    let manager = Manager::start().await;
    manager.reply("/api/credentials/alice/github", Reply::status(401));
    manager.reply("/api/credentials/alice/slack", Reply::status(403));
    let resolver = manager.resolver().build().unwrap();

    assert_unavailable(resolver.resolve(&alice(), "github").await);
    assert_unavailable(resolver.resolve(&alice(), "slack").await);
    assert_eq!(manager.calls(), 2, "not retried");
}

#[tokio::test]
async fn a_body_without_a_token_is_treated_as_an_outage() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "", "userId": "alice" }));
    let resolver = manager.resolver().build().unwrap();

    assert_unavailable(resolver.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 1);
}
