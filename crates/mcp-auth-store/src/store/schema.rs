//! Opening the database file: its permissions, the connection settings, and the migrations that
//! bring its schema up to date.
//!
//! Migrations are a list of SQL steps; `PRAGMA user_version` records how many have run. Each
//! step runs in its own transaction together with the `user_version` bump (SQLite keeps both in
//! the file, transactionally), so a crash leaves the schema at one version or the next.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The schema, one step per version: step `i` takes the database from version `i` to `i + 1`.
/// Never edit a released step; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: credentials, revocations, audit.
    "CREATE TABLE credentials (
        user_id       TEXT    NOT NULL,
        resource_type TEXT    NOT NULL,
        key_id        TEXT    NOT NULL,
        nonce         BLOB    NOT NULL,
        ciphertext    BLOB    NOT NULL,
        expires_at    INTEGER,
        scopes        TEXT    NOT NULL DEFAULT '',
        status        TEXT    NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'needs_reconnect')),
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (user_id, resource_type)
    ) STRICT;
    CREATE INDEX credentials_by_key ON credentials (key_id);
    CREATE TABLE revocations (
        user_id    TEXT    NOT NULL PRIMARY KEY,
        revoked_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE audit (
        id            INTEGER PRIMARY KEY,
        at            INTEGER NOT NULL,
        actor         TEXT    NOT NULL,
        action        TEXT    NOT NULL,
        user_id       TEXT,
        resource_type TEXT,
        outcome       TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_user ON audit (user_id, at);",
    // 2: the audit table's age-based retention (`audit::prune`) deletes by time.
    "CREATE INDEX audit_by_time ON audit (at);",
];

/// The schema version this crate writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens (creating if needed) the database at `path` and migrates it.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    create_private(path);
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers do not block the writer (a second process, `mcp-auth credentials list` while
    // the gateway runs). `secure_delete`: freed pages are zeroed, so ciphertext sealed under a
    // retired key does not linger in the file after rotation or deletion.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "the credential database is not in WAL mode");
    }
    conn.execute_batch("PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Creates the file readable by its owner only, before SQLite does; SQLite gives the `-wal`
/// and `-shm` files the main file's permissions. An existing file is left as it is.
fn create_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Errors (a directory that does not exist, say) are reported by SQLite's own open.
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        // Read inside the transaction: another process may be migrating the same file.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { found: version, supported: SCHEMA_VERSION });
        }
        let Some(step) = usize::try_from(version).ok().and_then(|v| MIGRATIONS.get(v)) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "credential database migrated");
    }
}
