//! `StoreTokenResolver`: the store read in-process answers as the gateway expects — the
//! credential, "not found" for missing, `needs_reconnect` and revoked, "expired", and
//! "unavailable" for a store that fails — and asks a `Refresher` only for credentials about to
//! expire that can be refreshed.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mcp_auth::{Credential, CredentialError, Principal, TokenResolver};
use mcp_auth_store::{
    CredentialStore, NewCredential, Refresher, StoreTokenResolver, StoredCredential,
};
use support::TestStore;

fn alice() -> Principal {
    Principal::new("alice").unwrap()
}

fn not_found() -> CredentialError {
    CredentialError::NotFound { resource_type: "github".into() }
}

#[tokio::test]
async fn a_stored_credential_resolves_with_its_expiry() {
    let t = TestStore::new().await;
    let expiry = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    let credential = NewCredential::new("gho_alice").with_expiry(expiry);
    t.store.put("alice", "github", credential, "test").await.unwrap();
    let resolver = StoreTokenResolver::new(t.store.clone());

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "gho_alice");
    assert_eq!(credential.expires_at(), Some(expiry));
    let last = t.audit().pop().unwrap();
    assert_eq!((last.actor.as_str(), last.action.as_str()), ("gateway", "get"));
}

#[tokio::test]
async fn missing_needs_reconnect_and_revoked_all_resolve_as_not_found() {
    let t = TestStore::new().await;
    let resolver = StoreTokenResolver::new(t.store.clone());
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found());

    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    t.store.mark_needs_reconnect("alice", "github", "test").await.unwrap();
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found());

    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    assert!(resolver.resolve(&alice(), "github").await.is_ok());
    t.store.revoke_user("alice", "test").await.unwrap();
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found());
}

#[tokio::test]
async fn an_expired_credential_resolves_as_expired() {
    let t = TestStore::new().await;
    let past = SystemTime::now() - Duration::from_secs(10);
    t.store
        .put("alice", "github", NewCredential::new("gho_a").with_expiry(past), "test")
        .await
        .unwrap();

    let err =
        StoreTokenResolver::new(t.store.clone()).resolve(&alice(), "github").await.unwrap_err();

    assert_eq!(err, CredentialError::Expired { resource_type: "github".into() });
}

#[tokio::test]
async fn an_undecryptable_row_is_unavailable_not_handed_out() {
    let t = TestStore::new().await;
    t.store.put("bob", "github", NewCredential::new("gho_bob"), "test").await.unwrap();
    t.raw().execute("UPDATE credentials SET user_id = 'alice'", []).unwrap();
    let resolver =
        StoreTokenResolver::new(t.store.clone()).with_retry_after(Duration::from_secs(7));

    let err = resolver.resolve(&alice(), "github").await.unwrap_err();

    assert_eq!(
        err,
        CredentialError::TenantManagerUnavailable { retry_after: Duration::from_secs(7) }
    );
}

/// Counts calls; answers with a fixed credential.
struct CountingRefresher(AtomicUsize);

#[async_trait::async_trait]
impl Refresher for CountingRefresher {
    async fn refresh(
        &self,
        _store: &CredentialStore,
        stored: &StoredCredential,
    ) -> Result<Option<Credential>, CredentialError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        assert_eq!(stored.refresh_token.as_ref().unwrap().expose(), "ghr_a");
        Ok(Some(Credential::new("gho_refreshed")))
    }
}

#[tokio::test]
async fn the_refresher_is_asked_only_near_expiry_and_only_with_a_refresh_token() {
    let t = TestStore::new().await;
    let refresher = Arc::new(CountingRefresher(AtomicUsize::new(0)));
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(refresher.clone())
        .with_refresh_margin(Duration::from_secs(300));
    let soon = SystemTime::now() + Duration::from_secs(60);
    let later = SystemTime::now() + Duration::from_secs(3600);

    let far = NewCredential::new("gho_a").with_refresh_token("ghr_a").with_expiry(later);
    t.store.put("alice", "github", far, "test").await.unwrap();
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "gho_a");
    assert_eq!(refresher.0.load(Ordering::SeqCst), 0);

    let no_refresh_token = NewCredential::new("gho_a").with_expiry(soon);
    t.store.put("alice", "github", no_refresh_token, "test").await.unwrap();
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "gho_a");
    assert_eq!(refresher.0.load(Ordering::SeqCst), 0);

    let near = NewCredential::new("gho_a").with_refresh_token("ghr_a").with_expiry(soon);
    t.store.put("alice", "github", near, "test").await.unwrap();
    let credential = resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(credential.secret().expose(), "gho_refreshed");
    assert_eq!(refresher.0.load(Ordering::SeqCst), 1);
}
