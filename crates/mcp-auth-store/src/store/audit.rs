//! The audit trail: one row in the `audit` table and one `tracing` event at target
//! [`AUDIT_TARGET`] for every read and change of a credential — who (the actor), what (the
//! action and its outcome), when, about which user and resource type. Never a secret.
//!
//! The row of a change is written in the change's own transaction, so the trail and the data
//! cannot disagree; the `tracing` event follows the commit.

use mcp_auth::UserIdLogging;
use rusqlite::{Connection, params};

use super::now_secs;

/// The `tracing` target of audit events.
pub const AUDIT_TARGET: &str = "mcp_auth::audit";

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
