//! A provider outage (the token endpoint answers 503): a still-valid token keeps being served,
//! the provider is not asked again on every request but after a backoff, and the refresh
//! succeeds once the provider is back. An expired token during an outage is "unavailable"
//! (503 + Retry-After), not "expired".

mod support;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use mcp_auth::{CredentialError, Principal, TokenResolver};
use mcp_auth_store::{NewCredential, StoreTokenResolver, oauth::OAuthConnector};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider, connect_expiring, eventually},
};

#[tokio::test]
async fn an_outage_serves_the_still_valid_token_and_recovers_after() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let old = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let refresher =
        connector.refresher().with_backoff(Duration::from_millis(300), Duration::from_secs(1));
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(Arc::new(refresher))
        .with_refresh_margin(Duration::from_secs(60));
    let alice = Principal::new("alice").unwrap();
    provider.outage(true).await;
    let before = provider.counters().await.token_requests;

    let served = resolver.resolve(&alice, RESOURCE).await.unwrap();
    assert_eq!(served.secret(), &old.access_token);
    assert_eq!(provider.counters().await.token_requests, before + 1);
    // Backing off: the next requests are served without asking the provider.
    for _ in 0..5 {
        let served = resolver.resolve(&alice, RESOURCE).await.unwrap();
        assert_eq!(served.secret(), &old.access_token);
    }
    assert_eq!(provider.counters().await.token_requests, before + 1);

    provider.outage(false).await;
    let fresh = eventually("a refresh after the outage", || async {
        let credential = resolver.resolve(&alice, RESOURCE).await.unwrap();
        (credential.secret() != &old.access_token).then_some(credential)
    })
    .await;

    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(&stored.access_token, fresh.secret());
    assert_ne!(stored.refresh_token, old.refresh_token);
    assert_eq!(provider.counters().await.refresh_grants, 1);
}

#[tokio::test]
async fn an_outage_with_an_expired_token_is_unavailable_not_expired() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let expired = NewCredential::new(stored.access_token.clone())
        .with_refresh_token(stored.refresh_token.clone().unwrap())
        .with_expiry(SystemTime::now() - Duration::from_secs(5));
    t.store.put("alice", RESOURCE, expired, "test").await.unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(Arc::new(connector.refresher()))
        .with_refresh_margin(Duration::from_secs(60));
    provider.outage(true).await;

    let err = resolver.resolve(&Principal::new("alice").unwrap(), RESOURCE).await.unwrap_err();

    assert!(matches!(err, CredentialError::TenantManagerUnavailable { .. }), "{err:?}");
    assert!(err.retry_after().unwrap() >= Duration::from_secs(1));
}
