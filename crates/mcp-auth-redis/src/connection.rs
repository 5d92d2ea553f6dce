//! [`RedisConnection`]: one multiplexed connection to Redis, shared by the rate limiter and the
//! readiness check of a process, that reconnects on its own (redis-rs' `ConnectionManager`).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// How long one Redis call may take before the caller stops waiting (50 ms): a rate-limit
/// check sits on every request's path, and a Redis that answers slower than this is treated as
/// down (the [`FailMode`](crate::FailMode) decides what that means).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

/// What every key this crate writes starts with (`mcp-auth:`), so that one Redis can serve
/// several deployments, or other applications, side by side.
pub const DEFAULT_KEY_PREFIX: &str = "mcp-auth:";

/// Where Redis is and how long to wait for it.
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`, `rediss://…` or `redis+unix:///path/to/sock`.
    /// May hold a password: never logged.
    pub url: String,
    /// Prepended to every key (default [`DEFAULT_KEY_PREFIX`]).
    pub key_prefix: String,
    /// The longest wait for one call (default [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisConfig")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisConfig {
    /// Redis at `url`, with the default prefix and timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets [`Self::key_prefix`].
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets [`Self::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why a [`RedisConnection`] or a limiter on it could not be set up. Never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
#[non_exhaustive]
pub struct RedisSetupError {
    /// The setting at fault (`redis.url`, `redis.timeout`, `rate_limit.requests`, …).
    pub key: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl RedisSetupError {
    pub(crate) fn new(key: &'static str, reason: impl Into<String>) -> Self {
        Self { key, reason: reason.into() }
    }
}

/// A connection to Redis: cheap to clone, clones share it. Created without connecting, so a
/// process starts while Redis is down; calls fail (within the timeout) until it is up, and the
/// connection is re-established by itself after Redis restarts.
#[derive(Clone)]
pub struct RedisConnection {
    /// For connections of their own (a revocation listener's blocking reads would hold up
    /// every call sharing the manager's connection).
    pub(crate) client: redis::Client,
    pub(crate) manager: ConnectionManager,
    pub(crate) key_prefix: String,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// A connection to `config.url`, made on first use. Must be called within a Tokio runtime
    /// (the connection's tasks run on it).
    pub fn new(config: &RedisConfig) -> Result<Self, RedisSetupError> {
        if config.timeout.is_zero() {
            return Err(RedisSetupError::new("redis.timeout", "must be a positive duration"));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RedisSetupError::new("redis", "must be set up within a Tokio runtime"));
        }
        // redis-rs' parse errors name the part at fault, not the URL (which may hold a password).
        let client = redis::Client::open(config.url.as_str())
            .map_err(|error| RedisSetupError::new("redis.url", error.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            // Reconnect attempts: a few, quickly, then the next call starts another round. Calls
            // do not wait for them beyond their own timeout.
            .set_number_of_retries(3)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(config.timeout.max(Duration::from_secs(1))))
            // Each call has its own deadline (tokio::time::timeout); a late answer is dropped.
            .set_response_timeout(None);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(|error| RedisSetupError::new("redis.url", error.to_string()))?;
        Ok(Self { client, manager, key_prefix: config.key_prefix.clone(), timeout: config.timeout })
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `PING`, within the timeout.
    pub async fn ping(&self) -> Result<(), String> {
        let mut manager = self.manager.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut manager);
        match tokio::time::timeout(self.timeout, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }
}
