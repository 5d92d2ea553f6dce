//! The credential cache's local tier, in front of Redis: a bounded moka cache per process whose
//! entries live as long as the Redis entry they came from, and how long that is.

use std::time::{Duration, Instant, SystemTime};

use mcp_auth::Credential;

/// How long before its own expiry a credential stops being cached: a credential read from the
/// cache has at least this long left, so it does not expire while the request that got it is
/// still using it.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// The local key: user id and resource type.
pub(super) type LocalKey = (String, String);

/// A cached credential and how long it stays in the local tier.
#[derive(Debug, Clone)]
pub(super) struct LocalEntry {
    pub(super) credential: Credential,
    pub(super) ttl: Duration,
}

/// Each entry expires after its own `ttl`.
pub(super) struct EntryTtl;

impl moka::Expiry<LocalKey, LocalEntry> for EntryTtl {
    fn expire_after_create(
        &self,
        _key: &LocalKey,
        entry: &LocalEntry,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// How long `credential`, fetched at `now`, may be cached: the cache TTL, cut at its expiry
/// minus [`EXPIRY_MARGIN`]; zero for one that expires sooner.
pub(super) fn lifetime(credential: &Credential, ttl: Duration, now: SystemTime) -> Duration {
    match credential.expires_at() {
        None => ttl,
        Some(at) => {
            let left = at.duration_since(now).unwrap_or(Duration::ZERO);
            ttl.min(left.saturating_sub(EXPIRY_MARGIN))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifetime_is_the_ttl_cut_at_the_expiry_less_the_margin() {
        let now = SystemTime::now();
        let ttl = Duration::from_secs(30);
        let at = |secs| Credential::new("t").with_expiry(now + Duration::from_secs(secs));
        assert_eq!(lifetime(&Credential::new("t"), ttl, now), ttl);
        assert_eq!(lifetime(&at(600), ttl, now), ttl);
        assert_eq!(lifetime(&at(3), ttl, now), Duration::from_secs(2));
        assert_eq!(lifetime(&at(1), ttl, now), Duration::ZERO);
        let expired = Credential::new("t").with_expiry(now - Duration::from_secs(5));
        assert_eq!(lifetime(&expired, ttl, now), Duration::ZERO);
    }
}
