//! [`RedisRateLimiter`]: the per-user limit of `wrap_server`, with its state in Redis so that
//! every replica draws on one budget per user.
//!
//! Each check is one `EVALSHA` of the GCRA script (`gcra.rs`) on the key
//! `{prefix}rl:{scope}:{hash}`, where `hash` is the first 128 bits of an HMAC-SHA256 of the user
//! id: Redis never holds a user id in the clear, and `SCAN` shows no one's e-mail address.
//!
//! When Redis fails a check (an error, or no answer within the timeout), the [`FailMode`]
//! answers that check. After [`FAILURES_BEFORE_DOWN`](crate::FAILURES_BEFORE_DOWN) failures in a row Redis counts as down
//! for [`RECHECK_AFTER`]: checks meanwhile do not wait on it, and the fail mode decides —
//! `Open` answers from a local [`KeyedLimiter`] with the same quota (each replica then limits
//! on its own, so a user may get up to replicas × quota), `Closed` refuses with `503`. The
//! first check after the window tries Redis again; the connection reconnects by itself, so
//! shared limiting resumes without a restart.

use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_auth::middleware::{
    RateLimitConfig,
    rate_limit::{KeyedLimiter, RateLimitStatus, SharedRateLimitError, SharedRateLimiter},
};

use crate::{
    RedisConnection, RedisSetupError, gcra,
    outage::{OutageWindow, RECHECK_AFTER},
    user_hash::UserHash,
};

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
    hash_key: UserHash,
    interval_micros: u64,
    burst: u32,
    fail_mode: FailMode,
    /// `Open`'s local limiter (unused while Redis answers).
    fallback: Option<KeyedLimiter<Arc<str>>>,
    outage: OutageWindow,
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
        Ok(Self {
            connection: connection.clone(),
            script: redis::Script::new(gcra::SCRIPT),
            key_base: format!("{}rl:{scope}:", connection.key_prefix),
            hash_key: UserHash::default(),
            interval_micros,
            burst: quota.burst,
            fail_mode,
            fallback: (fail_mode == FailMode::Open).then_some(fallback),
            outage: OutageWindow::default(),
        })
    }

    /// Hashes user ids under `key` (HMAC-SHA256), so that someone who can read Redis cannot
    /// confirm a guessed id either. Every replica must be given the same key.
    pub fn with_hash_key(mut self, key: &[u8]) -> Self {
        self.hash_key = UserHash::new(key);
        self
    }

    /// The Redis key of `user_id`'s state (for tests and operators).
    pub fn key_of(&self, user_id: &str) -> String {
        self.hash_key.key(&self.key_base, user_id)
    }

    fn mark_down(&self, reason: &str) {
        if self.outage.mark_down() {
            tracing::warn!(
                reason,
                fail_mode = ?self.fail_mode,
                "redis rate limit: Redis unavailable; limiting per replica (open) or refusing \
                 (closed) until it answers again"
            );
        }
    }

    fn mark_up(&self) {
        if self.outage.mark_up() {
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
        if self.outage.is_down() {
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
                self.mark_down(&reason);
                self.degraded(user_id)
            }
        }
    }
}

impl SharedRateLimiter for RedisRateLimiter {
    fn check<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>> {
        Box::pin(self.shared_check(user_id))
    }
}
