//! What the resolver remembers per `(user id, resource type)`, for how long, and what each
//! remembered state answers without calling the tenant manager.
//!
//! A positive entry's life, measured from its fetch:
//!
//! ```text
//! fetched ── fresh (cache_ttl) ──┬── stale (stale_if_error) ──┬── gone
//!                                │ served only when a refresh  │
//!                                │ fails with an outage        │
//! both phases end early at the credential's own expiry ───────┘
//! ```
//!
//! Negative entries (`404`, or an already-expired credential) last `negative_ttl`. A failed fetch
//! is remembered for `failure_cooldown` (at most the `Retry-After`), so that during an outage a
//! key costs one round of attempts per cool-down rather than one per request.

use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;

use crate::credentials::{Credential, CredentialError};

/// Extra time moka keeps an entry past its logical end. Callers queued on the key while its fetch
/// ran must still find the result (see [`Cached::answer`]); the logic, not moka, decides what is
/// served, so keeping an entry slightly longer never serves anything stale.
const EVICTION_GRACE: Duration = Duration::from_secs(2);

/// The cache key: user id and resource type.
pub(super) type Key = (String, String);

/// One remembered fetch result.
#[derive(Debug, Clone)]
pub(super) enum Cached {
    /// A credential, fresh until `fresh_until`, usable as stale-if-error until `usable_until`.
    Found {
        credential: Credential,
        stored_at: Instant,
        fresh_until: Instant,
        usable_until: Instant,
        /// The credential's own expiry on the monotonic clock, if it has one.
        expires: Option<Instant>,
        /// Set when a refresh failed and the stale credential was served instead.
        last_failure: Option<Failure>,
    },
    /// No credential (`404`), or an expired one: answered without a call until `until`.
    Negative { error: CredentialError, stored_at: Instant, until: Instant },
    /// A fetch failed and nothing could stand in.
    Failed(Failure),
}

/// A failed fetch, remembered briefly.
#[derive(Debug, Clone, Copy)]
pub(super) struct Failure {
    pub(super) at: Instant,
    pub(super) retry_after: Duration,
    /// Until when the failure is reused without a new attempt.
    pub(super) reuse_until: Instant,
}

impl Failure {
    /// A failure at `now`, reused for `cooldown` but never longer than `retry_after`: a client
    /// told to come back after `retry_after` deserves a real attempt when it does.
    pub(super) fn new(now: Instant, retry_after: Duration, cooldown: Duration) -> Self {
        Self { at: now, retry_after, reuse_until: now + cooldown.min(retry_after) }
    }

    /// True when a caller that started waiting at `started` should take this failure as its own
    /// answer: it happened while the caller was queued, or it is recent enough.
    fn applies(&self, started: Instant, now: Instant) -> bool {
        self.at >= started || now < self.reuse_until
    }
}

/// Lifetimes applied to a new positive entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    pub(super) cache_ttl: Duration,
    pub(super) stale_if_error: Duration,
}

impl Cached {
    /// A positive entry fetched at `now`. Both windows are cut at the credential's expiry, so an
    /// entry is never served, fresh or stale, past it.
    pub(super) fn found(credential: Credential, now: Instant, lifetimes: Lifetimes) -> Self {
        let fresh_until = now + lifetimes.cache_ttl;
        let mut usable_until = fresh_until + lifetimes.stale_if_error;
        let expires = credential.expires_at().map(|at| expiry_instant(at, now));
        if let Some(expires) = expires {
            usable_until = usable_until.min(expires);
        }
        Self::Found {
            credential,
            stored_at: now,
            fresh_until: fresh_until.min(usable_until),
            usable_until,
            expires,
            last_failure: None,
        }
    }

    /// The answer this entry gives a caller that started at `started`, or `None` when the tenant
    /// manager must be asked.
    ///
    /// An entry stored after `started` is the result of the fetch the caller waited for (moka
    /// runs computations on one key one after another), and is taken as is: that is what makes
    /// concurrent misses share one fetch even when the result is already stale.
    pub(super) fn answer(
        &self,
        started: Instant,
        now: Instant,
    ) -> Option<Result<Credential, CredentialError>> {
        match self {
            Self::Found {
                credential,
                stored_at,
                fresh_until,
                usable_until,
                expires,
                last_failure,
            } => {
                if credential.is_expired() || expires.is_some_and(|at| now >= at) {
                    return None;
                }
                // The fetch this caller waited for: shared even with `cache_ttl` zero.
                let joined = *stored_at >= started;
                let fresh = now < *fresh_until;
                let failing =
                    now < *usable_until && last_failure.is_some_and(|f| f.applies(started, now));
                (joined || fresh || failing).then(|| Ok(credential.clone()))
            }
            Self::Negative { error, stored_at, until } => {
                (now < *until || *stored_at >= started).then(|| Err(error.clone()))
            }
            Self::Failed(failure) => failure.applies(started, now).then(|| {
                Err(CredentialError::TenantManagerUnavailable { retry_after: failure.retry_after })
            }),
        }
    }

