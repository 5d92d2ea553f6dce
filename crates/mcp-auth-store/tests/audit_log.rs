//! The audit trail: every read and change of a credential leaves a row in the `audit` table —
//! who, what, about whom, with what outcome — and no row ever holds a secret. (The matching
//! `tracing` events are in `audit_events.rs`: a log capture wants a test binary of its own.)

mod support;

use mcp_auth_store::NewCredential;
use support::{AuditRow, TestStore};

const SECRETS: [&str; 3] =
    ["gho_audit_access_91c2", "ghr_audit_refresh_44d0", "gho_audit_second_7e1b"];

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

/// One of each operation, in a fixed order.
async fn exercise(t: &TestStore) {
    let s = &t.store;
    let credential = NewCredential::new(SECRETS[0]).with_refresh_token(SECRETS[1]);
    s.put("alice", "github", credential, "admin-api").await.unwrap();
    s.put("alice", "github", NewCredential::new(SECRETS[2]), "admin-api").await.unwrap();
    s.get("alice", "github", "gateway").await.unwrap().unwrap();
    s.get("bob", "github", "gateway").await.unwrap();
    s.list(Some("alice"), "cli").await.unwrap();
    s.mark_needs_reconnect("alice", "github", "refresher").await.unwrap();
    s.delete("alice", "github", "cli").await.unwrap();
    s.revoke_user("alice", "admin-api").await.unwrap();
    s.get("alice", "github", "gateway").await.unwrap();
}

#[tokio::test]
async fn every_read_and_change_leaves_an_audit_row_without_secrets() {
    let t = TestStore::new().await;

    exercise(&t).await;

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
