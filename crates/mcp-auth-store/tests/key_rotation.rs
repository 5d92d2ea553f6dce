//! Key rotation: every row ends up under the current key, none is lost or left unreadable,
//! while reads and puts go on; rows that cannot be opened are skipped, reported and kept.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Instant,
};

use mcp_auth_store::{Keyring, NewCredential, StoreError};
use support::{DEADLINE, TestStore};

fn token(user: usize, generation: usize) -> String {
    format!("tok_{user}_{generation}")
}

async fn store_with(users: usize) -> TestStore {
    let t = TestStore::new().await;
    for user in 0..users {
        t.store
            .put(&format!("u{user}"), "github", NewCredential::new(token(user, 0)), "test")
            .await
            .unwrap();
    }
    t
}

fn key_ids(t: &TestStore) -> Vec<(String, i64)> {
    let conn = t.raw();
    let mut statement = conn
        .prepare("SELECT key_id, count(*) FROM credentials GROUP BY key_id ORDER BY key_id")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn rotation_re_encrypts_every_row_under_the_current_key_in_batches() {
    let t = store_with(25).await;
    let keyring = t.keyring.clone().with_generated_key("k2").unwrap();
    let store = t.reopen(keyring.clone()).await;

    let report = store.rotate_key(4, "operator").await.unwrap();

    assert_eq!((report.key_id.as_str(), report.rotated, report.failed), ("k2", 25, 0));
    assert_eq!(report.batches, 7);
    assert_eq!(key_ids(&t), [("k2".to_owned(), 25)]);
    // The old key can go: a keyring of k2 alone reads every row.
    let only_k2 = Keyring::parse(keyring.export().expose().lines().next().unwrap()).unwrap();
    assert_eq!(only_k2.ids().collect::<Vec<_>>(), ["k2"]);
    let store = t.reopen(only_k2).await;
    for user in 0..25 {
        let stored = store.get(&format!("u{user}"), "github", "test").await.unwrap().unwrap();
        assert_eq!(stored.access_token.expose(), token(user, 0));
    }
    // A second run finds nothing to do.
    let again = store.rotate_key(4, "operator").await.unwrap();
    assert_eq!((again.rotated, again.batches), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_concurrent_reads_and_puts_loses_nothing() {
    const USERS: usize = 200;
    let t = store_with(USERS).await;
    let store = t.reopen(t.keyring.clone().with_generated_key("k2").unwrap()).await;
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));

    // Readers: every read, before, during and after rotation, finds the latest token of its
    // user (generation 0, or 1 once the writer has passed it).
    let mut tasks = Vec::new();
    for reader in 0..3 {
        let (store, done, reads) = (store.clone(), done.clone(), reads.clone());
        tasks.push(tokio::spawn(async move {
            let mut user = reader;
            while !done.load(Ordering::SeqCst) {
                let stored = store.get(&format!("u{user}"), "github", "reader").await.unwrap();
                let stored = stored.unwrap_or_else(|| panic!("u{user} lost"));
                let token = stored.access_token.expose();
                assert!(token == self::token(user, 0) || token == self::token(user, 1), "{token}");
                reads.fetch_add(1, Ordering::SeqCst);
                user = (user + 7) % USERS;
            }
        }));
    }
    // A writer: puts generation 1 for every even user while the rotation runs.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for user in (0..USERS).step_by(2) {
                let credential = NewCredential::new(token(user, 1));
                store.put(&format!("u{user}"), "github", credential, "writer").await.unwrap();
            }
        })
    };

    // The readers are going before the rotation starts, and still going while it runs.
    let deadline = Instant::now() + DEADLINE;
    while reads.load(Ordering::SeqCst) < 20 {
        assert!(Instant::now() < deadline, "readers did not start");
        tokio::task::yield_now().await;
    }
    let before = reads.load(Ordering::SeqCst);
    let report = store.rotate_key(5, "operator").await.unwrap();
    assert!(reads.load(Ordering::SeqCst) > before, "no read overlapped the rotation");
    writer.await.unwrap();
    // Let the readers overlap the rotation's end too, then stop them.
    let deadline = Instant::now() + DEADLINE;
    let seen = reads.load(Ordering::SeqCst);
    while reads.load(Ordering::SeqCst) < seen + 50 {
        assert!(Instant::now() < deadline, "readers stalled");
        tokio::task::yield_now().await;
    }
    done.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(report.failed, 0);
    // Rows put by the writer before the rotation reached them were already under k2.
    assert!(report.rotated <= USERS as u64 && report.rotated >= (USERS / 2) as u64, "{report:?}");
    assert_eq!(key_ids(&t), [("k2".to_owned(), USERS as i64)]);
    for user in 0..USERS {
        let stored = store.get(&format!("u{user}"), "github", "test").await.unwrap().unwrap();
        let generation = if user % 2 == 0 { 1 } else { 0 };
        assert_eq!(stored.access_token.expose(), token(user, generation));
    }
}

#[tokio::test]
async fn a_row_that_cannot_be_opened_is_skipped_reported_and_kept() {
    let t = store_with(5).await;
    // u2's row under a key id the keyring does not hold; u3's moved to another resource type.
    t.raw().execute("UPDATE credentials SET key_id = 'k0' WHERE user_id = 'u2'", []).unwrap();
    t.raw()
        .execute("UPDATE credentials SET resource_type = 'gitlab' WHERE user_id = 'u3'", [])
        .unwrap();
    let store = t.reopen(t.keyring.clone().with_generated_key("k2").unwrap()).await;

    let report = store.rotate_key(2, "operator").await.unwrap();

    assert_eq!((report.rotated, report.failed), (3, 2));
    assert_eq!(key_ids(&t), [("k0".to_owned(), 1), ("k1".to_owned(), 1), ("k2".to_owned(), 3)]);
    let skipped: Vec<_> = t
        .audit()
        .into_iter()
        .filter(|row| row.action == "rotate_key" && row.outcome.starts_with("undecryptable"))
        .map(|row| row.user_id.unwrap())
        .collect();
    assert_eq!(skipped, ["u2", "u3"]);
    let err = store.get("u2", "github", "test").await.unwrap_err();
    assert!(matches!(err, StoreError::Undecryptable { .. }), "{err:?}");
    assert!(store.get("u4", "github", "test").await.unwrap().is_some());
}
