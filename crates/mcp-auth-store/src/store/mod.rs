//! [`CredentialStore`]: the per-user credentials in one SQLite file, their secrets sealed with
//! the [`Keyring`], every read and change audited.
//!
//! # Layout
//!
//! | table | one row per | holds |
//! |---|---|---|
//! | `credentials` | (user_id, resource_type) | key_id, nonce, ciphertext (access + refresh token, sealed: see `seal.rs`), expires_at (unix s, nullable), scopes (space-separated), status (`active` \| `needs_reconnect`), created_at, updated_at |
//! | `revocations` | revoked user | revoked_at |
//! | `audit` | read or change | at, actor, action, user_id, resource_type, outcome — never a secret |
//!
//! The audit table is bounded by an [`AuditRetention`] (age and row count), pruned every
//! [`AUDIT_PRUNE_EVERY`] audited operations.
//!
//! The file is created `0600` (unix), in WAL mode with `secure_delete` on; the schema is
//! migrated on open (`PRAGMA user_version`, see `schema.rs`).
//!
//! # Concurrency
//!
//! One connection behind a `std::sync::Mutex`, used on tokio's blocking threads
//! (`spawn_blocking`): SQLite serialises writers anyway, each operation is a few
//! microseconds to a millisecond, and a single connection keeps transactions simple to reason
//! about. Long work (key rotation) releases the connection between batches. Other processes
//! (the CLI while the gateway runs) share the file through SQLite's own locking, waiting up to
//! the busy timeout.

mod audit;
mod changes;
mod error;
mod rotate;
mod schema;
mod sql;
mod types;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mcp_auth::{Principal, Secret, UserIdLogging};
use rusqlite::Connection;

pub(crate) use self::changes::{ChangeFeed, ChangeListener};
use self::{audit::Event, schema::SCHEMA_VERSION};
#[doc(inline)]
pub use self::{
    audit::{AUDIT_PRUNE_EVERY, AUDIT_TARGET, AuditRetention},
    error::StoreError,
    types::{
        CredentialInfo, CredentialStatus, Lookup, NewCredential, RotationReport, StoredCredential,
    },
};
use crate::{
    keys::Keyring,
    seal::{self, Secrets},
};

/// Longest access or refresh token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Most scopes accepted on one credential.
pub const MAX_SCOPES: usize = 100;
/// Longest resource type and actor name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Rows re-encrypted per transaction by [`CredentialStore::rotate_key`] unless told otherwise.
pub const DEFAULT_ROTATION_BATCH: u32 = 100;

/// The encrypted per-user credential store. Cheap to clone: clones share the connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mcp_auth_store::{CredentialStore, Keyring, NewCredential};
/// let store = CredentialStore::open("credentials.db", Keyring::from_env("MCP_AUTH_STORE_KEYS")?).await?;
/// store.put("alice", "github", NewCredential::new("gho_…"), "cli").await?;
/// let credential = store.get("alice", "github", "cli").await?.expect("just stored");
/// assert_eq!(credential.access_token.expose(), "gho_…");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CredentialStore {
    inner: Arc<Inner>,
    user_ids: UserIdLogging,
    retention: AuditRetention,
}

struct Inner {
    conn: Mutex<Connection>,
    keyring: Keyring,
    path: PathBuf,
    /// Audited operations so far, to prune the audit table every [`AUDIT_PRUNE_EVERY`].
    audited: AtomicU64,
    changes: ChangeFeed,
}

impl Inner {
    /// Counts `events` audited operations on `conn` and prunes the audit table when a multiple
    /// of [`AUDIT_PRUNE_EVERY`] is crossed. A failed prune is logged, not returned: the
    /// operation it follows has succeeded, and the next prune tries again.
    fn audited(&self, conn: &Connection, events: u64, retention: AuditRetention) {
        let before = self.audited.fetch_add(events, Ordering::Relaxed);
        if (before + events) / AUDIT_PRUNE_EVERY == before / AUDIT_PRUNE_EVERY {
            return;
        }
        match audit::prune(conn, retention) {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "audit rows past their retention deleted"),
            Err(error) => tracing::warn!(%error, "cannot prune the audit table"),
        }
    }
}

