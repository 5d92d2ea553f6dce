//! The refresher's two pieces of per-key bookkeeping: [`Flights`], one task in flight per key
//! whose outcome every concurrent caller shares, and [`Backoff`], how long to leave a key alone
//! after failures.
//!
//! A flight's entry lives only while its task runs (the task removes it as it ends), so the map
//! holds at most one entry per key being refreshed right now. The task is spawned: it finishes
//! even if every caller has gone away, which matters when the provider has already rotated the
//! refresh token and the new one still has to be stored.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};

/// A running flight, as every caller awaits it: `None` if its task panicked.
type Flight<T> = Shared<BoxFuture<'static, Option<T>>>;

/// One task in flight per key.
pub(crate) struct Flights<K, T: Clone> {
    map: Arc<Mutex<HashMap<K, Flight<T>>>>,
}

impl<K, T: Clone> Clone for Flights<K, T> {
    fn clone(&self) -> Self {
        Self { map: self.map.clone() }
    }
}

impl<K, T: Clone> Default for Flights<K, T> {
    fn default() -> Self {
        Self { map: Arc::default() }
    }
}

impl<K, T> Flights<K, T>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// Awaits the flight of `key`, starting `work` as that flight if none is running (else
    /// `work` is dropped unpolled). `None` if the flight's task panicked.
    pub(crate) async fn run(
        &self,
        key: K,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let flight = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let map_of_task = self.map.clone();
                    let key_of_task = key.clone();
                    // The entry is inserted below while the lock is held, so the task cannot
                    // remove it before it exists; and it removes only its own: a key gets a new
                    // entry only when it has none.
                    let task = tokio::spawn(async move {
                        let outcome = work.await;
                        map_of_task
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&key_of_task);
                        outcome
                    });
                    let flight = async move { task.await.ok() }.boxed().shared();
                    map.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// How many flights are running.
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Exponential backoff per key: `initial`, doubling per consecutive failure, at most `max`.
#[derive(Clone)]
pub(crate) struct Backoff<K: Eq + Hash + Send + Sync + 'static> {
    failures: moka::sync::Cache<K, (u32, Instant)>,
    initial: Duration,
    max: Duration,
}

impl<K: Eq + Hash + Clone + Send + Sync + 'static> Backoff<K> {
    /// At most `capacity` keys are remembered, the least recently failed forgotten first (LRU:
    /// TinyLFU could refuse to remember a new failure when full, and that key would then be
    /// retried at once).
    pub(crate) fn new(initial: Duration, max: Duration, capacity: u64) -> Self {
        // An entry outlives its wait so that the next failure doubles it; after twice the
        // longest wait without a failure, a key starts again from `initial`.
        let failures = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .time_to_live(max.saturating_mul(2).max(Duration::from_secs(1)))
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .build();
        Self { failures, initial, max }
    }

    /// How long `key` must still be left alone, if at all.
    pub(crate) fn waiting(&self, key: &K) -> Option<Duration> {
        let (_, until) = self.failures.get(key)?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Records a failure of `key`; returns how long to leave it alone.
    pub(crate) fn failed(&self, key: &K) -> Duration {
        let failures = self.failures.get(key).map_or(0, |(n, _)| n).saturating_add(1);
        let doublings = failures.saturating_sub(1).min(20);
        let wait = self.initial.saturating_mul(1 << doublings).min(self.max);
        self.failures.insert(key.clone(), (failures, Instant::now() + wait));
        wait
    }

    /// Forgets the failures of `key`.
    pub(crate) fn succeeded(&self, key: &K) {
        self.failures.invalidate(key);
    }

    /// How many keys have recent failures.
    pub(crate) fn len(&self) -> u64 {
        self.failures.run_pending_tasks();
        self.failures.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_max_and_resets_on_success() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 10);
        let waits: Vec<_> = (0..5).map(|_| backoff.failed(&"k").as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert!(backoff.waiting(&"k").is_some());
        assert!(backoff.waiting(&"other").is_none());
        backoff.succeeded(&"k");
        assert!(backoff.waiting(&"k").is_none());
        assert_eq!(backoff.failed(&"k"), Duration::from_secs(1));
    }

    #[test]
    fn backoff_remembers_at_most_its_capacity_and_always_the_newest_failure() {
        let backoff = Backoff::new(Duration::from_secs(60), Duration::from_secs(60), 100);
        for n in 0..10_000 {
            backoff.failed(&n);
            assert!(backoff.waiting(&n).is_some(), "failure {n} was not remembered");
        }
        let remembered = backoff.len();
        assert!((1..=100).contains(&remembered), "{remembered} keys remembered");
    }

    #[tokio::test]
    async fn concurrent_runs_of_one_key_share_one_task_and_the_entry_goes_with_it() {
        let flights: Flights<&str, usize> = Flights::default();
        let started = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = futures::FutureExt::shared(released);
        let runs: Vec<_> = (0..10)
            .map(|_| {
                let (started, released) = (started.clone(), released.clone());
                flights.run("k", async move {
                    let n = started.fetch_add(1, Ordering::SeqCst);
                    let _ = released.await;
                    n
                })
            })
            .collect();
        let all = futures::future::join_all(runs);
        tokio::pin!(all);
        assert!(futures::poll!(&mut all).is_pending());
        assert_eq!(flights.len(), 1);
        release.send(()).unwrap();
        assert_eq!(all.await, vec![Some(0); 10]);
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(flights.len(), 0);
    }
}