    /// A stale credential that may stand in for a failed refresh at `now`, if any.
    pub(super) fn stale_fallback(&self, now: Instant) -> Option<&Credential> {
        match self {
            Self::Found { credential, usable_until, .. }
                if now < *usable_until && !credential.is_expired() =>
            {
                Some(credential)
            }
            _ => None,
        }
    }

    /// This entry with a failed refresh recorded.
    pub(super) fn with_failure(mut self, failure: Failure) -> Self {
        if let Self::Found { last_failure, .. } = &mut self {
            *last_failure = Some(failure);
        }
        self
    }

    /// When the entry stops being useful for anything.
    fn logical_end(&self) -> Instant {
        match self {
            Self::Found { usable_until, .. } => *usable_until,
            Self::Negative { until, .. } => *until,
            Self::Failed(failure) => failure.reuse_until,
        }
    }
}

/// `at` (wall clock) as a monotonic instant, `now` if it has already passed.
fn expiry_instant(at: SystemTime, now: Instant) -> Instant {
    match at.duration_since(SystemTime::now()) {
        Ok(remaining) => {
            now.checked_add(remaining).unwrap_or(now + Duration::from_secs(86_400 * 365))
        }
        Err(_) => now,
    }
}

/// Per-entry expiry for moka: each entry lives until its logical end plus [`EVICTION_GRACE`],
/// recomputed on every update (a stale entry that records a failure keeps its end).
pub(super) struct EntryExpiry;

impl Expiry<Key, Cached> for EntryExpiry {
    fn expire_after_create(
        &self,
        _: &Key,
        value: &Cached,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.logical_end().saturating_duration_since(created_at) + EVICTION_GRACE)
    }

    fn expire_after_update(
        &self,
        _: &Key,
        value: &Cached,
        updated_at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.logical_end().saturating_duration_since(updated_at) + EVICTION_GRACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn lifetimes() -> Lifetimes {
        Lifetimes { cache_ttl: 10 * SEC, stale_if_error: 60 * SEC }
    }

    #[test]
    fn fresh_then_stale_then_gone() {
        let t0 = Instant::now();
        let entry = Cached::found(Credential::new("c"), t0, lifetimes());
        assert!(entry.answer(t0 + 5 * SEC, t0 + 5 * SEC).is_some(), "fresh");
        assert!(entry.answer(t0 + 11 * SEC, t0 + 11 * SEC).is_none(), "stale needs a refresh");
        assert!(entry.stale_fallback(t0 + 11 * SEC).is_some(), "stale can stand in");
        assert!(entry.stale_fallback(t0 + 71 * SEC).is_none(), "past the stale window");
    }

    #[test]
    fn the_credentials_expiry_cuts_both_windows() {
        let t0 = Instant::now();
        let credential = Credential::new("c").with_expiry(SystemTime::now() + 3 * SEC);
        let entry = Cached::found(credential, t0, lifetimes());
        assert!(entry.answer(t0 + 2 * SEC, t0 + 2 * SEC).is_some());
        // Past the expiry nothing is served, not even to a caller that waited for this fetch.
        assert!(entry.answer(t0 + 4 * SEC, t0 + 4 * SEC).is_none());
        assert!(entry.answer(t0, t0 + 4 * SEC).is_none());
        assert!(entry.stale_fallback(t0 + 4 * SEC).is_none());
    }

    #[test]
    fn callers_queued_during_a_fetch_share_its_result() {
        let t0 = Instant::now();
        let waiting_since = t0 - SEC;
        let no_ttl = Lifetimes { cache_ttl: Duration::ZERO, stale_if_error: Duration::ZERO };
        let entry = Cached::found(Credential::new("c"), t0, no_ttl);
        assert!(entry.answer(waiting_since, t0).is_some(), "joined the fetch");
        assert!(entry.answer(t0 + SEC, t0 + SEC).is_none(), "a later caller refetches");

        let failed = Cached::Failed(Failure::new(t0, 5 * SEC, Duration::ZERO));
        assert!(failed.answer(waiting_since, t0).is_some(), "joined the failing fetch");
        assert!(failed.answer(t0 + SEC, t0 + SEC).is_none(), "a later caller tries again");
    }

    #[test]
    fn a_failure_is_reused_for_the_cooldown_but_not_past_retry_after() {
        let t0 = Instant::now();
        let failure = Failure::new(t0, 2 * SEC, 10 * SEC);
        assert_eq!(failure.reuse_until, t0 + 2 * SEC);
        let failed = Cached::Failed(failure);
        assert!(failed.answer(t0 + SEC, t0 + SEC).is_some());
        assert!(failed.answer(t0 + 3 * SEC, t0 + 3 * SEC).is_none());
    }
}
