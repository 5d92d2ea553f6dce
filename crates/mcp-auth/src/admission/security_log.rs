//! Security events — refused authentications, `Host`/`Origin` refusals, rate-limit and cap
//! refusals — logged at `info` and
//! `warn` for operators, themselves rate-limited so that an attacker cannot fill the disk with
//! them. Never the token; the user as the server's [`UserIdLogging`] names them (a keyed tag
//! unless raw ids were asked for).

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::log_ids::UserIdLogging;

/// Events logged per second at most, with bursts of this many; the rest are counted and the
/// count is reported with the next event that is logged.
const EVENTS_PER_SECOND: u32 = 20;

/// The rate-limited security log.
pub(crate) struct SecurityLog {
    limiter: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
    user_ids: UserIdLogging,
}

impl Default for SecurityLog {
    fn default() -> Self {
        Self::new(UserIdLogging::default())
    }
}

impl SecurityLog {
    /// A log naming users as `user_ids` says.
    pub(crate) fn new(user_ids: UserIdLogging) -> Self {
        let rate = NonZeroU32::new(EVENTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct(Quota::per_second(rate)),
            suppressed: AtomicU64::new(0),
            user_ids,
        }
    }

    /// Whether to log now; when `Some`, the number of events suppressed since the last one.
    fn admit(&self) -> Option<u64> {
        if self.limiter.check().is_ok() {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// A refused authentication: the reason (never the token) and the peer.
    pub(crate) fn auth_failed(&self, reason: &dyn std::fmt::Display, peer: Option<IpAddr>) {
        if let Some(suppressed) = self.admit() {
            tracing::info!(
                target: "mcp_auth::security",
                event = "auth_failed",
                %reason,
                peer = ?peer,
                suppressed,
                "authentication refused"
            );
        }
    }

    /// A refusal after authentication: over a rate limit or a cap.
    pub(crate) fn refused(&self, what: &str, user_id: &str, peer: Option<IpAddr>) {
        if let Some(suppressed) = self.admit() {
            tracing::warn!(
                target: "mcp_auth::security",
                event = "refused",
                what,
                user = %self.user_ids.tag(user_id),
                peer = ?peer,
                suppressed,
                "request refused"
            );
        }
    }

    /// A request refused by the `Host`/`Origin` guard (DNS rebinding, a foreign page).
    pub(crate) fn host_or_origin_refused(&self, reason: &str, peer: Option<IpAddr>) {
        if let Some(suppressed) = self.admit() {
            tracing::warn!(
                target: "mcp_auth::security",
                event = "host_origin_refused",
                reason,
                peer = ?peer,
                suppressed,
                "request refused before authentication"
            );
        }
    }

    /// A peer refused before authentication for too many failed attempts.
    pub(crate) fn peer_blocked(&self, peer: IpAddr) {
        if let Some(suppressed) = self.admit() {
            tracing::warn!(
                target: "mcp_auth::security",
                event = "peer_blocked",
                peer = %peer,
                suppressed,
                "too many failed authentications from this peer"
            );
        }
    }
}