impl std::fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialStore")
            .field("path", &self.inner.path)
            .field("keyring", &self.inner.keyring)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// Opens the store at `path`, creating and migrating the database as needed. Rows sealed
    /// under a key id the keyring lacks are reported (a warning per key id) but do not stop the
    /// store from opening: they fail only when read.
    pub async fn open(path: impl Into<PathBuf>, keyring: Keyring) -> Result<Self, StoreError> {
        let path = path.into();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || schema::open(&opened))
            .await
            .map_err(|_| StoreError::Worker)??;
        let store = Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                keyring,
                path,
                audited: AtomicU64::new(0),
                changes: ChangeFeed::default(),
            }),
            user_ids: UserIdLogging::default(),
            retention: AuditRetention::DEFAULT,
        };
        for (key_id, rows) in store.key_usage().await? {
            if !store.inner.keyring.contains(&key_id) {
                tracing::warn!(
                    key_id,
                    rows,
                    "credentials are sealed under a key that is not in the keyring; they cannot \
                     be read until it is added back"
                );
            }
        }
        tracing::debug!(
            schema_version = SCHEMA_VERSION,
            current_key = store.inner.keyring.current_id(),
            "credential store open"
        );
        Ok(store)
    }

    /// How audit events name users (default: a keyed tag under the process's random key; the
    /// audit table always keeps the id itself). Give it the gateway's own setting.
    pub fn with_user_id_logging(mut self, user_ids: UserIdLogging) -> Self {
        self.user_ids = user_ids;
        self
    }

    /// How much of the audit trail the table keeps (default [`AuditRetention::DEFAULT`]).
    /// Applied from the next prune on; give every store opened on one file the same setting.
    pub fn with_audit_retention(mut self, retention: AuditRetention) -> Self {
        self.retention = retention;
        self
    }

    /// The changes made through this store (and its clones), for the caches in front of it.
    pub(crate) fn changes(&self) -> &ChangeFeed {
        &self.inner.changes
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The keyring the store seals and opens with.
    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// Stores (or replaces) the credential of `user_id` for `resource_type`, sealed under the
    /// current key, status `active`. It lifts a revocation of the user: storing a credential
    /// is an explicit re-grant. `actor` names who does it, for the audit log.
    pub async fn put(
        &self,
        user_id: &str,
        resource_type: &str,
        credential: NewCredential,
        actor: &str,
    ) -> Result<CredentialInfo, StoreError> {
        check_ids(Some(user_id), Some(resource_type), actor)?;
        let NewCredential { access_token, refresh_token, expires_at, scopes } = credential;
        check_token("access_token", &access_token, false)?;
        if let Some(refresh) = &refresh_token {
            check_token("refresh_token", refresh, true)?;
        }
        let scopes = join_scopes(&scopes)?;
        let expires_at = expires_at.map(to_secs).transpose()?;
        let secrets = Secrets { access_token, refresh_token };
        let sealed = seal::seal(&self.inner.keyring, user_id, resource_type, &secrets)
            .map_err(|_| StoreError::Seal)?;
        drop(secrets);
        let (user_id, resource_type, actor) = owned(user_id, resource_type, actor);
        self.run(move |conn, _| {
            let row = sql::PutRow {
                user_id: &user_id,
                resource_type: &resource_type,
                sealed: &sealed,
                expires_at,
                scopes: &scopes,
            };
            sql::put(conn, &row, &actor)
        })
        .await
    }

    /// Reads and decrypts the credential of `user_id` for `resource_type`, telling a missing
    /// credential from a revoked user. A row that does not decrypt (moved, tampered, or under
    /// a key not in the keyring) is [`StoreError::Undecryptable`], never returned.
    pub async fn lookup(
        &self,
        user_id: &str,
        resource_type: &str,
        actor: &str,
    ) -> Result<Lookup, StoreError> {
        check_ids(Some(user_id), Some(resource_type), actor)?;
        let (user_id, resource_type, actor) = owned(user_id, resource_type, actor);
        self.run(move |conn, keyring| sql::lookup(conn, keyring, &user_id, &resource_type, &actor))
            .await
    }

    /// Like [`lookup`](Self::lookup), with "not found" and "revoked" both `None`.
    pub async fn get(
        &self,
        user_id: &str,
        resource_type: &str,
        actor: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        Ok(match self.lookup(user_id, resource_type, actor).await? {
            Lookup::Found(credential) => Some(credential),
            Lookup::NotFound | Lookup::Revoked { .. } => None,
        })
    }

    /// Every stored credential, or those of `user_id`, without their secrets (nothing is
    /// decrypted).
    pub async fn list(
        &self,
        user_id: Option<&str>,
        actor: &str,
    ) -> Result<Vec<CredentialInfo>, StoreError> {
        check_ids(user_id, None, actor)?;
        let user_id = user_id.map(str::to_owned);
        let actor = actor.to_owned();
        self.run(move |conn, _| sql::list(conn, user_id.as_deref(), &actor)).await
    }

    /// Deletes the credential of `user_id` for `resource_type`; true when there was one.
    pub async fn delete(
        &self,
        user_id: &str,
        resource_type: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        check_ids(Some(user_id), Some(resource_type), actor)?;
        let (user_id, resource_type, actor) = owned(user_id, resource_type, actor);
        self.run(move |conn, _| sql::delete(conn, &user_id, &resource_type, &actor)).await
    }

    /// Deletes every credential of `user_id` and records the revocation, which
    /// [`lookup`](Self::lookup) reports (and the tenant-manager API answers `410 Gone`) until a
    /// new credential is [put](Self::put). Returns how many credentials were deleted.
    pub async fn revoke_user(&self, user_id: &str, actor: &str) -> Result<u64, StoreError> {
        check_ids(Some(user_id), None, actor)?;
        let (user_id, actor) = (user_id.to_owned(), actor.to_owned());
        self.run(move |conn, _| sql::revoke_user(conn, &user_id, &actor)).await
    }

    /// True when `user_id` has been revoked and nothing was put for it since. Reads no
    /// credential, so it is not audited.
    pub async fn is_revoked(&self, user_id: &str) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        self.run_unaudited(move |conn| sql::revoked_at(conn, &user_id)).await.map(|at| at.is_some())
    }

    /// Marks the credential of `user_id` for `resource_type` as needing the user to connect
    /// the account again (the provider refused it); true when there was one.
    pub async fn mark_needs_reconnect(
        &self,
        user_id: &str,
        resource_type: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        check_ids(Some(user_id), Some(resource_type), actor)?;
        let (user_id, resource_type, actor) = owned(user_id, resource_type, actor);
        self.run(move |conn, _| {
            sql::set_status(
                conn,
                &user_id,
                &resource_type,
                CredentialStatus::NeedsReconnect,
                &actor,
            )
        })
        .await
    }

    /// Re-encrypts every credential not sealed under the keyring's current key, `batch_size`
    /// rows per transaction (0 means [`DEFAULT_ROTATION_BATCH`]). Safe while the store is in
    /// use and safe to kill at any point; see `rotate.rs`. Rows that cannot be opened are left
    /// as they are and counted in [`RotationReport::failed`].
    pub async fn rotate_key(
        &self,
        batch_size: u32,
        actor: &str,
    ) -> Result<RotationReport, StoreError> {
        check_ids(None, None, actor)?;
        let batch_size = if batch_size == 0 { DEFAULT_ROTATION_BATCH } else { batch_size };
        let mut report = RotationReport {
            key_id: self.inner.keyring.current_id().to_owned(),
            ..RotationReport::default()
        };
        let mut after_rowid = 0;
        loop {
            let actor = actor.to_owned();
            let inner = self.inner.clone();
            let retention = self.retention;
            let batch = tokio::task::spawn_blocking(move || {
                let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
                let batch = rotate::rotate_batch(
                    &mut conn,
                    &inner.keyring,
                    after_rowid,
                    batch_size,
                    &actor,
                );
                if let Ok(Some(batch)) = &batch {
                    inner.audited(&conn, batch.events.len() as u64, retention);
                }
                batch
            })
            .await
            .map_err(|_| StoreError::Worker)??;
            let Some(batch) = batch else { break };
            for event in &batch.events {
                event.emit(&self.user_ids);
            }
            rotate::tally(&mut report, &batch);
            after_rowid = batch.last_rowid;
        }
        Ok(report)
    }

    /// How many credentials each key id seals (not audited: no credential is read).
    async fn key_usage(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.run_unaudited(|conn| {
            let mut statement = conn.prepare(
                "SELECT key_id, count(*) FROM credentials GROUP BY key_id ORDER BY key_id",
            )?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Runs `work` on the connection on a blocking thread, then emits the audit event it
    /// recorded.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Keyring) -> Result<(T, Event), StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        let retention = self.retention;
        let (value, event) = tokio::task::spawn_blocking(move || {
            // A panic mid-operation rolled its transaction back (`Transaction` drops roll back),
            // so the connection is still consistent: poisoning is ignored.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let done = work(&mut conn, &inner.keyring);
            // Counted whatever the outcome: a failed read (an undecryptable row) is audited too.
            inner.audited(&conn, 1, retention);
            done
        })
        .await
        .map_err(|_| StoreError::Worker)??;
        event.emit(&self.user_ids);
        if event.is_change()
            && let Some(user_id) = &event.user_id
        {
            self.inner.changes.changed(user_id, event.resource_type.as_deref()).await;
        }
        Ok(value)
    }

    async fn run_unaudited<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&conn)
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }
}

