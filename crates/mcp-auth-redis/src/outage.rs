//! [`OutageWindow`]: "Redis failed [`FAILURES_BEFORE_DOWN`] calls in a row, the last less than
//! [`RECHECK_AFTER`] ago", so that calls meanwhile skip Redis instead of each waiting for its
//! timeout. Shared by the rate limiter and
//! the credential cache; each logs the transitions in its own words.

use std::{
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How long Redis counts as down after a failed call before the next call tries it again:
/// long enough that an outage costs each request no timeout, short enough that recovery is
/// noticed within a second.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// How many calls in a row must fail before Redis counts as down: one late answer on a busy
/// host costs only its own request (a `503` for it, failing closed), not a second of every
/// user's.
pub const FAILURES_BEFORE_DOWN: u32 = 3;

/// Whether Redis counts as down; lock-free, cheap to check on every request.
#[derive(Debug)]
pub(crate) struct OutageWindow {
    created: Instant,
    /// Until when Redis counts as down, in nanoseconds since `created`; 0 while it is up.
    down_until: AtomicU64,
    /// Calls failed in a row.
    failures: AtomicU32,
}

impl Default for OutageWindow {
    fn default() -> Self {
        Self { created: Instant::now(), down_until: AtomicU64::new(0), failures: AtomicU32::new(0) }
    }
}

impl OutageWindow {
    /// Whether the last failure's window is still open.
    pub(crate) fn is_down(&self) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && self.elapsed_nanos() < until
    }

    /// Counts a failed call; the [`FAILURES_BEFORE_DOWN`]th in a row, and every one after it,
    /// opens (or extends) the window. True when this opened it (the moment to log a warning,
    /// once per outage).
    pub(crate) fn mark_down(&self) -> bool {
        if self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1) < FAILURES_BEFORE_DOWN {
            return false;
        }
        let until = self.elapsed_nanos().saturating_add(nanos(RECHECK_AFTER)).max(1);
        self.down_until.swap(until, Ordering::Relaxed) == 0
    }

    /// Closes the window after a successful call; true when Redis was down until now (the
    /// moment to log the recovery).
    pub(crate) fn mark_up(&self) -> bool {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        self.down_until.load(Ordering::Relaxed) != 0
            && self.down_until.swap(0, Ordering::Relaxed) != 0
    }

    fn elapsed_nanos(&self) -> u64 {
        nanos(self.created.elapsed())
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_then_up_reports_each_transition_once() {
        let window = OutageWindow::default();
        assert!(!window.is_down());
        assert!(!window.mark_up());
        for _ in 1..FAILURES_BEFORE_DOWN {
            assert!(!window.mark_down(), "fewer failures in a row than the threshold");
            assert!(!window.is_down());
        }
        assert!(window.mark_down());
        assert!(!window.mark_down(), "already down: no second warning");
        assert!(window.is_down());
        assert!(window.mark_up());
        assert!(!window.mark_up());
        assert!(!window.is_down());
    }

    #[test]
    fn a_success_between_failures_starts_the_count_again() {
        let window = OutageWindow::default();
        for _ in 0..5 {
            for _ in 1..FAILURES_BEFORE_DOWN {
                assert!(!window.mark_down());
            }
            window.mark_up();
        }
        assert!(!window.is_down());
    }
}
