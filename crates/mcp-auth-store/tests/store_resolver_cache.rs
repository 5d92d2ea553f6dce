//! `StoreTokenResolver`'s cache: a user's requests cost one audited store read per TTL, not one
//! per request; concurrent requests share a read; changes made through the store are seen at
//! once, changes made by another process within the TTL; nothing is served past its expiry;
//! failures are not cached; and the cache has a bound that traffic reaches.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use futures::future::join_all;
use mcp_auth::{Credential, CredentialError, Principal, TokenResolver};
use mcp_auth_store::{
    CredentialStore, NewCredential, Refresher, StoreTokenResolver, StoredCredential,
};
use support::{DEADLINE, TestStore};

fn user(id: &str) -> Principal {
    Principal::new(id).unwrap()
}

fn not_found() -> CredentialError {
    CredentialError::NotFound { resource_type: "github".into() }
}

/// The audited store reads ("get" rows) so far.
fn reads(t: &TestStore) -> usize {
    t.audit().iter().filter(|row| row.action == "get").count()
}

async fn token(resolver: &StoreTokenResolver, id: &str) -> Result<String, CredentialError> {
    resolver.resolve(&user(id), "github").await.map(|c| c.secret().expose().to_owned())
}

/// Polls `resolver` until `done` holds for alice's answer, or fails at the deadline.
async fn until(
    resolver: &StoreTokenResolver,
    done: impl Fn(&Result<String, CredentialError>) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answer = token(resolver, "alice").await;
        if done(&answer) {
            return;
        }
        assert!(Instant::now() < deadline, "still {answer:?} at the deadline");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_thousand_requests_cost_one_audited_read() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone());

    for _ in 0..1_000 {
        assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_a");
    }
    for _ in 0..1_000 {
        assert_eq!(token(&resolver, "bob").await.unwrap_err(), not_found());
    }

    assert_eq!(reads(&t), 2, "one read for alice, one for bob");
    let stats = resolver.cache_stats().unwrap();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1_998, 2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_share_one_read() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone());

    let answers = join_all((0..50).map(|_| token(&resolver, "alice"))).await;

    assert!(answers.iter().all(|a| a.as_deref() == Ok("gho_a")), "{answers:?}");
    assert_eq!(reads(&t), 1);
}

#[tokio::test]
async fn a_change_through_the_store_is_seen_by_the_next_request() {
    let t = TestStore::new().await;
    let resolver = StoreTokenResolver::new(t.store.clone());
    // Cached "not found", then a connect (a put) in the same process.
    assert_eq!(token(&resolver, "alice").await.unwrap_err(), not_found());
    t.store.put("alice", "github", NewCredential::new("gho_1"), "connect").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_1");
    // Cached, then replaced (a refresh).
    t.store.put("alice", "github", NewCredential::new("gho_2"), "refresher").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_2");
    // Cached, then refused by the provider.
    t.store.mark_needs_reconnect("alice", "github", "refresher").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap_err(), not_found());
    // Connected again, then the user revoked: every resource type of theirs goes.
    t.store.put("alice", "github", NewCredential::new("gho_3"), "connect").await.unwrap();
    t.store.put("alice", "slack", NewCredential::new("xoxp_3"), "connect").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_3");
    assert!(resolver.resolve(&user("alice"), "slack").await.is_ok());
    t.store.revoke_user("alice", "admin").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap_err(), not_found());
    let slack = resolver.resolve(&user("alice"), "slack").await.unwrap_err();
    assert_eq!(slack, CredentialError::NotFound { resource_type: "slack".into() });
    // Connected again, then deleted.
    t.store.put("alice", "github", NewCredential::new("gho_4"), "connect").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_4");
    t.store.delete("alice", "github", "cli").await.unwrap();
    assert_eq!(token(&resolver, "alice").await.unwrap_err(), not_found());
}

#[tokio::test]
async fn a_change_by_another_process_is_seen_within_the_ttl() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_old"), "test").await.unwrap();
    let resolver =
        StoreTokenResolver::new(t.store.clone()).with_cache_ttl(Duration::from_millis(300));
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_old");
    // Another process (the CLI) on the same file: this store never hears of it.
    let other = t.reopen(t.keyring.clone()).await;

    other.put("alice", "github", NewCredential::new("gho_new"), "cli").await.unwrap();

    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_old", "served from the cache");
    until(&resolver, |answer| answer.as_deref() == Ok("gho_new")).await;
}

#[tokio::test]
async fn a_cached_credential_is_never_served_past_its_expiry() {
    let t = TestStore::new().await;
    let expiry = SystemTime::now() + Duration::from_secs(2);
    t.store
        .put("alice", "github", NewCredential::new("gho_a").with_expiry(expiry), "test")
        .await
        .unwrap();
    let resolver =
        StoreTokenResolver::new(t.store.clone()).with_cache_ttl(Duration::from_secs(3600));
    assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_a");

    until(&resolver, |answer| answer.is_err()).await;

    assert!(SystemTime::now() >= expiry - Duration::from_secs(1), "cut at the expiry (whole s)");
    let expired = CredentialError::Expired { resource_type: "github".into() };
    assert_eq!(token(&resolver, "alice").await.unwrap_err(), expired);
}

#[tokio::test]
async fn a_failing_store_is_asked_again_by_the_next_request() {
    let t = TestStore::new().await;
    t.store.put("bob", "github", NewCredential::new("gho_bob"), "test").await.unwrap();
    // Bob's row moved to alice: it no longer opens.
    t.raw().execute("UPDATE credentials SET user_id = 'alice'", []).unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone());

    for _ in 0..3 {
        let err = token(&resolver, "alice").await.unwrap_err();
        assert!(matches!(err, CredentialError::TenantManagerUnavailable { .. }), "{err:?}");
    }

    assert_eq!(reads(&t), 3);
    assert_eq!(resolver.cache_stats().unwrap().errors, 3);
}

#[tokio::test]
async fn the_cache_holds_at_most_its_capacity() {
    let t = TestStore::new().await;
    let resolver = StoreTokenResolver::new(t.store.clone()).with_max_capacity(100);

    for n in 0..2_000 {
        let _ = token(&resolver, &format!("user-{n}")).await;
    }

    let cached = resolver.cached_entries().await;
    assert!((1..=100).contains(&cached), "{cached} entries cached");
}

/// Declines every refresh (a provider outage whose backoff is running), counting the calls.
struct DecliningRefresher(AtomicUsize);

#[async_trait::async_trait]
impl Refresher for DecliningRefresher {
    async fn refresh(
        &self,
        _store: &CredentialStore,
        _stored: &StoredCredential,
    ) -> Result<Option<Credential>, CredentialError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
}

#[tokio::test]
async fn a_credential_due_for_refresh_is_cached_only_briefly() {
    let t = TestStore::new().await;
    let soon = SystemTime::now() + Duration::from_secs(30);
    let credential = NewCredential::new("gho_a").with_refresh_token("ghr_a").with_expiry(soon);
    t.store.put("alice", "github", credential, "test").await.unwrap();
    let refresher = Arc::new(DecliningRefresher(AtomicUsize::new(0)));
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(refresher.clone())
        .with_refresh_margin(Duration::from_secs(60));

    for _ in 0..100 {
        assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_a");
    }
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1, "a burst costs one refresh attempt");

    // The refresh is tried again once the short entry lapses (IN_MARGIN_TTL).
    let deadline = Instant::now() + DEADLINE;
    while refresher.0.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "never asked again");
        assert_eq!(token(&resolver, "alice").await.unwrap(), "gho_a");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
