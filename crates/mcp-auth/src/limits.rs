//! [`Limits`]: what one caller may hold open at once, and what all callers together may.
//!
//! The rate limit ([`RateLimitConfig`]) bounds how *often* a user may ask; these bound how *much*
//! a user may hold at the same time: in-flight requests, bytes of responses they are not
//! reading, sessions, instances. Each is checked in admission, after authentication and before
//! the request reaches the wrapped server, and each refusal is a clear HTTP error (`429` for a
//! user over their own share, `503` + `Retry-After` when the server as a whole is full).

use std::time::Duration;

use crate::{config::ConfigError, middleware::RateLimitConfig};

/// Per-user and total bounds on held resources. The defaults suit a multi-tenant server on a
/// small machine; every bound is a knob.
///
/// ```
/// use mcp_auth::Limits;
/// let limits = Limits::default().with_max_in_flight_per_user(8).with_max_sessions_per_user(4);
/// assert_eq!(limits.max_in_flight_per_user, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Requests of one user being served at once, streaming responses included until they end
    /// (default 32). Over it: `429`. Bounds long-running calls a user can pile up.
    pub max_in_flight_per_user: usize,
    /// Bytes of response one user has been handed but not yet read (default 32 MiB). A client
    /// that sends requests and never reads the answers is refused (`429`) once its unread
    /// answers reach this, instead of growing the server's memory. The process grows by about
    /// this plus a few copies of the largest answer being built (request, parsed value, result,
    /// serialised answer): 32 MiB keeps one hostile user under 64 MB of RSS with 3 MiB answers
    /// (docs/reliability.md).
    pub max_unread_response_bytes_per_user: usize,
    /// Streamable HTTP sessions (2025-era `Mcp-Session-Id`) one user may hold (default 32).
    /// Over it, a new `initialize` gets `429`; existing sessions are kept.
    pub max_sessions_per_user: usize,
    /// Legacy HTTP+SSE sessions one user may hold (default 32).
    pub max_sse_sessions_per_user: usize,
    /// Sessions of all users together, both transports (default 20 000). Over it: `503`.
    pub max_sessions_total: usize,
    /// A Streamable HTTP session of a per-user instance that has been idle this long — no request
    /// in flight, no stream open — hibernates (default 60 s): rmcp's worker for it stops and
    /// only its record stays (< 1 KB instead of ~52 KB), and the client's next request
    /// restores it, unnoticed. Per-session instances do not hibernate: their instance would go
    /// with the worker. Their sessions end after 5 minutes idle (rmcp's keep-alive), as before.
    pub session_hibernate_after: Duration,
    /// A Streamable HTTP session unused this long is forgotten (default 30 min); its next
    /// request gets `404` and the client opens a new one, as the spec says.
    pub session_idle_timeout: Duration,
    /// Instances one user may hold at once: more than one only when allow-listed extras differ
    /// between their requests (default 8). Over it: `429`.
    pub max_instances_per_user: usize,
    /// `Retry-After` sent with a `503` when the server is full of active users (default 5 s).
    pub busy_retry_after: Duration,
    /// A stream (a GET stream or a legacy SSE stream) is closed this long after the token it was
    /// opened with expires (default 60 s, the JWT leeway); the client reconnects with a fresh
    /// token. `None` keeps streams open regardless.
    pub stream_expiry_leeway: Option<Duration>,
    /// Failed authentications per peer address (default 20/s sustained, bursts of 100). A peer
    /// over it gets `429` before any token is parsed. Behind a reverse proxy every caller shares
    /// the proxy's address: raise this, or disable it with [`RateLimitConfig::disabled`].
    pub failed_auth_per_peer: RateLimitConfig,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight_per_user: 32,
            max_unread_response_bytes_per_user: 32 * 1024 * 1024,
            max_sessions_per_user: 32,
            max_sse_sessions_per_user: 32,
            max_sessions_total: 20_000,
            session_hibernate_after: Duration::from_secs(60),
            session_idle_timeout: Duration::from_secs(30 * 60),
            max_instances_per_user: 8,
            busy_retry_after: Duration::from_secs(5),
            stream_expiry_leeway: Some(Duration::from_secs(60)),
            failed_auth_per_peer: RateLimitConfig::per_second(20).with_burst(100),
        }
    }
}

