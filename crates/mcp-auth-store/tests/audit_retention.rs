//! The audit table is bounded: the oldest rows beyond `max_rows` and rows older than `max_age`
//! are pruned every `AUDIT_PRUNE_EVERY` audited operations, so traffic cannot grow it without
//! end.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_auth_store::{AuditRetention, NewCredential, store::AUDIT_PRUNE_EVERY};
use support::TestStore;

fn count(t: &TestStore, filter: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM audit {filter}");
    t.raw().query_row(&sql, [], |row| row.get::<_, i64>(0)).unwrap() as u64
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn traffic_keeps_at_most_max_rows_plus_one_prune_interval() {
    let mut t = TestStore::new().await;
    let retention = AuditRetention { max_age: Duration::from_secs(86_400), max_rows: 100 };
    t.store = t.store.clone().with_audit_retention(retention);
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();

    for n in 0..2_000 {
        let _ = t.store.get(&format!("user-{}", n % 7), "github", "gateway").await.unwrap();
    }

    let rows = count(&t, "");
    assert!((100..=100 + AUDIT_PRUNE_EVERY).contains(&rows), "{rows} audit rows");
    // The newest rows are the ones kept: the last read is there, the put is gone.
    let newest: i64 = t.raw().query_row("SELECT max(id) FROM audit", [], |r| r.get(0)).unwrap();
    assert_eq!(newest, 2_001);
    assert_eq!(count(&t, "WHERE action = 'put'"), 0);
}

#[tokio::test]
async fn rows_older_than_max_age_are_pruned() {
    let mut t = TestStore::new().await;
    let two_days_ago = now_secs() - 2 * 86_400;
    t.raw()
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
             INSERT INTO audit (at, actor, action, outcome) SELECT ?1, 'old', 'get', 'x' FROM n",
            [two_days_ago],
        )
        .unwrap();
    let retention = AuditRetention { max_age: Duration::from_secs(86_400), max_rows: 1_000_000 };
    t.store = t.store.clone().with_audit_retention(retention);

    for _ in 0..AUDIT_PRUNE_EVERY {
        let _ = t.store.get("alice", "github", "gateway").await.unwrap();
    }

    assert_eq!(count(&t, "WHERE actor = 'old'"), 0);
    assert!(count(&t, "WHERE actor = 'gateway'") >= 1);
    let index =
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_by_time'";
    let indexed: i64 = t.raw().query_row(index, [], |r| r.get(0)).unwrap();
    assert_eq!(indexed, 1, "pruning by age walks an index");
}

#[tokio::test]
async fn key_rotation_batches_count_towards_the_bound() {
    let mut t = TestStore::new().await;
    let retention = AuditRetention { max_age: Duration::from_secs(86_400), max_rows: 10 };
    t.store = t.store.clone().with_audit_retention(retention);

    // Each batch of one row writes one summary row; 300 batches pass several prunes.
    for n in 0..300 {
        t.store.put(&format!("user-{n}"), "github", NewCredential::new("t"), "test").await.unwrap();
    }
    let next = t.keyring.clone().with_generated_key("k-next").unwrap();
    let rotated = t.reopen(next).await;
    let rotated = rotated.with_audit_retention(retention);
    rotated.rotate_key(1, "cli").await.unwrap();

    let rows = count(&t, "");
    assert!(rows <= 10 + AUDIT_PRUNE_EVERY, "{rows} audit rows");
}

#[tokio::test]
async fn a_table_far_over_its_bound_shrinks_a_batch_per_prune_then_holds() {
    let mut t = TestStore::new().await;
    t.raw()
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
             INSERT INTO audit (at, actor, action, outcome) SELECT ?1, 'before', 'get', 'x' FROM n",
            [now_secs()],
        )
        .unwrap();
    let retention = AuditRetention { max_age: Duration::from_secs(86_400), max_rows: 100 };
    t.store = t.store.clone().with_audit_retention(retention);

    for _ in 0..AUDIT_PRUNE_EVERY {
        let _ = t.store.get("alice", "github", "gateway").await.unwrap();
    }
    // One prune: one batch (4,096 rows) gone, not all 9,964 at once.
    assert_eq!(count(&t, ""), 10_000 + AUDIT_PRUNE_EVERY - 4_096);

    for _ in 0..3 * AUDIT_PRUNE_EVERY {
        let _ = t.store.get("alice", "github", "gateway").await.unwrap();
    }
    assert!(count(&t, "") <= 100 + AUDIT_PRUNE_EVERY, "{} rows", count(&t, ""));
}
