//! The `CredentialStore` API on a real SQLite file: what a put stores, what reads return, how
//! listing, deletion, revocation and status changes behave, what is refused, and that it all
//! survives reopening the file.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_auth_store::{
    CredentialStatus, CredentialStore, Keyring, Lookup, NewCredential, StoreError,
};
use support::TestStore;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[tokio::test]
async fn a_put_credential_reads_back_with_its_secrets_expiry_and_scopes() {
    let t = TestStore::new().await;
    let credential = NewCredential::new("gho_alice")
        .with_refresh_token("ghr_alice")
        .with_expiry(at(4_102_444_800) + Duration::from_millis(700))
        .with_scopes(["repo", "read:org"]);

    let info = t.store.put("alice", "github", credential, "test").await.unwrap();

    assert_eq!(info.key_id, "k1");
    assert_eq!(info.status, CredentialStatus::Active);
    let stored = t.store.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), "gho_alice");
    assert_eq!(stored.refresh_token.as_ref().unwrap().expose(), "ghr_alice");
    // Stored to the second.
    assert_eq!(stored.info.expires_at, Some(at(4_102_444_800)));
    assert_eq!(stored.info.scopes, ["repo", "read:org"]);
    assert_eq!(stored.info, info);
    assert!(!stored.is_expired());
    let printed = format!("{stored:?}");
    assert!(!printed.contains("gho_alice") && !printed.contains("ghr_alice"), "{printed}");
}

#[tokio::test]
async fn a_missing_credential_is_none_and_other_users_see_nothing_of_alices() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice"), "test").await.unwrap();

    assert!(t.store.get("bob", "github", "test").await.unwrap().is_none());
    assert!(t.store.get("alice", "gitlab", "test").await.unwrap().is_none());
    assert!(matches!(t.store.lookup("bob", "github", "test").await.unwrap(), Lookup::NotFound));
}

#[tokio::test]
async fn a_second_put_replaces_the_credential_and_makes_it_active_again() {
    let t = TestStore::new().await;
    let first = t
        .store
        .put("alice", "github", NewCredential::new("gho_one").with_refresh_token("ghr_one"), "test")
        .await
        .unwrap();
    assert!(t.store.mark_needs_reconnect("alice", "github", "test").await.unwrap());

    let second =
        t.store.put("alice", "github", NewCredential::new("gho_two"), "test").await.unwrap();

    let stored = t.store.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), "gho_two");
    assert!(stored.refresh_token.is_none(), "the old refresh token must not survive");
    assert_eq!(stored.info.status, CredentialStatus::Active);
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(t.store.list(None, "test").await.unwrap().len(), 1);
}

#[tokio::test]
async fn list_shows_every_credential_or_one_users_without_secrets() {
    let t = TestStore::new().await;
    for (user, resource) in [("bob", "github"), ("alice", "slack"), ("alice", "github")] {
        let token = format!("tok_{user}_{resource}");
        t.store.put(user, resource, NewCredential::new(token), "test").await.unwrap();
    }

    let all = t.store.list(None, "test").await.unwrap();
    let keys: Vec<_> = all.iter().map(|i| (i.user_id.as_str(), i.resource_type.as_str())).collect();
    assert_eq!(keys, [("alice", "github"), ("alice", "slack"), ("bob", "github")]);
    let alices = t.store.list(Some("alice"), "test").await.unwrap();
    assert_eq!(alices.len(), 2);
    assert!(alices.iter().all(|info| info.user_id == "alice"));
    let printed = format!("{all:?}");
    assert!(!printed.contains("tok_"), "{printed}");
}

#[tokio::test]
async fn delete_removes_one_credential_and_says_whether_there_was_one() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    t.store.put("alice", "slack", NewCredential::new("xoxp_a"), "test").await.unwrap();

    assert!(t.store.delete("alice", "github", "test").await.unwrap());
    assert!(!t.store.delete("alice", "github", "test").await.unwrap());

    assert!(t.store.get("alice", "github", "test").await.unwrap().is_none());
    assert!(t.store.get("alice", "slack", "test").await.unwrap().is_some());
}