impl Limits {
    /// Sets [`Self::max_in_flight_per_user`].
    pub fn with_max_in_flight_per_user(mut self, max: usize) -> Self {
        self.max_in_flight_per_user = max;
        self
    }

    /// Sets [`Self::max_unread_response_bytes_per_user`].
    pub fn with_max_unread_response_bytes_per_user(mut self, bytes: usize) -> Self {
        self.max_unread_response_bytes_per_user = bytes;
        self
    }

    /// Sets [`Self::max_sessions_per_user`].
    pub fn with_max_sessions_per_user(mut self, max: usize) -> Self {
        self.max_sessions_per_user = max;
        self
    }

    /// Sets [`Self::max_sse_sessions_per_user`].
    pub fn with_max_sse_sessions_per_user(mut self, max: usize) -> Self {
        self.max_sse_sessions_per_user = max;
        self
    }

    /// Sets [`Self::max_sessions_total`].
    pub fn with_max_sessions_total(mut self, max: usize) -> Self {
        self.max_sessions_total = max;
        self
    }

    /// Sets [`Self::session_hibernate_after`].
    pub fn with_session_hibernate_after(mut self, after: Duration) -> Self {
        self.session_hibernate_after = after;
        self
    }

    /// Sets [`Self::session_idle_timeout`].
    pub fn with_session_idle_timeout(mut self, timeout: Duration) -> Self {
        self.session_idle_timeout = timeout;
        self
    }

    /// Sets [`Self::max_instances_per_user`].
    pub fn with_max_instances_per_user(mut self, max: usize) -> Self {
        self.max_instances_per_user = max;
        self
    }

    /// Sets [`Self::busy_retry_after`].
    pub fn with_busy_retry_after(mut self, retry_after: Duration) -> Self {
        self.busy_retry_after = retry_after;
        self
    }

    /// Sets [`Self::stream_expiry_leeway`].
    pub fn with_stream_expiry_leeway(mut self, leeway: Option<Duration>) -> Self {
        self.stream_expiry_leeway = leeway;
        self
    }

    /// Sets [`Self::failed_auth_per_peer`].
    pub fn with_failed_auth_per_peer(mut self, config: RateLimitConfig) -> Self {
        self.failed_auth_per_peer = config;
        self
    }

    pub(crate) fn validated(self) -> Result<Self, ConfigError> {
        let counts = [
            ("limits.max_in_flight_per_user", self.max_in_flight_per_user),
            ("limits.max_unread_response_bytes_per_user", self.max_unread_response_bytes_per_user),
            ("limits.max_sessions_per_user", self.max_sessions_per_user),
            ("limits.max_sse_sessions_per_user", self.max_sse_sessions_per_user),
            ("limits.max_sessions_total", self.max_sessions_total),
            ("limits.max_instances_per_user", self.max_instances_per_user),
        ];
        for (key, value) in counts {
            if value == 0 {
                return Err(ConfigError::invalid(key, 0, "at least 1"));
            }
        }
        let durations = [
            ("limits.session_hibernate_after", self.session_hibernate_after),
            ("limits.session_idle_timeout", self.session_idle_timeout),
        ];
        for (key, value) in durations {
            if value.is_zero() {
                return Err(ConfigError::invalid(key, "0s", "more than 0"));
            }
        }
        // Semaphores hold at most this many permits.
        if self.max_in_flight_per_user > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(ConfigError::invalid(
                "limits.max_in_flight_per_user",
                self.max_in_flight_per_user,
                format!("at most {}", tokio::sync::Semaphore::MAX_PERMITS),
            ));
        }
        Ok(self)
    }
}
