//! [`RateLimitConfig`]: the quota, the key, and the memory bound of a rate limit.

use std::{num::NonZeroU32, time::Duration};

use governor::Quota;

use crate::config::ConfigError;

/// How much a caller may do: `requests` per `period` sustained, up to `burst` at once (GCRA, a
/// token bucket without the timer), keyed by user id — or by user id and tool name with
/// [`per_tool`](Self::per_tool).
///
/// The [`Default`] is what [`wrap_server`](crate::wrap_server) applies to every HTTP request:
/// **20 requests/s sustained per user, bursts of up to 100**. MCP clients are chatty: opening a
/// session is four requests (`initialize`, `notifications/initialized`, the GET stream,
/// `tools/list`), every tool call is a POST and may bring progress or cancel notifications,
/// a model may fire several tool calls at once, and one user may run a few sessions (editor,
/// CLI, agent). A burst of 100 lets all of that through untouched, and 20/s sustained is far
/// above what a human-driven or even an agent-driven client sends, while a runaway loop or a
/// stolen token hammering the server is cut down to 20/s within five seconds. The audit of the
/// original proposed 100 requests per *minute*, which a single busy agent session exceeds
/// legitimately.
///
/// ```
/// use mcp_auth::middleware::RateLimitConfig;
///
/// let strict = RateLimitConfig::per_minute(60).with_burst(10).with_per_tool(true);
/// assert_eq!((strict.requests, strict.burst), (60, 10));
/// assert!(!RateLimitConfig::disabled().enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Whether the limit applies at all (default true).
    pub enabled: bool,
    /// Requests replenished per [`period`](Self::period): the sustained rate (default 20).
    pub requests: u32,
    /// The period over which [`requests`](Self::requests) are replenished (default 1 s).
    pub period: Duration,
    /// The most requests accepted back to back by a caller who has been idle (default 100).
    pub burst: u32,
    /// Key by user id *and* tool name, so each tool has its own budget (default false: one
    /// budget per user). Only tool-call layers know the tool; the HTTP limit ignores this.
    pub per_tool: bool,
    /// The most keys (users, or user-and-tool pairs) the limiter tracks (default 100 000,
    /// roughly 10 MB). Past it, expired keys are swept at once; see
    /// [`KeyedLimiter`](super::KeyedLimiter) for what happens when they are all live.
    pub max_tracked_keys: usize,
    /// How often keys whose state has expired are swept from memory (default 10 s).
    pub sweep_interval: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            requests: 20,
            period: Duration::from_secs(1),
            burst: 100,
            per_tool: false,
            max_tracked_keys: 100_000,
            sweep_interval: Duration::from_secs(10),
        }
    }
}

impl RateLimitConfig {
    /// `requests` per `period`, with a burst of `requests`.
    pub fn per(requests: u32, period: Duration) -> Self {
        Self { requests, period, burst: requests, ..Self::default() }
    }

    /// `requests` per second, with a burst of `requests`.
    pub fn per_second(requests: u32) -> Self {
        Self::per(requests, Duration::from_secs(1))
    }

    /// `requests` per minute, with a burst of `requests`.
    pub fn per_minute(requests: u32) -> Self {
        Self::per(requests, Duration::from_secs(60))
    }

    /// No limit at all.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// Sets [`Self::burst`].
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// Sets [`Self::per_tool`].
    pub fn with_per_tool(mut self, per_tool: bool) -> Self {
        self.per_tool = per_tool;
        self
    }

    /// Sets [`Self::max_tracked_keys`].
    pub fn with_max_tracked_keys(mut self, max: usize) -> Self {
        self.max_tracked_keys = max;
        self
    }

    /// Sets [`Self::sweep_interval`].
    pub fn with_sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Sets [`Self::enabled`].
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The governor quota, or the setting that makes one impossible.
    pub(crate) fn quota(&self) -> Result<Quota, ConfigError> {
        let requests = NonZeroU32::new(self.requests).ok_or_else(|| {
            ConfigError::invalid(
                "rate_limit.requests",
                0,
                "at least 1 request per period (use RateLimitConfig::disabled() to turn the \
                 limit off)",
            )
        })?;
        let burst = NonZeroU32::new(self.burst)
            .ok_or_else(|| ConfigError::invalid("rate_limit.burst", 0, "at least 1"))?;
        if self.period.is_zero() {
            return Err(ConfigError::invalid(
                "rate_limit.period",
                format!("{:?}", self.period),
                "a positive duration such as 1s",
            ));
        }
        if self.max_tracked_keys == 0 {
            return Err(ConfigError::invalid("rate_limit.max_tracked_keys", 0, "at least 1"));
        }
        // GCRA admits one request every `period / requests`; below a nanosecond that is zero,
        // which governor cannot represent.
        Quota::with_period(self.period / requests.get()).map(|q| q.allow_burst(burst)).ok_or_else(
            || {
                ConfigError::invalid(
                    "rate_limit.requests",
                    requests,
                    format!("at most one request per nanosecond of the {:?} period", self.period),
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_rates_name_the_key() {
        let err = RateLimitConfig::per_second(0).quota().unwrap_err();
        assert_eq!(err.key, "rate_limit.requests");
        let err = RateLimitConfig::per_second(5).with_burst(0).quota().unwrap_err();
        assert_eq!(err.key, "rate_limit.burst");
        let err = RateLimitConfig::per(5, Duration::ZERO).quota().unwrap_err();
        assert_eq!(err.key, "rate_limit.period");
        let err = RateLimitConfig::per(5, Duration::from_nanos(2)).quota().unwrap_err();
        assert_eq!(err.key, "rate_limit.requests");
        let err = RateLimitConfig::default().with_max_tracked_keys(0).quota().unwrap_err();
        assert_eq!(err.key, "rate_limit.max_tracked_keys");
    }

    #[test]
    fn the_default_is_twenty_per_second_with_bursts_of_a_hundred() {
        let quota = RateLimitConfig::default().quota().unwrap();
        assert_eq!(quota.replenish_interval(), Duration::from_millis(50));
        assert_eq!(quota.burst_size().get(), 100);
    }
}