fn owned(user_id: &str, resource_type: &str, actor: &str) -> (String, String, String) {
    (user_id.to_owned(), resource_type.to_owned(), actor.to_owned())
}

/// User ids follow the library's own rules ([`Principal::new`]): an id the gateway could never
/// authenticate has no business in the store. Resource types and actors are short names free of
/// control characters.
fn check_ids(
    user_id: Option<&str>,
    resource_type: Option<&str>,
    actor: &str,
) -> Result<(), StoreError> {
    if let Some(user_id) = user_id {
        Principal::new(user_id).map_err(|_| StoreError::InvalidInput {
            field: "user_id",
            reason: "1 to 255 bytes without control or invisible format characters",
        })?;
    }
    let name_ok = |name: &str| {
        !name.is_empty() && name.len() <= MAX_NAME_LEN && !name.chars().any(char::is_control)
    };
    if let Some(resource_type) = resource_type
        && (!name_ok(resource_type) || resource_type.chars().any(char::is_whitespace))
    {
        return Err(StoreError::InvalidInput {
            field: "resource_type",
            reason: "1 to 128 bytes without whitespace or control characters",
        });
    }
    if !name_ok(actor) {
        return Err(StoreError::InvalidInput {
            field: "actor",
            reason: "1 to 128 bytes without control characters",
        });
    }
    Ok(())
}

