//! Shared helpers of the store tests: a real store in a temporary directory, raw access to its
//! SQLite file, and a search of the file's bytes.
#![allow(dead_code)] // each test binary uses its own subset

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

pub mod captured;
pub mod provider;

use mcp_auth_store::{CredentialStore, Keyring};
use rusqlite::Connection;
use tempfile::TempDir;

/// How long a test waits for something to happen before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A store in its own temporary directory (removed when dropped).
pub struct TestStore {
    pub store: CredentialStore,
    pub keyring: Keyring,
    pub dir: TempDir,
}

impl TestStore {
    pub async fn new() -> Self {
        Self::with_keyring(Keyring::generate()).await
    }

    pub async fn with_keyring(keyring: Keyring) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::open(dir.path().join("credentials.db"), keyring.clone())
            .await
            .unwrap();
        Self { store, keyring, dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("credentials.db")
    }

    /// The same file opened again, with `keyring`.
    pub async fn reopen(&self, keyring: Keyring) -> CredentialStore {
        CredentialStore::open(self.path(), keyring).await.unwrap()
    }

    /// A second, raw connection to the file (SQLite shares it through its own locking).
    pub fn raw(&self) -> Connection {
        let conn = Connection::open(self.path()).unwrap();
        conn.busy_timeout(DEADLINE).unwrap();
        conn
    }

    /// The audit table, oldest first: (actor, action, user_id, resource_type, outcome).
    pub fn audit(&self) -> Vec<AuditRow> {
        let conn = self.raw();
        let mut statement = conn
            .prepare("SELECT actor, action, user_id, resource_type, outcome FROM audit ORDER BY id")
            .unwrap();
        statement
            .query_map([], |row| {
                Ok(AuditRow {
                    actor: row.get(0)?,
                    action: row.get(1)?,
                    user_id: row.get(2)?,
                    resource_type: row.get(3)?,
                    outcome: row.get(4)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Every file in the store's directory, with its bytes.
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        files(self.dir.path())
    }

    /// Panics if any file in the store's directory contains any of `needles`.
    pub fn assert_absent_from_disk(&self, needles: &[&str]) {
        assert_absent_from_disk(self.dir.path(), needles);
    }
}

/// Every file in `dir` (the database, its `-wal` and `-shm`, any journal), with its bytes.
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Panics if any file in `dir` contains any of `needles`, or if there is no database there.
pub fn assert_absent_from_disk(dir: &Path, needles: &[&str]) {
    let files = files(dir);
    assert!(files.iter().any(|(path, _)| is_named(path, "credentials.db")), "no database");
    for (path, bytes) in &files {
        for needle in needles {
            assert!(!contains(bytes, needle.as_bytes()), "{needle:?} found in {path:?}");
        }
    }
}

/// One row of the audit table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub actor: String,
    pub action: String,
    pub user_id: Option<String>,
    pub resource_type: Option<String>,
    pub outcome: String,
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn is_named(path: &Path, name: &str) -> bool {
    path.file_name().is_some_and(|n| n == name)
}

/// The service token of the test servers.
pub const SERVICE_TOKEN: &str = "svc-token-5f1e9a-store";
/// The admin token of the test servers.
pub const ADMIN_TOKEN: &str = "adm-token-c07d2b-store";

/// The tenant-manager API over `store`, served on `127.0.0.1:0`; returns its base URL. The
/// server runs until the test's runtime ends.
pub async fn serve(store: &CredentialStore) -> String {
    let router = mcp_auth_store::TenantManagerService::new(store.clone())
        .with_service_token(SERVICE_TOKEN)
        .with_admin_token(ADMIN_TOKEN)
        .with_body_limit(4096)
        .with_rotation_batch(3)
        .router()
        .unwrap();
    serve_router(router).await
}

/// Serves `router` on `127.0.0.1:0`; returns its base URL.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The secrets [`exercise_every_operation`] stores.
pub const AUDITED_SECRETS: [&str; 3] =
    ["gho_audit_access_91c2", "ghr_audit_refresh_44d0", "gho_audit_second_7e1b"];

/// One of each store operation, in a fixed order: what the audit tests read back.
pub async fn exercise_every_operation(t: &TestStore) {
    use mcp_auth_store::NewCredential;
    let s = &t.store;
    let credential = NewCredential::new(AUDITED_SECRETS[0]).with_refresh_token(AUDITED_SECRETS[1]);
    s.put("alice", "github", credential, "admin-api").await.unwrap();
    s.put("alice", "github", NewCredential::new(AUDITED_SECRETS[2]), "admin-api").await.unwrap();
    s.get("alice", "github", "gateway").await.unwrap().unwrap();
    s.get("bob", "github", "gateway").await.unwrap();
    s.list(Some("alice"), "cli").await.unwrap();
    s.mark_needs_reconnect("alice", "github", "refresher").await.unwrap();
    s.delete("alice", "github", "cli").await.unwrap();
    s.revoke_user("alice", "admin-api").await.unwrap();
    s.get("alice", "github", "gateway").await.unwrap();
}
