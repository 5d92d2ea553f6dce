//! Refresh near expiry against a real provider that rotates refresh tokens: the resolver gets a
//! new access token, the rotated refresh token is stored with it, and the old refresh token no
//! longer works at the provider.

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{StoreTokenResolver, oauth::OAuthConnector};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider, connect, connect_expiring},
};

#[tokio::test]
async fn an_expiring_credential_is_refreshed_and_the_rotated_refresh_token_stored() {
    // Due: 30 s left, refreshed within 60 s of expiry.
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect_expiring(&connector, &provider, &t.store, "alice").await;
    let old = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(Arc::new(connector.refresher()))
        .with_refresh_margin(Duration::from_secs(60));

    let credential = resolver.resolve(&Principal::new("alice").unwrap(), RESOURCE).await.unwrap();

    assert_ne!(credential.secret(), &old.access_token);
    let new = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(&new.access_token, credential.secret());
    assert_eq!(new.info.expires_at, credential.expires_at());
    let (old_refresh, new_refresh) = (old.refresh_token.unwrap(), new.refresh_token.unwrap());
    assert_ne!(old_refresh, new_refresh, "the rotated refresh token was not stored");
    assert_eq!(new.info.scopes, old.info.scopes);
    assert_eq!(provider.counters().await.refresh_grants, 1);
    t.assert_absent_from_disk(&[new.access_token.expose(), new_refresh.expose()]);
    // The provider consumed the old refresh token (redeeming it now also revokes the grant:
    // oidc-provider's reuse detection).
    let (status, error) = provider.redeem(old_refresh.expose()).await;
    assert_eq!((status.as_u16(), error.as_deref()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn a_credential_far_from_expiry_is_not_refreshed() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    connect(&connector, &provider, "alice").await;
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(Arc::new(connector.refresher()))
        .with_refresh_margin(Duration::from_secs(60));

    let credential = resolver.resolve(&Principal::new("alice").unwrap(), RESOURCE).await.unwrap();

    assert_eq!(credential.secret(), &stored.access_token);
    assert_eq!(provider.counters().await.refresh_grants, 0);
}
