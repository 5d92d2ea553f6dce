//! The audit trail: one row in the `audit` table and one `tracing` event at target
//! [`AUDIT_TARGET`] for every read and change of a credential — who (the actor), what (the
//! action and its outcome), when, about which user and resource type. Never a secret.
//!
//! The row of a change is written in the change's own transaction, so the trail and the data
//! cannot disagree; the `tracing` event follows the commit.

use std::time::Duration;

use mcp_auth::UserIdLogging;
use rusqlite::{Connection, params};

use super::now_secs;

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "mcp_auth::audit";

/// Audited operations between two prunes of the audit table: the table holds at most
/// [`AuditRetention::max_rows`] plus this many rows.
pub const AUDIT_PRUNE_EVERY: u64 = 64;

/// How much of the audit trail the table keeps: rows older than `max_age` go, and so do the
/// oldest rows beyond `max_rows`. Every audit event is also a `tracing` event at
/// [`AUDIT_TARGET`], so a log pipeline can keep the trail for longer than the database does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention {
    /// The oldest row kept (by its `at`).
    pub max_age: Duration,
    /// The most rows kept (the newest).
    pub max_rows: u64,
}

impl AuditRetention {
    /// 90 days, and at most a million rows (some 100 to 200 MB with their indexes).
    pub const DEFAULT: Self =
        Self { max_age: Duration::from_secs(90 * 86_400), max_rows: 1_000_000 };
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The most rows one prune deletes per rule. A prune holds the store's connection, so a table
/// far over its bound (a retention just lowered, say) shrinks over several prunes instead of
/// stalling every request behind one long delete; each prune removes far more rows than the
/// [`AUDIT_PRUNE_EVERY`] operations between two prunes add, so the bound is reached.
const PRUNE_BATCH: i64 = 4096;

/// Deletes what `retention` no longer keeps (at most [`PRUNE_BATCH`] rows per rule); returns how
/// many rows went. Both deletes walk an index (`id` is the rowid; `at` has `audit_by_time`), so
/// a prune with nothing to do is a few B-tree seeks.
pub(crate) fn prune(conn: &Connection, retention: AuditRetention) -> rusqlite::Result<usize> {
    let max_rows = i64::try_from(retention.max_rows).unwrap_or(i64::MAX);
    let by_count = conn.execute(
        "DELETE FROM audit WHERE id IN (
             SELECT id FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1
             ORDER BY id LIMIT ?2)",
        params![max_rows, PRUNE_BATCH],
    )?;
    let max_age = i64::try_from(retention.max_age.as_secs()).unwrap_or(i64::MAX);
    let by_age = conn.execute(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)",
        params![now_secs().saturating_sub(max_age), PRUNE_BATCH],
    )?;
    Ok(by_count + by_age)
}

/// One audited operation.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) actor: String,
    pub(crate) action: &'static str,
    pub(crate) user_id: Option<String>,
    pub(crate) resource_type: Option<String>,
    pub(crate) outcome: String,
}

impl Event {
    pub(crate) fn new(actor: &str, action: &'static str, outcome: impl Into<String>) -> Self {
        Self {
            actor: actor.to_owned(),
            action,
            user_id: None,
            resource_type: None,
            outcome: outcome.into(),
        }
    }

    pub(crate) fn user(mut self, user_id: Option<&str>) -> Self {
        self.user_id = user_id.map(str::to_owned);
        self
    }

    pub(crate) fn resource(mut self, resource_type: Option<&str>) -> Self {
        self.resource_type = resource_type.map(str::to_owned);
        self
    }

    /// True for a change (put, delete, revocation, status), false for a read.
    pub(crate) fn is_change(&self) -> bool {
        !matches!(self.action, "get" | "list")
    }

    /// Writes the row (inside the caller's transaction, if any).
    pub(crate) fn record(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO audit (at, actor, action, user_id, resource_type, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                now_secs(),
                self.actor,
                self.action,
                self.user_id,
                self.resource_type,
                self.outcome
            ],
        )?;
        Ok(())
    }

    /// Emits the `tracing` event; the user is named as `user_ids` says (a keyed tag by
    /// default), the audit table keeping the id itself.
    pub(crate) fn emit(&self, user_ids: &UserIdLogging) {
        let user = self.user_id.as_deref().map(|id| user_ids.tag(id).to_string());
        tracing::info!(
            target: AUDIT_TARGET,
            actor = %self.actor,
            action = self.action,
            user = user.as_deref(),
            resource_type = self.resource_type.as_deref(),
            outcome = %self.outcome,
            "credential store audit"
        );
    }
}
