//! [`KeyedLimiter`]: one GCRA state per key (governor), in a table whose size is bounded.
//!
//! governor keeps a key's state — a single "theoretical arrival time" — forever unless told
//! otherwise. This wrapper tells it: every [`HOUSEKEEPING_EVERY`] checks it looks at the clock
//! and the table size, sweeps keys whose state has expired (they are indistinguishable from a
//! fresh key, so forgetting them changes no decision) once per `sweep_interval`, and sweeps at
//! once when the table passes `max_tracked_keys`.

use std::{
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{
    NotUntil, Quota, RateLimiter,
    clock::{Clock, DefaultClock, QuantaInstant},
    middleware::{StateInformationMiddleware, StateSnapshot},
    nanos::Nanos,
    state::{
        StateStore,
        keyed::{DefaultKeyedStateStore, ShrinkableKeyedStateStore},
    },
};

use super::RateLimitConfig;
use crate::config::ConfigError;

/// Checks between two looks at the clock and the table size. A power of two; the table may
/// outgrow `max_tracked_keys` by about this many keys (plus concurrent inserts) before a sweep.
pub(crate) const HOUSEKEEPING_EVERY: u64 = 64;

/// The numbers behind the `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
/// headers (draft-ietf-httpapi-ratelimit-headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitStatus {
    /// The burst: the most requests accepted back to back.
    pub limit: u32,
    /// Requests the caller may still make right now.
    pub remaining: u32,
    /// Time until the whole burst is available again (an upper bound, at most one replenish
    /// interval early).
    pub reset: Duration,
}

impl RateLimitStatus {
    /// A status of `limit` (the burst), `remaining` and `reset`, for limiters outside this
    /// crate (a [`SharedRateLimiter`](super::SharedRateLimiter)).
    pub fn new(limit: u32, remaining: u32, reset: Duration) -> Self {
        Self { limit, remaining, reset }
    }

    /// [`reset`](Self::reset) in whole seconds, rounded up.
    pub fn reset_secs(&self) -> u64 {
        ceil_secs(self.reset)
    }
}

/// A check that was refused: the caller is over their limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded; retry after {} s", self.retry_after_secs())]
#[non_exhaustive]
pub struct RateLimitExceeded {
    /// How long until one request would be accepted.
    pub retry_after: Duration,
    /// The limiter's state for the caller (`remaining` is 0).
    pub status: RateLimitStatus,
}

impl RateLimitExceeded {
    /// A refusal to retry after `retry_after`, with the caller's `status`, for limiters outside
    /// this crate (a [`SharedRateLimiter`](super::SharedRateLimiter)).
    pub fn new(retry_after: Duration, status: RateLimitStatus) -> Self {
        Self { retry_after, status }
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up and at least 1 — the
    /// value of a `Retry-After` header (RFC 9110 §10.2.3 takes no fractions, and `0` would
    /// invite an immediate retry that fails again).
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.retry_after).max(1)
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

type Governor<K> = RateLimiter<K, SharedStore<K>, DefaultClock, StateInformationMiddleware>;

/// A rate limiter with one GCRA state per key — a user id, or a user id and a tool — whose
/// memory stays bounded.
///
/// * **Sweeping.** Every 64 checks the limiter looks at the clock; once per
///   [`sweep_interval`](RateLimitConfig::sweep_interval) it drops the keys whose state has
///   expired (governor's `retain_recent`: idle for longer than it takes to refill the burst) and
///   shrinks the table (`shrink_to_fit`). [`sweep`](Self::sweep) does the same on demand.
/// * **The cap.** When the table holds more than
///   [`max_tracked_keys`](RateLimitConfig::max_tracked_keys), it is swept at once. If the sweep
///   cannot bring it below three quarters of the cap — that many keys are *live*, i.e. that many
///   distinct callers within one refill period — the table is cleared and every key starts
///   again with a full burst. That trades a moment of leniency for a hard memory bound, and the
///   three-quarters mark makes sure the O(n) sweep runs at most once per quarter-cap of new
///   keys. A warning is logged; raise the cap if you see it.
///
/// ```
/// use mcp_auth::middleware::{RateLimitConfig, rate_limit::KeyedLimiter};
///
/// let limiter = KeyedLimiter::new(&RateLimitConfig::per_minute(2))?;
/// assert!(limiter.check(&"alice").is_ok());
/// assert!(limiter.check(&"alice").is_ok());
/// assert!(limiter.check(&"alice").is_err());
/// assert!(limiter.check(&"bob").is_ok());
/// # Ok::<(), mcp_auth::ConfigError>(())
/// ```
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    governor: Governor<K>,
    /// The same table governor holds, so that it can be measured and cleared.
    store: Arc<DefaultKeyedStateStore<K>>,
    quota: Quota,
    max_tracked_keys: usize,
    sweep_interval: Duration,
    created: Instant,
    checks: AtomicU64,
    /// When the last sweep ended, in nanoseconds since `created`.
    last_sweep: AtomicU64,
    sweeping: AtomicBool,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter with `config`'s quota and memory bounds. `config.enabled` and
    /// `config.per_tool` are for the callers that pick keys and decide whether to check; a
    /// `KeyedLimiter` always limits.
    pub fn new(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        let quota = config.quota()?;
        let store = Arc::new(DefaultKeyedStateStore::<K>::default());
        let governor = RateLimiter::new(quota, SharedStore(store.clone()), DefaultClock::default());
        Ok(Self {
            governor,
            store,
            quota,
            max_tracked_keys: config.max_tracked_keys,
            sweep_interval: config.sweep_interval,
            created: Instant::now(),
            checks: AtomicU64::new(0),
            last_sweep: AtomicU64::new(0),
            sweeping: AtomicBool::new(false),
        })
    }

