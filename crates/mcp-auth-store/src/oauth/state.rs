//! The pending connections: each OAuth `state` issued by
//! [`OAuthConnector::authorize`](super::OAuthConnector::authorize), with the user and resource it
//! is bound to and its PKCE verifier, until the callback spends it.
//!
//! The `state` is 128 random bits (oauth2's `CsrfToken`), never derived from the user, so it
//! cannot be forged; it is a key into this table, so a callback can only complete a connection
//! started here. Taking an entry removes it atomically (single use: a replayed callback finds
//! nothing). The table is in memory and bounded (`max_pending`, least recently used evicted
//! first); an entry lives its TTL plus a grace period, so that a late callback is told "expired"
//! rather than "unknown". A restart forgets every pending connection: the user connects again.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use oauth2::PkceCodeVerifier;

/// How long an expired entry is kept to say "expired" instead of "unknown".
const EXPIRED_GRACE: Duration = Duration::from_secs(300);

/// A connection started and not yet completed.
pub(crate) struct Pending {
    /// The user who started it.
    pub(crate) user_id: String,
    /// The resource type being connected.
    pub(crate) resource_type: String,
    /// The PKCE verifier whose S256 challenge went into the authorize URL.
    pub(crate) verifier: PkceCodeVerifier,
    /// When the state stops being accepted.
    pub(crate) expires_at: Instant,
}

/// The pending connections by `state`.
pub(crate) struct PendingStates {
    table: moka::sync::Cache<String, Arc<Pending>>,
    ttl: Duration,
}

impl PendingStates {
    pub(crate) fn new(ttl: Duration, max_pending: u64) -> Self {
        let table = moka::sync::Cache::builder()
            .max_capacity(max_pending)
            .time_to_live(ttl.saturating_add(EXPIRED_GRACE))
            .build();
        Self { table, ttl }
    }

    /// Records a pending connection under `state`; returns when it expires.
    pub(crate) fn insert(
        &self,
        state: String,
        user_id: &str,
        resource_type: &str,
        verifier: PkceCodeVerifier,
    ) -> Instant {
        let expires_at = Instant::now() + self.ttl;
        let pending = Pending {
            user_id: user_id.to_owned(),
            resource_type: resource_type.to_owned(),
            verifier,
            expires_at,
        };
        self.table.insert(state, Arc::new(pending));
        expires_at
    }

    /// Removes and returns the connection pending under `state`, expired or not.
    pub(crate) fn take(&self, state: &str) -> Option<Arc<Pending>> {
        self.table.remove(state)
    }
}
