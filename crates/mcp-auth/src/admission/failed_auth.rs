//! [`FailedAuthLimiter`]: a per-peer budget of failed authentications, checked before any token
//! is parsed, so that an unauthenticated client cannot make the server spend unbounded CPU on
//! signature checks.

use std::{
    net::IpAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use crate::{
    config::ConfigError,
    middleware::{
        RateLimitConfig,
        rate_limit::{KeyedLimiter, RateLimitExceeded},
    },
};

/// Peers remembered as over their budget, at most.
const MAX_BLOCKED_PEERS: u64 = 100_000;

/// Failed authentications per peer address (GCRA, governor), and the peers currently over it.
pub(crate) struct FailedAuthLimiter {
    failures: KeyedLimiter<IpAddr>,
    /// Peers over budget, until when. Bounded; an entry lives no longer than a minute.
    blocked: moka::sync::Cache<IpAddr, (Instant, RateLimitExceeded)>,
    epoch: Instant,
    /// When the last of the blocks ends, in ms after `epoch` (0: none ever): until a peer is
    /// blocked, a check is one atomic load instead of a table lookup (~800 instructions).
    blocks_end_ms: AtomicU64,
}

impl FailedAuthLimiter {
    /// `None` when the limit is disabled.
    pub(crate) fn new(config: &RateLimitConfig) -> Result<Option<Self>, ConfigError> {
        if !config.enabled {
            return Ok(None);
        }
        let failures = KeyedLimiter::new(config)?;
        let blocked = moka::sync::Cache::builder()
            .max_capacity(MAX_BLOCKED_PEERS)
            .time_to_live(Duration::from_secs(60))
            .build();
        Ok(Some(Self {
            failures,
            blocked,
            epoch: Instant::now(),
            blocks_end_ms: AtomicU64::new(0),
        }))
    }

    /// Refuses a peer that is over its budget of failures.
    pub(crate) fn check(&self, peer: IpAddr) -> Result<(), RateLimitExceeded> {
        let blocks_end = self.blocks_end_ms.load(Ordering::Relaxed);
        if blocks_end == 0 || self.ms_since_epoch(Instant::now()) >= blocks_end {
            return Ok(());
        }
        match self.blocked.get(&peer) {
            Some((until, mut exceeded)) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(());
                }
                exceeded.retry_after = left;
                Err(exceeded)
            }
            None => Ok(()),
        }
    }

    /// Counts one failed authentication of `peer`.
    pub(crate) fn record_failure(&self, peer: IpAddr) {
        if let Err(exceeded) = self.failures.check(&peer) {
            let until = Instant::now() + exceeded.retry_after;
            // Rounded up: a check in the block's last millisecond still looks it up.
            self.blocks_end_ms
                .fetch_max(self.ms_since_epoch(until).saturating_add(1), Ordering::Relaxed);
            self.blocked.insert(peer, (until, exceeded));
        }
    }

    fn ms_since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_refused_once_its_failures_exceed_the_burst_and_others_are_not() {
        let limiter = FailedAuthLimiter::new(&RateLimitConfig::per_minute(3)).unwrap().unwrap();
        let (mallory, alice): (IpAddr, IpAddr) =
            ("10.0.0.66".parse().unwrap(), "10.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check(mallory).is_ok());
            limiter.record_failure(mallory);
        }
        assert!(limiter.check(mallory).is_ok(), "the burst itself is allowed");
        limiter.record_failure(mallory);
        let refused = limiter.check(mallory).unwrap_err();
        assert!(refused.retry_after > Duration::from_secs(1), "{refused:?}");
        assert!(limiter.check(alice).is_ok());
    }

    #[test]
    fn a_flood_from_many_addresses_stays_within_both_tables_bounds() {
        let config = RateLimitConfig::per_minute(1).with_burst(1).with_max_tracked_keys(1_000);
        let limiter = FailedAuthLimiter::new(&config).unwrap().unwrap();
        let peers = MAX_BLOCKED_PEERS + 20_000;
        for n in 0..peers {
            let peer = IpAddr::from(std::net::Ipv6Addr::from(u128::from(n)));
            limiter.record_failure(peer);
            limiter.record_failure(peer);
        }
        limiter.blocked.run_pending_tasks();
        assert!(limiter.blocked.entry_count() <= MAX_BLOCKED_PEERS);
        let tracked = limiter.failures.tracked_keys();
        assert!(tracked <= 1_000 + 64, "{tracked} keys: the cap plus one housekeeping period");
    }

    #[test]
    fn a_disabled_limit_builds_nothing() {
        assert!(FailedAuthLimiter::new(&RateLimitConfig::disabled()).unwrap().is_none());
    }
}
