//! Crash safety of the credential store's key rotation, through the real binary:
//! `mcp-auth credentials rotate-key` killed with SIGKILL at several points mid-run loses no
//! credential, leaves no token in the clear, and a later run finishes the job. Each batch is one
//! SQLite transaction (`mcp_auth_store::store`'s `rotate.rs`): a row is under the old key or the
//! new one, never half-written.

mod support;

use std::{process::Stdio, time::Duration};

use mcp_auth_store::{CredentialStore, Keyring, NewCredential};
use support::gateway::tempdir::Dir;

const USERS: usize = 4000;

fn token(i: usize) -> String {
    format!("tok-{i:04}-a71c-secret")
}

/// How many rows are sealed under `key_id`, read through a store of its own (WAL: readers and
/// the rotating writer do not block each other).
async fn rows_under(store: &CredentialStore, key_id: &str) -> usize {
    let listed = store.list(None, "test").await.unwrap();
    listed.iter().filter(|info| info.key_id == key_id).count()
}

/// Rows already under `k2`, read through a read-only connection of its own.
fn rotated_rows(path: &std::path::Path) -> usize {
    use rusqlite::{Connection, OpenFlags};
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    connection
        .query_row("SELECT count(*) FROM credentials WHERE key_id = 'k2'", [], |row| {
            row.get::<_, i64>(0)
        })
        .map(|rows| rows as usize)
        .unwrap()
}

#[tokio::test]
async fn a_rotation_killed_mid_run_loses_nothing_and_a_second_run_finishes_it() {
    let dir = Dir::new("rotation-kill");
    let path = dir.0.join("credentials.db");
    let old = Keyring::generate();
    {
        let store = CredentialStore::open(&path, old.clone()).await.unwrap();
        for i in 0..USERS {
            let credential =
                NewCredential::new(token(i)).with_refresh_token(format!("r{}", token(i)));
            store.put(&format!("user-{i}"), "github", credential, "test").await.unwrap();
        }
    }
    // The operator's first step: a new current key `k2`, the old `k1` kept to open old rows.
    let both = old.with_generated_key("k2").unwrap();
    std::fs::write(dir.0.join("store.keys"), both.export().expose()).unwrap();
    let config = dir.0.join("tenant-manager.toml");
    std::fs::write(&config, "[store]\nkey_file = \"store.keys\"\n").unwrap();
    let observer = CredentialStore::open(&path, both.clone()).await.unwrap();

    let mut killed_mid_run = 0;
    for round in 1..=3 {
        let mut rotation = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
            .args(["credentials", "rotate-key", "--batch-size", "1", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Killed once it has rotated a quarter, a half, three quarters of the rows: a different
        // place mid-run each round. Watched through a read-only connection, which never waits
        // for the rotation's write lock (the store's own reads are audited, hence writes, and
        // SQLite's busy handler backs off for up to 100 ms while the rotation races on).
        let mark = USERS * round / 4;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while rotated_rows(&path) < mark {
            assert!(tokio::time::Instant::now() < deadline, "the rotation did not reach {mark}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        rotation.start_kill().unwrap();
        rotation.wait().await.unwrap();
        let after = rows_under(&observer, "k2").await;
        if after < USERS {
            killed_mid_run += 1;
        }
    }
    assert!(killed_mid_run >= 1, "no kill landed mid-rotation");

    // Nothing lost: every credential opens, with its own tokens, under whichever key it is.
    let reopened = CredentialStore::open(&path, both.clone()).await.unwrap();
    for i in 0..USERS {
        let stored = reopened.get(&format!("user-{i}"), "github", "test").await.unwrap();
        let stored = stored.unwrap_or_else(|| panic!("user-{i}'s credential is lost"));
        assert_eq!(stored.access_token.expose(), token(i));
        assert_eq!(stored.refresh_token.unwrap().expose(), format!("r{}", token(i)));
    }
    assert_no_plaintext(&dir);

    // A second run finishes the job; then the old key can go.
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["credentials", "rotate-key", "--config"])
        .arg(&config)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(rows_under(&observer, "k2").await, USERS);
    drop((observer, reopened));
    let new_only = Keyring::parse(both.export().expose().lines().next().unwrap()).unwrap();
    let store = CredentialStore::open(&path, new_only).await.unwrap();
    for i in [0, USERS / 2, USERS - 1] {
        let stored = store.get(&format!("user-{i}"), "github", "test").await.unwrap().unwrap();
        assert_eq!(stored.access_token.expose(), token(i));
    }
    assert_no_plaintext(&dir);
}

fn assert_no_plaintext(dir: &Dir) {
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("credentials.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(9).any(|w| w == b"-a71c-sec");
        assert!(!found, "{} holds a token in the clear", path.display());
    }
}