    /// Counts one request for `key`: `Ok` with the remaining budget, or `Err` with how long to
    /// wait.
    pub fn check(&self, key: &K) -> Result<RateLimitStatus, RateLimitExceeded> {
        let outcome = self.governor.check_key(key);
        self.housekeeping();
        match outcome {
            Ok(snapshot) => Ok(self.allowed(&snapshot)),
            Err(not_until) => Err(self.denied(&not_until)),
        }
    }

    /// Number of keys in the table (expired ones included until the next sweep).
    pub fn tracked_keys(&self) -> usize {
        self.store.len()
    }

    /// Drops the keys whose state has expired and shrinks the table now.
    pub fn sweep(&self) {
        self.governor.retain_recent();
        self.governor.shrink_to_fit();
        self.last_sweep.store(self.elapsed_nanos(), Ordering::Relaxed);
    }

    fn allowed(&self, snapshot: &StateSnapshot) -> RateLimitStatus {
        let limit = self.quota.burst_size().get();
        let remaining = snapshot.remaining_burst_capacity().min(limit);
        // The snapshot does not expose the arrival time itself; each spent request takes one
        // replenish interval to come back, which bounds the time to a full burst from above.
        let reset = self.quota.replenish_interval() * (limit - remaining);
        RateLimitStatus { limit, remaining, reset }
    }

    fn denied(&self, not_until: &NotUntil<QuantaInstant>) -> RateLimitExceeded {
        let limit = self.quota.burst_size().get();
        let retry_after = not_until.wait_time_from(self.governor.clock().now());
        // After the next request is allowed, the other `limit - 1` come back one interval each.
        let reset = retry_after + self.quota.replenish_interval() * (limit - 1);
        RateLimitExceeded { retry_after, status: RateLimitStatus { limit, remaining: 0, reset } }
    }

    /// Runs on every check; does real work on one check in [`HOUSEKEEPING_EVERY`].
    fn housekeeping(&self) {
        if !self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(HOUSEKEEPING_EVERY) {
            return;
        }
        let over_cap = self.store.len() > self.max_tracked_keys;
        let last = Duration::from_nanos(self.last_sweep.load(Ordering::Relaxed));
        let due =
            Duration::from_nanos(self.elapsed_nanos()).saturating_sub(last) >= self.sweep_interval;
        if !over_cap && !due {
            return;
        }
        // One sweeper at a time: the others carry on checking instead of queueing behind an
        // O(n) pass over the same table.
        if self.sweeping.swap(true, Ordering::Acquire) {
            return;
        }
        self.sweep();
        let tracked = self.store.len();
        if over_cap && tracked > self.max_tracked_keys / 4 * 3 {
            tracing::warn!(
                tracked,
                max_tracked_keys = self.max_tracked_keys,
                "rate limiter: more live keys than max_tracked_keys allows; resetting its state \
                 (every caller gets a full burst). Raise max_tracked_keys if this repeats."
            );
            self.store.clear();
            self.store.shrink_to_fit();
        }
        self.sweeping.store(false, Ordering::Release);
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.created.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are user ids: count them, never list them.
        f.debug_struct("KeyedLimiter")
            .field("quota", &self.quota)
            .field("tracked_keys", &self.tracked_keys())
            .field("max_tracked_keys", &self.max_tracked_keys)
            .finish_non_exhaustive()
    }
}

/// governor's default keyed store (a `DashMap`), shared so that [`KeyedLimiter`] can measure and
/// clear it; governor itself only offers `retain_recent`.
struct SharedStore<K: Hash + Eq + Clone>(Arc<DefaultKeyedStateStore<K>>);

impl<K: Hash + Eq + Clone> StateStore for SharedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<K> for SharedStore<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.0, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.0);
    }

    fn len(&self) -> usize {
        ShrinkableKeyedStateStore::len(&*self.0)
    }

    fn is_empty(&self) -> bool {
        ShrinkableKeyedStateStore::is_empty(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_count_down_and_the_refusal_says_when() {
        let limiter = KeyedLimiter::new(&RateLimitConfig::per_minute(60).with_burst(3)).unwrap();
        let first = limiter.check(&"alice").unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        assert_eq!(first.reset, Duration::from_secs(1));
        limiter.check(&"alice").unwrap();
        let third = limiter.check(&"alice").unwrap();
        assert_eq!(third.remaining, 0);
        assert_eq!(third.reset_secs(), 3);
        let refused = limiter.check(&"alice").unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1), "{refused:?}");
        assert!(refused.retry_after > Duration::from_millis(900), "{refused:?}");
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!(refused.status.remaining, 0);
        assert_eq!(refused.status.reset_secs(), 3);
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        let at = |retry_after| RateLimitExceeded {
            retry_after,
            status: RateLimitStatus { limit: 1, remaining: 0, reset: retry_after },
        };
        assert_eq!(at(Duration::ZERO).retry_after_secs(), 1);
        assert_eq!(at(Duration::from_millis(1)).retry_after_secs(), 1);
        assert_eq!(at(Duration::from_millis(1001)).retry_after_secs(), 2);
        assert_eq!(at(Duration::from_secs(2)).retry_after_secs(), 2);
    }
}
