//! [`UserState`]: what one user holds across all of their entries — requests in flight, bytes of
//! response not yet read, legacy SSE sessions, instances — so that a per-user cap holds however
//! many entries (allow-listed extras variants) the user has.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::Limits;

/// One user's share of the server.
pub(crate) struct UserState {
    in_flight: Arc<Semaphore>,
    unread_bytes: AtomicUsize,
    max_unread_bytes: usize,
    pub(crate) sse_sessions: AtomicUsize,
    /// Streamable HTTP sessions in the session book, running or hibernated.
    pub(crate) sessions: AtomicUsize,
    pub(crate) instances: AtomicUsize,
}

impl UserState {
    /// A slot for one more request in flight, if the user has one left.
    pub(crate) fn try_start_request(&self) -> Option<OwnedSemaphorePermit> {
        self.in_flight.clone().try_acquire_owned().ok()
    }

    /// True when the user's unread responses have reached the cap.
    pub(crate) fn is_over_unread_bytes(&self) -> bool {
        self.unread_bytes.load(Ordering::Relaxed) >= self.max_unread_bytes
    }

    /// Counts `bytes` handed to the user's connection and not yet known to be read.
    pub(crate) fn add_unread(&self, bytes: usize) {
        self.unread_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Forgets `bytes` counted by [`add_unread`](Self::add_unread).
    pub(crate) fn remove_unread(&self, bytes: usize) {
        self.unread_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// The table of user states, keyed by user id.
///
/// Entries, in-flight requests and sessions hold their user's state; the table itself holds
/// only what they reference, and [`prune`](Self::prune) drops the rest. Its size is bounded by
/// the instance bound plus what live requests hold, and it is pruned at once when it passes
/// twice the instance bound — or twice what the last prune kept, when live requests hold more
/// than that, so that each O(n) prune pays for itself in n new users.
pub(crate) struct Users {
    map: Mutex<Table>,
    limits: Limits,
    prune_above: usize,
}

#[derive(Default)]
struct Table {
    states: HashMap<Arc<str>, Arc<UserState>>,
    /// The size at which the next insert prunes first.
    next_prune: usize,
}

impl Table {
    fn prune(&mut self, floor: usize) {
        self.states.retain(|_, state| Arc::strong_count(state) > 1);
        self.next_prune = floor.max(self.states.len().saturating_mul(2));
    }
}

impl Users {
    pub(crate) fn new(limits: Limits, max_instances: u64) -> Self {
        let prune_above = usize::try_from(max_instances).unwrap_or(usize::MAX).saturating_mul(2);
        let map = Mutex::new(Table { states: HashMap::new(), next_prune: prune_above });
        Self { map, limits, prune_above }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Inserts and removes only; a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state of `user`, created on first use.
    pub(crate) fn get(&self, user: &Arc<str>) -> Arc<UserState> {
        let mut table = self.lock();
        if let Some(state) = table.states.get(user) {
            return state.clone();
        }
        if table.states.len() >= table.next_prune {
            table.prune(self.prune_above);
        }
        let state = Arc::new(UserState {
            in_flight: Arc::new(Semaphore::new(self.limits.max_in_flight_per_user)),
            unread_bytes: AtomicUsize::new(0),
            max_unread_bytes: self.limits.max_unread_response_bytes_per_user,
            sse_sessions: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            instances: AtomicUsize::new(0),
        });
        table.states.insert(user.clone(), state.clone());
        state
    }

    /// Drops the states nothing references any more.
    pub(crate) fn prune(&self) {
        self.lock().prune(self.prune_above);
    }

    /// Unread response bytes of all users together.
    pub(crate) fn unread_bytes(&self) -> usize {
        let table = self.lock();
        table.states.values().map(|state| state.unread_bytes.load(Ordering::Relaxed)).sum()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().states.len()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(max_instances: u64) -> Users {
        Users::new(Limits::default(), max_instances)
    }

    #[test]
    fn states_nothing_holds_are_pruned_at_twice_the_instance_bound() {
        let users = users(4);
        for i in 0..10_000 {
            drop(users.get(&Arc::from(format!("user-{i}"))));
        }
        assert!(users.len() <= 8, "{}", users.len());
    }

    #[test]
    fn held_states_survive_and_pruning_backs_off_while_they_are_many() {
        let users = users(4);
        let held: Vec<_> = (0..100).map(|i| users.get(&Arc::from(format!("held-{i}")))).collect();
        assert_eq!(users.len(), 100, "states in use are never pruned");
        // Passing users are pruned, never the held ones; while 100 are held a prune comes only
        // every ~100 newcomers, so the table stays under twice what is held.
        for i in 0..10_000 {
            drop(users.get(&Arc::from(format!("passing-{i}"))));
            assert!((100..=201).contains(&users.len()), "{}", users.len());
        }
        drop(held);
        users.prune();
        assert_eq!(users.len(), 0);
    }
}
