//! The database file, its WAL and every other file SQLite keeps beside it never hold a
//! credential's secret in the clear: not after puts, not after updates, not after a key
//! rotation, not after closing.

mod support;

use mcp_auth_store::NewCredential;
use support::TestStore;

const USERS: usize = 20;

fn secrets(generation: usize, user: usize) -> [String; 2] {
    [
        format!("gho_access_{generation}_{user}_7f3a9c"),
        format!("ghr_refresh_{generation}_{user}_2b8e1d"),
    ]
}

#[tokio::test]
async fn no_token_is_on_disk_after_puts_updates_and_rotation() {
    let t = TestStore::new().await;
    let mut written = Vec::new();
    for generation in 0..2 {
        for user in 0..USERS {
            let [access, refresh] = secrets(generation, user);
            let credential = NewCredential::new(access.clone()).with_refresh_token(refresh.clone());
            t.store.put(&format!("user{user}"), "github", credential, "test").await.unwrap();
            written.extend([access, refresh]);
        }
        let needles: Vec<&str> = written.iter().map(String::as_str).collect();
        t.assert_absent_from_disk(&needles);
    }

    let rotated = t.reopen(t.keyring.clone().with_generated_key("k2").unwrap()).await;
    let report = rotated.rotate_key(3, "test").await.unwrap();
    assert_eq!(report.rotated, USERS as u64);
    // The store works on what it wrote: the latest generation reads back.
    let stored = rotated.get("user7", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), secrets(1, 7)[0]);

    let needles: Vec<&str> = written.iter().map(String::as_str).collect();
    t.assert_absent_from_disk(&needles);
    // Closing the last connection checkpoints the WAL into the main file.
    let TestStore { store, dir, .. } = t;
    drop((store, rotated));
    support::assert_absent_from_disk(dir.path(), &needles);
    // The search itself works: the user ids, stored in the clear, are found.
    let files = support::files(dir.path());
    assert!(files.iter().any(|(_, bytes)| support::contains(bytes, b"user7")));
}
