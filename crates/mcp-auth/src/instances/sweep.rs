//! Housekeeping of the registry: the periodic sweep of idle entries, and making room when the
//! registry is full — both of which skip busy (pinned) entries.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use rmcp::ServerHandler;

use super::{InstanceRefusal, RegistryInner};

/// After a scan found every entry busy, new users are refused without another scan for this
/// long: under a flood of new identities each would otherwise pay for an O(n) scan.
const FULL_SCAN_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Default)]
pub(super) struct SweepState {
    started: AtomicBool,
    /// When a scan last found no idle entry, in ms since the registry's epoch (+1; 0 = never).
    last_found_full_ms: AtomicU64,
    /// Sweeps finished since start.
    pub(super) finished: AtomicU64,
}

/// How often the sweep runs: a quarter of the shortest of the idle timeout, the maximum lifetime,
/// the session hibernation time and the session idle timeout, between 10 ms and 30 s.
/// Instances past their lifetime are dropped by the sweep's pending-task run too: without a
/// request to the registry nothing else would drop them.
fn sweep_interval(shortest: [Duration; 4]) -> Duration {
    let shortest = shortest.into_iter().min().unwrap_or(Duration::from_secs(30));
    (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(30))
}

/// Starts the background sweep on first use (the registry is built outside any runtime). It
/// holds the registry weakly and stops with the server.
pub(super) fn ensure_running<H: ServerHandler>(inner: &Arc<RegistryInner<H>>) {
    if inner.sweep.started.swap(true, Ordering::AcqRel) {
        return;
    }
    let weak = Arc::downgrade(inner);
    let shutdown = inner.shutdown.clone();
    let options = &inner.options;
    let mut tick = tokio::time::interval(sweep_interval([
        options.idle_timeout,
        options.max_lifetime,
        inner.hibernate_after,
        inner.book.idle_timeout,
    ]));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(inner) = weak.upgrade() else { return };
            inner.sweep_idle().await;
        }
    });
}

impl<H: ServerHandler> RegistryInner<H> {
    /// Drops every entry idle past the timeout or past its lifetime, and the user states nothing
    /// references; in the others, stops the sessions due to hibernate or forgotten.
    pub(super) async fn sweep_idle(&self) {
        let timeout = self.options.idle_timeout;
        self.book.settle();
        for (key, entry) in self.entries.iter() {
            if entry.activity.idle_for() > timeout {
                self.entries.invalidate(&*key).await;
            } else {
                entry.stop_sessions(&self.book, self.hibernate_after);
            }
        }
        self.entries.run_pending_tasks().await;
        self.users.prune();
        self.sweep.finished.fetch_add(1, Ordering::Release);
    }

    /// Evicts the least recently used idle entries — a batch of up to 1/64 of the bound, so
    /// that a stream of new users pays for one scan per batch — or refuses when all are busy.
    pub(super) async fn make_room(&self) -> Result<(), InstanceRefusal> {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let last_full = self.sweep.last_found_full_ms.load(Ordering::Relaxed);
        if last_full != 0 && now.saturating_sub(last_full) < FULL_SCAN_BACKOFF.as_millis() as u64 {
            return Err(InstanceRefusal::Full);
        }
        // Entries past their lifetime are counted until moka's pending tasks drop them.
        self.entries.run_pending_tasks().await;
        if self.live.load(Ordering::Relaxed) < self.options.max_instances {
            return Ok(());
        }
        let mut idle: Vec<_> = self
            .entries
            .iter()
            .filter(|(_, entry)| !entry.activity.is_active())
            .map(|(key, entry)| (entry.activity.last_used_ms(), key))
            .collect();
        if idle.is_empty() {
            self.sweep.last_found_full_ms.store(now, Ordering::Relaxed);
            tracing::warn!(
                max_instances = self.options.max_instances,
                "instance registry full of active users; refusing new users"
            );
            return Err(InstanceRefusal::Full);
        }
        let batch = usize::try_from(self.options.max_instances / 64).unwrap_or(64).clamp(1, 64);
        let batch = batch.min(idle.len());
        idle.select_nth_unstable_by_key(batch - 1, |(last_used, _)| *last_used);
        for (_, key) in idle.into_iter().take(batch) {
            self.entries.invalidate(&*key).await;
        }
        // The eviction listener lowers the live count; run it before the caller re-checks.
        self.entries.run_pending_tasks().await;
        Ok(())
    }
}
