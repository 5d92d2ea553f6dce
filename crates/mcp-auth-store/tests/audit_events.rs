//! The audit trail in the logs: every read and change of a credential is a `tracing` event at
//! target `mcp_auth::audit`, naming the user by its keyed tag, never carrying a secret.
//!
//! A file of its own: `tracing` caches per call site whether anyone listens, and a test running
//! alongside without a subscriber can leave the audit call site switched off for this one.

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use mcp_auth::UserIdLogging;
use mcp_auth_store::{NewCredential, store::AUDIT_TARGET};
use support::TestStore;
use tracing_subscriber::fmt::MakeWriter;

const SECRETS: [&str; 3] =
    ["gho_audit_access_91c2", "ghr_audit_refresh_44d0", "gho_audit_second_7e1b"];

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

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn audit_events_are_traced_at_their_target_without_secrets_or_raw_user_ids() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut t = TestStore::new().await;
    let user_ids = UserIdLogging::default();
    t.store = t.store.clone().with_user_id_logging(user_ids.clone());

    exercise(&t).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
