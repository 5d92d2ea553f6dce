//! What [`StoreTokenResolver`](super::StoreTokenResolver) remembers per (user, resource type),
//! and for how long, so that a request costs a cache hit rather than an audited SQLite read.
//!
//! | answer | kept for |
//! |---|---|
//! | a credential | `cache_ttl`, cut at the moment it is due for refresh (its expiry less the refresh margin, when it can be refreshed) or at its expiry |
//! | a credential already due for refresh (the refresh was declined, or the provider is down and the still-valid token stands in) | [`IN_MARGIN_TTL`], cut at its expiry |
//! | not found, revoked, needs reconnect, expired | `negative_ttl` |
//! | the store failed | nothing: the next request asks again |
//!
//! Every change made through the same store (a put, a refresh, a revocation, a connect)
//! evicts the entries it touches at once (see `store/changes.rs`).

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use mcp_auth::{Credential, CredentialError};
use moka::{Expiry, future::Cache};

use crate::store::ChangeListener;

/// How long a credential already inside its refresh margin is kept: long enough that a burst
/// of one user's requests during a provider outage costs one store read, short enough that the
/// refresh is retried as its backoff allows.
pub const IN_MARGIN_TTL: Duration = Duration::from_secs(1);

/// The cache key: user id and resource type.
pub(super) type Key = (String, String);

/// One remembered answer and how long it stands.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) answer: Result<Credential, CredentialError>,
    pub(super) ttl: Duration,
}

/// The cache's lifetimes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    pub(super) cache_ttl: Duration,
    pub(super) negative_ttl: Duration,
}

impl Lifetimes {
    /// How long `credential` is kept: `refresh_due` is when it should be refreshed (`None`:
    /// it cannot be, so only its expiry matters).
    pub(super) fn found(
        &self,
        credential: &Credential,
        refresh_due: Option<SystemTime>,
    ) -> Duration {
        let now = SystemTime::now();
        let until = |at: SystemTime| at.duration_since(now).unwrap_or(Duration::ZERO);
        let to_expiry = credential.expires_at().map_or(Duration::MAX, until);
        match refresh_due.map(until) {
            Some(Duration::ZERO) => IN_MARGIN_TTL.min(to_expiry),
            Some(to_refresh) => self.cache_ttl.min(to_refresh),
            None => self.cache_ttl.min(to_expiry),
        }
    }
}

/// Per-entry lifetimes for moka.
struct EntryExpiry;

impl Expiry<Key, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &Key, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The cache, bounded by entries.
pub(super) fn build(max_capacity: u64) -> Cache<Key, Entry> {
    Cache::builder()
        .name("mcp-auth-store.resolver")
        .max_capacity(max_capacity)
        .expire_after(EntryExpiry)
        .support_invalidation_closures()
        .build()
}

/// Evicts what a change touches.
pub(super) struct Evictor(pub(super) Cache<Key, Entry>);

#[async_trait::async_trait]
impl ChangeListener for Evictor {
    async fn changed(&self, user_id: &str, resource_type: Option<&str>) {
        match resource_type {
            Some(resource_type) => {
                self.0.invalidate(&(user_id.to_owned(), resource_type.to_owned())).await;
            }
            None => {
                let user_id: Arc<str> = user_id.into();
                // Only fails without `support_invalidation_closures`, which `build` sets.
                let _ = self.0.invalidate_entries_if(move |key, _| *key.0 == *user_id);
            }
        }
    }
}
