//! `ApiTokenResolver` against a real tenant manager (`tenant_manager/`): caching, single-flight
//! and the credential's own expiry.

mod support;
mod tenant_manager;

use std::time::{Duration, SystemTime};

use mcp_auth::{CredentialError, Principal, TokenResolver};
use serde_json::json;
use tenant_manager::*;

// --- Caching and single-flight ---

#[tokio::test]
async fn second_resolve_is_served_from_the_cache() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_one" }));
    let resolver = manager.resolver().build().unwrap();

    let first = resolver.resolve(&alice(), "github").await.unwrap();
    let second = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(first.secret().expose(), "ghp_one");
    assert_eq!(second, first);
    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn cache_keys_keep_users_and_resource_types_apart() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_alice" }));
    manager.grant("bob", "github", json!({ "accessToken": "ghp_bob" }));
    manager.grant("alice", "slack", json!({ "accessToken": "xoxb_alice" }));
    let resolver = manager.resolver().build().unwrap();
    let bob = Principal::new("bob").unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "ghp_alice");
    assert_eq!(resolver.resolve(&bob, "github").await.unwrap().secret().expose(), "ghp_bob");
    assert_eq!(resolver.resolve(&alice(), "slack").await.unwrap().secret().expose(), "xoxb_alice");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_misses_for_one_key_make_exactly_one_upstream_call() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_shared" }));
    // Long enough that every task has missed the cache and queued before the answer arrives.
    manager.set_delay(Duration::from_millis(300));
    let resolver = manager.resolver().build().unwrap();

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move { resolver.resolve(&alice(), "github").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret().expose(), "ghp_shared");
    }

    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn invalidate_forces_a_refetch() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_old" }));
    let resolver = manager.resolver().build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();
    manager.grant("alice", "github", json!({ "accessToken": "ghp_rotated" }));

    resolver.invalidate("alice", "github").await;
    let after = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(after.secret().expose(), "ghp_rotated");
    assert_eq!(manager.calls(), 2);
}

// --- Expiry ---

#[tokio::test]
async fn credential_is_refetched_after_its_own_expiry_even_with_a_long_cache_ttl() {
    let manager = Manager::start().await;
    let soon = SystemTime::now() + Duration::from_secs(1);
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_short", "expiresAt": epoch_millis(soon) }),
    );
    let resolver = manager.resolver().cache_ttl(Duration::from_secs(3600)).build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "ghp_short");
    resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(manager.calls(), 1, "still cached before the expiry");

    manager.grant("alice", "github", json!({ "accessToken": "ghp_next" }));
    // Until the expiry the cached credential answers (no call); the first resolve after it
    // fetches the new one, which the long TTL then keeps.
    let after = resolve_until(&resolver, "a refetch after the credential's expiry", |answer| {
        let token = token_of(answer).expect("a credential");
        assert!(token == "ghp_short" || token == "ghp_next", "{token}");
        token == "ghp_next"
    })
    .await;

    // The expiry travels in whole milliseconds and is then kept on the monotonic clock: allow
    // for that rounding, not for a refetch that came early.
    assert!(SystemTime::now() + CLOCK_SLACK >= soon, "refetched before the credential expired");
    assert_eq!(after.unwrap().secret().expose(), "ghp_next");

    assert_eq!(manager.calls(), 2);
}

#[tokio::test]
async fn already_expired_credential_gives_expired() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_old", "expires_at": "2020-01-01T00:00:00Z" }),
    );
    let resolver = manager.resolver().build().unwrap();

    let err = resolver.resolve(&alice(), "github").await.unwrap_err();

    assert_eq!(err, CredentialError::Expired { resource_type: "github".into() });
}

#[tokio::test]
async fn expired_credential_is_not_served_stale_during_an_outage() {
    let manager = Manager::start().await;
    let soon = SystemTime::now() + Duration::from_millis(1000);
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_short", "expiresAt": epoch_millis(soon) }),
    );
    // A zero TTL: the entry is stale at once, so every resolve tries a refresh.
    let resolver = manager
        .resolver()
        .cache_ttl(Duration::ZERO)
        .stale_if_error(Duration::from_secs(600))
        .build()
        .unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(stale.secret().expose(), "ghp_short", "stale but not expired: served");
    assert_eq!(manager.calls(), 1 + 3, "the refresh was tried, with its retries");

    // Served stale until its own expiry, then no more: the outage shows.
    let answer =
        resolve_until(&resolver, "the expired credential to stop being served", |answer| {
            if answer.is_ok() {
                assert_eq!(token_of(answer), Some("ghp_short"));
            }
            answer.is_err()
        })
        .await;
    assert_unavailable(answer);
    assert!(SystemTime::now() + CLOCK_SLACK >= soon, "refused before the credential expired");
}
