//! Which connection gives up its slot when the connection cap is full: the one idle longest.
//!
//! Refusing every connection over the cap would hand the service to whoever fills it first: a
//! slowloris client holding the cap with half-sent headers would lock out a load balancer's
//! health check and every new user. Instead a new connection displaces the connection that has
//! been idle longest — a request head that never finished, or a keep-alive connection between
//! requests. A connection with a request in flight (a call, an open stream) is never displaced;
//! when all of them are busy, the new connection is refused.
//!
//! Connections join the queue when they open and each time their last request ends; entries a
//! connection has since outlived (it got busy, or idled again later) are skipped when met, and
//! swept out when the queue grows past a few times the cap, so it stays bounded.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, Weak},
};

use super::connection::Activity;

/// The queue of idle connections, oldest idle first.
pub(super) struct IdleQueue {
    entries: Mutex<VecDeque<(Weak<Activity>, u64)>>,
    /// Past this length, stale entries are swept out.
    sweep_at: usize,
}

impl IdleQueue {
    pub(super) fn new(max_connections: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            sweep_at: max_connections.saturating_mul(4).saturating_add(64),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Weak<Activity>, u64)>> {
        // Pushes and pops only: a poisoned queue is still a valid queue.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `activity`'s connection went idle at `generation`.
    pub(super) fn push(&self, activity: &Arc<Activity>, generation: u64) {
        let mut entries = self.lock();
        entries.push_back((Arc::downgrade(activity), generation));
        if entries.len() > self.sweep_at {
            entries.retain(|(weak, generation)| is_idle(weak, *generation));
        }
    }

    /// Asks the connection idle longest to close; `false` when every connection is busy.
    pub(super) fn displace_one(&self) -> bool {
        let mut entries = self.lock();
        while let Some((weak, generation)) = entries.pop_front() {
            if let Some(activity) = weak.upgrade().filter(|a| a.is_idle_at(generation)) {
                activity.displace();
                return true;
            }
        }
        false
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

fn is_idle(weak: &Weak<Activity>, generation: u64) -> bool {
    weak.upgrade().is_some_and(|activity| activity.is_idle_at(generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_connection_goes_first_and_busy_ones_never() {
        let queue = Arc::new(IdleQueue::new(4));
        let (oldest, busy, newest) = (
            Activity::new(queue.clone()),
            Activity::new(queue.clone()),
            Activity::new(queue.clone()),
        );
        let _request = busy.begin();
        assert!(queue.displace_one());
        assert!(oldest.is_displaced() && !busy.is_displaced() && !newest.is_displaced());
        assert!(queue.displace_one());
        assert!(newest.is_displaced() && !busy.is_displaced());
        assert!(!queue.displace_one(), "only a busy connection is left");
    }

    #[test]
    fn a_connection_that_idles_again_rejoins_at_the_back() {
        let queue = Arc::new(IdleQueue::new(4));
        let (first, second) = (Activity::new(queue.clone()), Activity::new(queue.clone()));
        drop(first.begin());
        assert!(queue.displace_one());
        assert!(second.is_displaced() && !first.is_displaced());
    }

    #[test]
    fn stale_entries_are_swept_so_the_queue_stays_bounded() {
        let queue = Arc::new(IdleQueue::new(4));
        let busy_then_idle = Activity::new(queue.clone());
        for _ in 0..10_000 {
            drop(busy_then_idle.begin());
        }
        assert!(queue.len() <= 4 * 4 + 64 + 1, "{}", queue.len());
        for _ in 0..1000 {
            drop(Activity::new(queue.clone()));
        }
        assert!(queue.len() <= 4 * 4 + 64 + 1, "{}", queue.len());
    }
}
