//! A sealed row is bound to its user and resource type: one moved or copied elsewhere with raw
//! SQL, or tampered with, fails to decrypt, is reported (error and audit row), and is never
//! handed out.

mod support;

use mcp_auth_store::{NewCredential, StoreError};
use support::TestStore;

async fn alice_and_bob() -> TestStore {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice_secret"), "test").await.unwrap();
    t.store.put("alice", "slack", NewCredential::new("xoxp_alice_secret"), "test").await.unwrap();
    t
}

fn assert_undecryptable(result: Result<Option<mcp_auth_store::StoredCredential>, StoreError>) {
    match result {
        Err(StoreError::Undecryptable { key_id, .. }) => assert_eq!(key_id, "k1"),
        other => panic!("expected Undecryptable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_row_moved_to_another_user_does_not_decrypt_and_is_reported() {
    let t = alice_and_bob().await;
    let moved = t
        .raw()
        .execute(
            "UPDATE credentials SET user_id = 'bob' WHERE user_id = 'alice' AND resource_type = 'github'",
            [],
        )
        .unwrap();
    assert_eq!(moved, 1);

    assert_undecryptable(t.store.get("bob", "github", "gateway").await);

    let last = t.audit().pop().unwrap();
    assert_eq!(last.action, "get");
    assert_eq!(last.user_id.as_deref(), Some("bob"));
    assert!(last.outcome.starts_with("undecryptable"), "{last:?}");
    // Alice's other credential is untouched.
    assert!(t.store.get("alice", "slack", "test").await.unwrap().is_some());
}

#[tokio::test]
async fn a_row_copied_to_another_user_does_not_decrypt() {
    let t = alice_and_bob().await;
    t.raw()
        .execute(
            "INSERT INTO credentials SELECT 'bob', resource_type, key_id, nonce, ciphertext,
                    expires_at, scopes, status, created_at, updated_at
             FROM credentials WHERE user_id = 'alice' AND resource_type = 'github'",
            [],
        )
        .unwrap();

    assert_undecryptable(t.store.get("bob", "github", "gateway").await);
    let alices = t.store.get("alice", "github", "gateway").await.unwrap().unwrap();
    assert_eq!(alices.access_token.expose(), "gho_alice_secret");
}

#[tokio::test]
async fn a_row_moved_to_another_resource_type_does_not_decrypt() {
    let t = alice_and_bob().await;
    t.raw().execute("DELETE FROM credentials WHERE resource_type = 'slack'", []).unwrap();
    t.raw()
        .execute("UPDATE credentials SET resource_type = 'slack' WHERE user_id = 'alice'", [])
        .unwrap();

    assert_undecryptable(t.store.get("alice", "slack", "gateway").await);
}

#[tokio::test]
async fn a_tampered_ciphertext_does_not_decrypt() {
    let t = alice_and_bob().await;
    let conn = t.raw();
    let mut ciphertext: Vec<u8> = conn
        .query_row(
            "SELECT ciphertext FROM credentials WHERE user_id = 'alice' AND resource_type = 'github'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    ciphertext[3] ^= 0x20;
    conn.execute(
        "UPDATE credentials SET ciphertext = ?1 WHERE user_id = 'alice' AND resource_type = 'github'",
        [ciphertext],
    )
    .unwrap();

    assert_undecryptable(t.store.get("alice", "github", "gateway").await);
}
