//! Security events — refused authentications, `Host`/`Origin` refusals, rate-limit and cap
//! refusals — logged at `info` and
//! `warn` for operators, themselves rate-limited so that an attacker cannot fill the disk with
//! them. Never the token; the user id only as a short hash.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Events logged per second at most, with bursts of this many; the rest are counted and the
/// count is reported with the next event that is logged.
const EVENTS_PER_SECOND: u32 = 20;

/// The rate-limited security log.
pub(crate) struct SecurityLog {
    limiter: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
}

impl Default for SecurityLog {
    fn default() -> Self {
        let rate = NonZeroU32::new(EVENTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::direct(Quota::per_second(rate)),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl SecurityLog {
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
                user = %user_hash(user_id),
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

/// A short, stable tag for a user id in logs: the first 8 bytes of its SHA-256, in hex. It
/// correlates log lines across replicas and restarts without printing the id (which may be an
/// e-mail address).
pub(crate) fn user_hash(user_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(user_id.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