fn check_token(field: &'static str, token: &Secret, may_be_empty: bool) -> Result<(), StoreError> {
    if token.is_empty() && !may_be_empty {
        return Err(StoreError::InvalidInput { field, reason: "a non-empty token" });
    }
    if token.expose().len() > MAX_TOKEN_LEN {
        return Err(StoreError::InvalidInput { field, reason: "at most 16 KiB" });
    }
    Ok(())
}

fn join_scopes(scopes: &[String]) -> Result<String, StoreError> {
    const INVALID: StoreError = StoreError::InvalidInput {
        field: "scopes",
        reason: "at most 100 scope tokens, each 1 to 128 bytes without whitespace or control characters",
    };
    if scopes.len() > MAX_SCOPES {
        return Err(INVALID);
    }
    for scope in scopes {
        if scope.is_empty()
            || scope.len() > MAX_NAME_LEN
            || scope.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(INVALID);
        }
    }
    Ok(scopes.join(" "))
}

/// Now, in unix seconds.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A stored unix time (seconds) as a `SystemTime`; negative values clamp to the epoch.
pub(crate) fn from_secs(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn to_secs(at: SystemTime) -> Result<i64, StoreError> {
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or(StoreError::InvalidInput { field: "expires_at", reason: "a time after 1970" })
}
