use std::{sync::Arc, time::Duration};

use super::*;

fn monitor(options: ProgressOptions) -> Arc<ProgressMonitor> {
    options.monitor().unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_users_stats_count_only_their_own_streams() {
    let monitor = monitor(ProgressOptions::default());
    let alice = monitor.start("alice", "1").unwrap();
    let bob = monitor.start("bob", "1").unwrap();
    alice.record(100);
    alice.record(50);
    bob.record(7);
    tokio::time::advance(Duration::from_secs(3)).await;
    let _alice2 = monitor.start("alice", "\"op\"").unwrap();

    let stats = monitor.stats("alice");
    assert_eq!(stats.user.user_id, "alice");
    assert_eq!(stats.user.active_streams, 2);
    assert_eq!(stats.user.total_messages, 2);
    assert_eq!(stats.user.total_bytes, 150);
    assert_eq!(stats.user.oldest_stream_age, 3000);
    assert_eq!(stats.global.active_streams, 3);
    assert_eq!(stats.global.total_messages, 3);
    assert_eq!(stats.global.user_count, 2);
    let text = serde_json::to_string(&stats).unwrap();
    assert!(!text.contains("bob"), "{text}");

    drop(bob);
    let stats = monitor.stats("alice");
    assert_eq!((stats.global.active_streams, stats.global.user_count), (2, 1));
    drop(alice);
    assert_eq!(monitor.active_streams(), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_streams_are_swept_once_a_sweep_is_due() {
    let monitor = monitor(ProgressOptions::default());
    let quiet = monitor.start("alice", "1").unwrap();
    let busy = monitor.start("alice", "2").unwrap();
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(60)).await;
        busy.record(10);
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    // 5 min 1 s without a message for `quiet`; `busy` sent one a second ago.
    assert_eq!(monitor.stats("alice").user.active_streams, 1);
    drop(quiet); // already swept: nothing else goes
    assert_eq!(monitor.active_streams(), 1);
    drop(busy);
    assert_eq!(monitor.active_streams(), 0);
}

#[tokio::test(start_paused = true)]
async fn streams_are_bounded_per_user_and_in_total() {
    let options = ProgressOptions { max_streams: 3, max_streams_per_user: 2, ..Default::default() };
    let monitor = monitor(options);
    let held: Vec<_> = ["a", "a", "b"].iter().map(|u| monitor.start(u, "1").unwrap()).collect();
    assert!(monitor.start("a", "1").is_none(), "over the user's bound");
    assert!(monitor.start("c", "1").is_none(), "over the total");
    assert!(monitor.start("c", &format!("\"{}\"", "x".repeat(300))).is_none(), "token too long");
    assert_eq!(monitor.stats("c").global.untracked, 3);
    drop(held);
    assert!(monitor.start("c", "1").is_some());
}

#[tokio::test(start_paused = true)]
async fn the_report_flags_stale_old_and_fast_streams() {
    let monitor = monitor(ProgressOptions::default());
    let stale = monitor.start("alice", "\"stale\"").unwrap();
    stale.record(1);
    tokio::time::advance(Duration::from_secs(150)).await;
    let fast = monitor.start("bob", "9").unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..200 {
        fast.record(1);
    }
    let report = monitor.report();
    assert_eq!(report.metrics.len(), 2);
    assert_eq!(report.metrics[0].user_id, "alice");
    assert_eq!(report.metrics[0].progress_token, serde_json::json!("stale"));
    assert_eq!(report.metrics[1].progress_token, serde_json::json!(9));
    assert!(!report.health.healthy);
    assert_eq!(
        report.health.issues,
        ["Stream \"stale\" for user alice is stale (2 minutes since update)"]
    );
    assert_eq!(report.health.warnings, ["Stream 9 has high message rate (200.0/sec)"]);
    drop(stale);
    tokio::time::advance(Duration::from_secs(3600)).await;
    fast.record(1);
    let report = monitor.report();
    assert!(report.health.healthy);
    assert_eq!(report.health.warnings, ["Stream 9 for user bob is very old (60 minutes)"]);
}

#[test]
fn bad_options_are_config_errors() {
    let bad = |options: ProgressOptions| options.monitor().unwrap_err().to_string();
    assert!(
        bad(ProgressOptions::default().with_admin_scope("a b")).contains("progress.admin_scope")
    );
    let zero = ProgressOptions { max_streams: 0, ..Default::default() };
    assert!(bad(zero).contains("progress.max_streams"));
    assert!(ProgressOptions::disabled().monitor().unwrap().is_none());
}

/// Counts the bytes this thread holds: the lib's test binary runs on it, and only this test
/// looks at the count (other tests' threads count their own).
mod counting {
    use std::{
        alloc::{GlobalAlloc, Layout, System},
        cell::Cell,
    };

    thread_local! {
        static HELD: Cell<isize> = const { Cell::new(0) };
    }

    pub struct Counting;

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            HELD.with(|h| h.set(h.get() + layout.size() as isize));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            HELD.with(|h| h.set(h.get() - layout.size() as isize));
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    pub fn held() -> isize {
        HELD.with(Cell::get)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_stream_costs_well_under_a_kilobyte() {
    const USERS: usize = 100;
    const PER_USER: usize = 100;
    let monitor = monitor(ProgressOptions::default());
    let users: Vec<String> = (0..USERS).map(|i| format!("user-{i:04}@example.com")).collect();
    let mut held = Vec::with_capacity(USERS * PER_USER);
    let before = counting::held();
    for user in &users {
        for n in 0..PER_USER {
            held.push(monitor.start(user, &format!("\"op-{n:08}\"")).unwrap());
        }
    }
    let per_stream = (counting::held() - before) / (USERS * PER_USER) as isize;
    assert_eq!(monitor.active_streams(), USERS * PER_USER);
    assert!(per_stream < 1024, "{per_stream} bytes per stream");
    eprintln!("{per_stream} bytes per monitored stream");
    drop(held);
    assert_eq!(monitor.active_streams(), 0);
}
