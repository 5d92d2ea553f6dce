//! The audit trail: every read and change of a credential leaves a row in the `audit` table —
//! who, what, about whom, with what outcome — and no row ever holds a secret. (The matching
//! `tracing` events are in `audit_events.rs`: a log capture wants a test binary of its own.)

mod support;

use support::{AUDITED_SECRETS as SECRETS, AuditRow, TestStore, exercise_every_operation};

fn row(
    actor: &str,
    action: &str,
    user: Option<&str>,
    resource: Option<&str>,
    outcome: &str,
) -> AuditRow {
    AuditRow {
        actor: actor.into(),
        action: action.into(),
        user_id: user.map(Into::into),
        resource_type: resource.map(Into::into),
        outcome: outcome.into(),
    }
}

#[tokio::test]
async fn every_read_and_change_leaves_an_audit_row_without_secrets() {
    let t = TestStore::new().await;

    exercise_every_operation(&t).await;

    let a = Some("alice");
    let gh = Some("github");
    assert_eq!(
        t.audit(),
        [
            row("admin-api", "put", a, gh, "created"),
            row("admin-api", "put", a, gh, "updated"),
            row("gateway", "get", a, gh, "found (active)"),
            row("gateway", "get", Some("bob"), gh, "not found"),
            row("cli", "list", a, None, "1 credentials"),
            row("refresher", "set_status", a, gh, "status needs_reconnect"),
            row("cli", "delete", a, gh, "deleted"),
            row("admin-api", "revoke_user", a, None, "revoked; 0 credentials deleted"),
            row("gateway", "get", a, gh, "revoked"),
        ]
    );
    let at_is_set: i64 = t.raw().query_row("SELECT min(at) FROM audit", [], |r| r.get(0)).unwrap();
    assert!(at_is_set > 1_700_000_000);
    let dump = format!("{:?}", t.audit());
    for secret in SECRETS {
        assert!(!dump.contains(secret), "{secret} in the audit table");
    }
}
