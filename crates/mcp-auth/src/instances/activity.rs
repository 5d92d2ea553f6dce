//! [`Activity`]: how busy one user's entry is. In-flight requests and open streams *pin* an entry
//! (it is never evicted to make room, nor dropped as idle); `last_used` orders the idle ones.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// Activity of one entry.
pub(crate) struct Activity {
    /// The registry's clock origin: `last_used` counts milliseconds from it.
    epoch: Instant,
    active: AtomicUsize,
    last_used_ms: AtomicU64,
    /// Woken when the last pin goes.
    unpinned: tokio::sync::Notify,
}

impl Activity {
    pub(crate) fn new(epoch: Instant) -> Arc<Self> {
        let activity = Self {
            epoch,
            active: AtomicUsize::new(0),
            last_used_ms: AtomicU64::new(0),
            unpinned: tokio::sync::Notify::new(),
        };
        activity.touch();
        Arc::new(activity)
    }

    /// Marks the entry used now.
    pub(crate) fn touch(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last_used_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// Pins the entry until the guard is dropped (the end of a request or a stream).
    pub(crate) fn pin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        self.touch();
        ActiveGuard(self.clone())
    }

    /// True while a request or a stream holds the entry.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }

    /// Resolves once nothing pins the entry, or after `limit`.
    pub(crate) async fn unpinned_within(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let unpinned = self.unpinned.notified();
            tokio::pin!(unpinned);
            unpinned.as_mut().enable();
            if !self.is_active() || tokio::time::timeout_at(deadline, unpinned).await.is_err() {
                return;
            }
        }
    }

    /// How long the entry has been unused; zero while it is active.
    pub(crate) fn idle_for(&self) -> Duration {
        if self.is_active() {
            return Duration::ZERO;
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_used_ms.load(Ordering::Relaxed)))
    }

    /// When the entry was last used, in milliseconds since the registry's epoch.
    pub(crate) fn last_used_ms(&self) -> u64 {
        self.last_used_ms.load(Ordering::Relaxed)
    }
}

/// Keeps an entry pinned; dropping it records the time of last use.
pub(crate) struct ActiveGuard(Arc<Activity>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.unpinned.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_entry_is_never_idle_and_unpinning_restarts_the_idle_clock() {
        let activity = Activity::new(Instant::now());
        let guard = activity.pin();
        let second = activity.pin();
        assert!(activity.is_active());
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(guard);
        assert!(activity.is_active(), "one guard still holds it");
        drop(second);
        assert!(!activity.is_active());
        assert!(activity.idle_for() < Duration::from_secs(1));
    }
}
