//! Single-flight refresh: 50 concurrent resolves of one user's expiring credential cause
//! exactly one refresh at the (real) provider, and all 50 get the new token — none redeems the
//! rotated-away refresh token (which would make the provider revoke the whole grant).

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{CredentialStatus, Refresher, StoreTokenResolver, oauth::OAuthConnector};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider, connect_expiring},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_resolves_of_an_expiring_credential_refresh_once() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let old = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let resolver = Arc::new(
        StoreTokenResolver::new(t.store.clone())
            .with_refresher(Arc::new(connector.refresher()))
            .with_refresh_margin(Duration::from_secs(60)),
    );
    let alice = Principal::new("alice").unwrap();

    let resolves = (0..50).map(|_| {
        let (resolver, alice) = (resolver.clone(), alice.clone());
        tokio::spawn(async move { resolver.resolve(&alice, RESOURCE).await })
    });
    let results = futures::future::join_all(resolves).await;

    let new = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(new.info.status, CredentialStatus::Active);
    assert_ne!(new.access_token, old.access_token);
    for result in results {
        let credential = result.unwrap().unwrap();
        assert_eq!(credential.secret(), &new.access_token);
    }
    assert_eq!(provider.counters().await.refresh_grants, 1);
}

#[tokio::test]
async fn a_caller_that_read_before_a_finished_refresh_gets_its_token_without_refreshing_again() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let stale = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let refresher = connector.refresher();
    let first = refresher.refresh(&t.store, &stale).await.unwrap().unwrap();

    // Read before the first refresh finished: its refresh token has been rotated away.
    let second = refresher.refresh(&t.store, &stale).await.unwrap().unwrap();

    assert_eq!(second, first);
    assert_eq!(provider.counters().await.refresh_grants, 1);
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(stored.info.status, CredentialStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshers_of_one_connector_share_their_flights() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let resolvers: Vec<_> = (0..2)
        .map(|_| {
            Arc::new(
                StoreTokenResolver::new(t.store.clone())
                    .with_refresher(Arc::new(connector.refresher()))
                    .with_refresh_margin(Duration::from_secs(60)),
            )
        })
        .collect();
    let alice = Principal::new("alice").unwrap();

    let resolves = (0..20).map(|i| {
        let (resolver, alice) = (resolvers[i % 2].clone(), alice.clone());
        tokio::spawn(async move { resolver.resolve(&alice, RESOURCE).await })
    });
    let results = futures::future::join_all(resolves).await;

    let new = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    for result in results {
        assert_eq!(result.unwrap().unwrap().secret(), &new.access_token);
    }
    assert_eq!(provider.counters().await.refresh_grants, 1);
}
