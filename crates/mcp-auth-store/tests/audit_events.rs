//! The audit trail in the logs: every read and change of a credential is a `tracing` event at
//! target `mcp_auth::audit`, naming the user by its keyed tag, never carrying a secret.
//!
//! A file of its own: `tracing` caches per call site whether anyone listens, and a test running
//! alongside without a subscriber can leave the audit call site switched off for this one.

mod support;

use mcp_auth::UserIdLogging;
use mcp_auth_store::store::AUDIT_TARGET;
use support::{
    AUDITED_SECRETS as SECRETS, TestStore, captured::Captured, exercise_every_operation,
};

#[tokio::test]
async fn audit_events_are_traced_at_their_target_without_secrets_or_raw_user_ids() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut t = TestStore::new().await;
    let user_ids = UserIdLogging::default();
    t.store = t.store.clone().with_user_id_logging(user_ids.clone());

    exercise_every_operation(&t).await;

    let logs = captured.text();
    let audit_lines: Vec<&str> = logs.lines().filter(|line| line.contains(AUDIT_TARGET)).collect();
    assert_eq!(audit_lines.len(), 9, "{logs}");
    assert!(
        audit_lines[0].contains("action=\"put\"") || audit_lines[0].contains("action=put"),
        "{}",
        audit_lines[0]
    );
    let alice = user_ids.tag("alice").to_string();
    assert!(audit_lines[0].contains(&alice), "{}", audit_lines[0]);
    for secret in SECRETS {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    assert!(!logs.contains("alice"), "a raw user id in the logs:\n{logs}");
}
