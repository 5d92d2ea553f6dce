//! [`RedisRateLimiter`]: the per-user limit of `wrap_server`, with its state in Redis so that
//! every replica draws on one budget per user.
//!
//! Each check is one `EVALSHA` of the GCRA script (`gcra.rs`) on the key
//! `{prefix}rl:{scope}:{hash}`, where `hash` is the first 128 bits of an HMAC-SHA256 of the user
//! id: Redis never holds a user id in the clear, and `SCAN` shows no one's e-mail address.
//!
//! When Redis fails a check (an error, or no answer within the timeout), the [`FailMode`]
//! answers that check. After [`FAILURES_BEFORE_DOWN`] failures in a row Redis counts as down
//! for [`RECHECK_AFTER`]: checks meanwhile do not wait on it, and the fail mode decides —
//! `Open` answers from a local [`KeyedLimiter`] with the same quota (each replica then limits
//! on its own, so a user may get up to replicas × quota), `Closed` refuses with `503`. The
//! first check after the window tries Redis again; the connection reconnects by itself, so
//! shared limiting resumes without a restart.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use hmac::{Hmac, KeyInit, Mac};
use mcp_auth::middleware::{
    RateLimitConfig,
    rate_limit::{KeyedLimiter, RateLimitStatus, SharedRateLimitError, SharedRateLimiter},
};
use sha2::Sha256;

use crate::{RedisConnection, RedisSetupError, gcra};

/// How long Redis counts as down after a failed check before the next check tries it again:
/// long enough that an outage costs each request no timeout, short enough that recovery is
/// noticed within a second.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// How many checks in a row must fail before Redis counts as down: one late answer on a busy
/// host costs that one request its shared check, not a second of every user's (a second of
/// `503`s, failing closed).
pub const FAILURES_BEFORE_DOWN: u32 = 3;

/// The HMAC key when none is given ([`RedisRateLimiter::with_hash_key`]). Public, so the hash
/// is only as good as a plain SHA-256 against someone who can guess ids; but every replica
/// agrees on it without configuration.
const DEFAULT_HASH_KEY: &[u8] = b"mcp-auth-redis rate limit v1";

/// What a check does when Redis cannot answer it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailMode {
    /// Limit locally, with the same quota per replica, until Redis is back (the default:
    /// availability over exactness).
    #[default]
    Open,
    /// Refuse every request (`503` + `Retry-After`) until Redis is back: for a limit that
    /// protects something which must never see more than the quota.
    Closed,
}

/// A [`SharedRateLimiter`] over Redis; see the module docs. Cheap to share behind an `Arc`.
pub struct RedisRateLimiter {
    connection: RedisConnection,
    script: redis::Script,
    /// `{prefix}rl:{scope}:`.
    key_base: String,
    hash_key: Hmac<Sha256>,
    interval_micros: u64,
    burst: u32,
    fail_mode: FailMode,
    /// `Open`'s local limiter (unused while Redis answers).
    fallback: Option<KeyedLimiter<Arc<str>>>,
    created: Instant,
    /// Until when Redis counts as down, in nanoseconds since `created`; 0 while it is up.
    down_until: AtomicU64,
    /// Checks failed in a row.
    failures: AtomicU32,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("key_base", &self.key_base)
            .field("interval_micros", &self.interval_micros)
            .field("burst", &self.burst)
            .field("fail_mode", &self.fail_mode)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limit of `quota` (its `requests` per `period`, `burst`; `max_tracked_keys` and
    /// `sweep_interval` bound the local fallback) per user, under keys of `scope` — one scope
    /// per limit, e.g. the mount's name, so that two limits never share a budget.
    pub fn new(
        connection: &RedisConnection,
        scope: &str,
        quota: &RateLimitConfig,
        fail_mode: FailMode,
    ) -> Result<Self, RedisSetupError> {
        // The local limiter's checks are the quota's checks (zero rates, burst, period).
        let fallback = KeyedLimiter::new(quota)
            .map_err(|error| RedisSetupError::new("rate_limit", error.to_string()))?;
        let interval = quota.period / quota.requests.max(1);
        let interval_micros = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX);
        if interval_micros == 0 {
            return Err(RedisSetupError::new(
                "rate_limit.requests",
                format!("at most one request per microsecond of the {:?} period", quota.period),
            ));
        }
        let hash_key = Hmac::<Sha256>::new_from_slice(DEFAULT_HASH_KEY).expect("any key length");
        Ok(Self {
            connection: connection.clone(),
            script: redis::Script::new(gcra::SCRIPT),
            key_base: format!("{}rl:{scope}:", connection.key_prefix),
            hash_key,
            interval_micros,
            burst: quota.burst,
            fail_mode,
            fallback: (fail_mode == FailMode::Open).then_some(fallback),
            created: Instant::now(),
            down_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
        })
    }

