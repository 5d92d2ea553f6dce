//! A refresh the provider refuses (`invalid_grant`: the user's grant was revoked there) marks
//! the credential `needs_reconnect`, the resolver answers "not found" (connect your account),
//! and neither the resolver nor the refresher asks the provider again.

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth::{CredentialError, Principal, TokenResolver};
use mcp_auth_store::{
    CredentialStatus, NewCredential, Refresher, StoreTokenResolver, oauth::OAuthConnector,
};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider, connect, connect_expiring},
};

#[tokio::test]
async fn a_revoked_grant_needs_reconnect_and_the_provider_is_not_asked_again() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let refresher = Arc::new(connector.refresher());
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(refresher.clone())
        .with_refresh_margin(Duration::from_secs(60));
    let alice = Principal::new("alice").unwrap();
    let not_found = CredentialError::NotFound { resource_type: RESOURCE.into() };
    provider.revoke("alice").await;

    assert_eq!(resolver.resolve(&alice, RESOURCE).await.unwrap_err(), not_found);

    let info = t.store.list(Some("alice"), "test").await.unwrap();
    assert_eq!(info[0].status, CredentialStatus::NeedsReconnect);
    let asked = provider.counters().await.token_requests;
    assert_eq!(resolver.resolve(&alice, RESOURCE).await.unwrap_err(), not_found);
    // Even with the row made active again around the dead refresh token (as if marking it had
    // failed), the refresher remembers the refusal.
    let again = NewCredential::new(stored.access_token.clone())
        .with_refresh_token(stored.refresh_token.clone().unwrap())
        .with_expiry(stored.info.expires_at.unwrap());
    t.store.put("alice", RESOURCE, again, "test").await.unwrap();
    let current = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(refresher.refresh(&t.store, &current).await.unwrap_err(), not_found);
    assert_eq!(provider.counters().await.token_requests, asked);
    assert_eq!(provider.counters().await.refresh_grants, 0);
}

#[tokio::test]
async fn reconnecting_after_invalid_grant_works_again() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(Arc::new(connector.refresher()))
        .with_refresh_margin(Duration::from_secs(60));
    let alice = Principal::new("alice").unwrap();
    provider.revoke("alice").await;
    assert!(resolver.resolve(&alice, RESOURCE).await.is_err());

    connect(&connector, &provider, "alice").await;

    let credential = resolver.resolve(&alice, RESOURCE).await.unwrap();
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(credential.secret(), &stored.access_token);
    assert_eq!(stored.info.status, CredentialStatus::Active);
    assert_eq!(provider.counters().await.refresh_grants, 0);
}
