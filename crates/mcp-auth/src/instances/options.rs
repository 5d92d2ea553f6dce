//! [`InstanceMode`] and [`InstanceOptions`]: how many server instances exist, and for how long.

use std::time::Duration;

/// How server instances map to callers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceMode {
    /// One instance per user, shared by all of that user's sessions and requests (the default).
    /// The original's "pooled" mode, without its bugs: creation is single-flight, the pool is
    /// LRU-bounded, and a changed credential gets a fresh instance.
    #[default]
    PerUser,
    /// A fresh instance per session, or per request in the stateless (2026-07-28) era. The
    /// original's "ephemeral" mode.
    PerSession,
}

/// Bounds on the per-user instance pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InstanceOptions {
    /// Per user or per session (default per user).
    pub mode: InstanceMode,
    /// Most users held at once; the least recently used is evicted beyond it (default 10 000).
    pub max_instances: u64,
    /// A user's instance (and its sessions) is dropped after this long without a request
    /// (default 15 min).
    pub idle_timeout: Duration,
    /// A user's instance is rebuilt after this long, however busy (default 12 h), so that no
    /// instance holds a credential indefinitely.
    pub max_lifetime: Duration,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        Self {
            mode: InstanceMode::PerUser,
            max_instances: 10_000,
            idle_timeout: Duration::from_secs(15 * 60),
            max_lifetime: Duration::from_secs(12 * 60 * 60),
        }
    }
}

impl InstanceOptions {
    /// Sets [`Self::mode`].
    pub fn with_mode(mut self, mode: InstanceMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`Self::max_instances`].
    pub fn with_max_instances(mut self, max: u64) -> Self {
        self.max_instances = max;
        self
    }

    /// Sets [`Self::idle_timeout`].
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`Self::max_lifetime`].
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }
}