    /// Hashes user ids under `key` (HMAC-SHA256), so that someone who can read Redis cannot
    /// confirm a guessed id either. Every replica must be given the same key.
    pub fn with_hash_key(mut self, key: &[u8]) -> Self {
        self.hash_key = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        self
    }

    /// The Redis key of `user_id`'s state (for tests and operators).
    pub fn key_of(&self, user_id: &str) -> String {
        let mut mac = self.hash_key.clone();
        mac.update(user_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = String::with_capacity(self.key_base.len() + 32);
        key.push_str(&self.key_base);
        for byte in &digest[..16] {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }

    /// Whether the last failure's window is still open.
    fn is_down(&self) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && self.elapsed_nanos() < until
    }

    /// Counts a failed check; the last of [`FAILURES_BEFORE_DOWN`] in a row opens the window.
    fn failed(&self, reason: &str) {
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= FAILURES_BEFORE_DOWN {
            self.mark_down(reason);
        } else {
            tracing::debug!(reason, "redis rate limit: one check failed");
        }
    }

    fn mark_down(&self, reason: &str) {
        let until = self.elapsed_nanos().saturating_add(nanos(RECHECK_AFTER)).max(1);
        if self.down_until.swap(until, Ordering::Relaxed) == 0 {
            tracing::warn!(
                reason,
                fail_mode = ?self.fail_mode,
                "redis rate limit: Redis unavailable; limiting per replica (open) or refusing \
                 (closed) until it answers again"
            );
        }
    }

    fn mark_up(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.down_until.load(Ordering::Relaxed) != 0
            && self.down_until.swap(0, Ordering::Relaxed) != 0
        {
            tracing::info!("redis rate limit: Redis answers again; shared limiting resumed");
        }
    }

    /// What a check answers while Redis is down.
    fn degraded(&self, user_id: &str) -> Result<RateLimitStatus, SharedRateLimitError> {
        match &self.fallback {
            Some(local) => local.check(&Arc::from(user_id)).map_err(SharedRateLimitError::from),
            None => Err(SharedRateLimitError::Unavailable { retry_after: RECHECK_AFTER }),
        }
    }

    async fn shared_check(&self, user_id: &str) -> Result<RateLimitStatus, SharedRateLimitError> {
        if self.is_down() {
            return self.degraded(user_id);
        }
        let key = self.key_of(user_id);
        let mut manager = self.connection.manager.clone();
        let mut invocation = self.script.key(&key);
        invocation.arg(self.interval_micros).arg(self.burst);
        let call = invocation.invoke_async::<Vec<i64>>(&mut manager);
        let answer = match tokio::time::timeout(self.connection.timeout, call).await {
            Ok(Ok(answer)) => gcra::decode(&answer, self.burst),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.connection.timeout)),
        };
        match answer {
            Ok(decision) => {
                self.mark_up();
                decision.map_err(SharedRateLimitError::from)
            }
            Err(reason) => {
                self.failed(&reason);
                self.degraded(user_id)
            }
        }
    }

    fn elapsed_nanos(&self) -> u64 {
        nanos(self.created.elapsed())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl SharedRateLimiter for RedisRateLimiter {
    fn check<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>> {
        Box::pin(self.shared_check(user_id))
    }
}