#[tokio::test]
async fn revoking_a_user_deletes_their_credentials_and_holds_until_a_new_put() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    t.store.put("alice", "slack", NewCredential::new("xoxp_a"), "test").await.unwrap();
    t.store.put("bob", "github", NewCredential::new("gho_b"), "test").await.unwrap();

    assert_eq!(t.store.revoke_user("alice", "admin").await.unwrap(), 2);

    assert!(t.store.is_revoked("alice").await.unwrap());
    assert!(!t.store.is_revoked("bob").await.unwrap());
    assert!(matches!(
        t.store.lookup("alice", "github", "test").await.unwrap(),
        Lookup::Revoked { .. }
    ));
    assert!(t.store.get("alice", "slack", "test").await.unwrap().is_none());
    assert!(t.store.get("bob", "github", "test").await.unwrap().is_some());

    // A new credential is an explicit re-grant.
    t.store.put("alice", "github", NewCredential::new("gho_a2"), "admin").await.unwrap();
    assert!(!t.store.is_revoked("alice").await.unwrap());
    assert!(matches!(t.store.lookup("alice", "slack", "test").await.unwrap(), Lookup::NotFound));
}

#[tokio::test]
async fn a_credential_marked_needs_reconnect_reads_back_with_that_status() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();

    assert!(t.store.mark_needs_reconnect("alice", "github", "refresher").await.unwrap());
    assert!(!t.store.mark_needs_reconnect("bob", "github", "refresher").await.unwrap());

    let stored = t.store.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.info.status, CredentialStatus::NeedsReconnect);
}

#[tokio::test]
async fn credentials_survive_closing_and_reopening_the_file() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    t.store.revoke_user("mallory", "test").await.unwrap();

    let reopened = t.reopen(t.keyring.clone()).await;

    let stored = reopened.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), "gho_a");
    assert!(reopened.is_revoked("mallory").await.unwrap());
}

#[tokio::test]
async fn another_keyring_cannot_read_the_credentials() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();

    // Same key id, another key.
    let reopened = t.reopen(Keyring::generate()).await;

    let err = reopened.get("alice", "github", "test").await.unwrap_err();
    assert!(matches!(err, StoreError::Undecryptable { .. }), "{err:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();

    for (path, _) in t.files() {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path:?}");
    }
}

#[tokio::test]
async fn invalid_ids_scopes_and_tokens_are_refused_before_anything_is_stored() {
    let t = TestStore::new().await;
    let put = |user: &'static str, resource: &'static str, credential: NewCredential| {
        let store = t.store.clone();
        async move { store.put(user, resource, credential, "test").await }
    };
    let field = |result: Result<_, StoreError>| match result {
        Err(StoreError::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };

    assert_eq!(field(put("", "github", NewCredential::new("t")).await), "user_id");
    assert_eq!(field(put("al\nice", "github", NewCredential::new("t")).await), "user_id");
    assert_eq!(field(put("alice", "", NewCredential::new("t")).await), "resource_type");
    assert_eq!(field(put("alice", "git hub", NewCredential::new("t")).await), "resource_type");
    assert_eq!(field(put("alice", "github", NewCredential::new("")).await), "access_token");
    let huge = "x".repeat(16 * 1024 + 1);
    assert_eq!(field(put("alice", "github", NewCredential::new(huge)).await), "access_token");
    let spaced = NewCredential::new("t").with_scopes(["repo read"]);
    assert_eq!(field(put("alice", "github", spaced).await), "scopes");
    let early = NewCredential::new("t").with_expiry(UNIX_EPOCH - Duration::from_secs(1));
    assert_eq!(field(put("alice", "github", early).await), "expires_at");
    let err = t.store.put("alice", "github", NewCredential::new("t"), "").await;
    assert_eq!(field(err), "actor");

    assert!(t.store.list(None, "test").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused() {
    let t = TestStore::new().await;
    t.raw().pragma_update(None, "user_version", 99).unwrap();

    let err = CredentialStore::open(t.path(), t.keyring.clone()).await.unwrap_err();

    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, supported: 2 }), "{err:?}");
}
