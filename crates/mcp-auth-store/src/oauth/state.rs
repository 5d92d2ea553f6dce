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
//!
//! One user holds at most [`MAX_PENDING_PER_USER`] states: starting another forgets that user's
//! oldest, so one user following `/connect/…` in a loop cannot push other users' pending
//! connections out of the table.
//!
//! Eviction is plain LRU, not moka's default TinyLFU: TinyLFU may refuse a *new* entry when the
//! table is full, and a state refused at issue would fail its user's callback.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use moka::policy::EvictionPolicy;
use oauth2::PkceCodeVerifier;

/// The most connections one user may have pending; their oldest goes first.
pub const MAX_PENDING_PER_USER: usize = 5;

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
    /// Each user's states, oldest first (spent ones included until they age out of the queue).
    by_user: moka::sync::Cache<String, Arc<Mutex<VecDeque<String>>>>,
    ttl: Duration,
}

impl PendingStates {
    pub(crate) fn new(ttl: Duration, max_pending: u64) -> Self {
        let lifetime = ttl.saturating_add(EXPIRED_GRACE);
        let table = moka::sync::Cache::builder()
            .max_capacity(max_pending)
            .time_to_live(lifetime)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let by_user = moka::sync::Cache::builder()
            .max_capacity(max_pending)
            .time_to_live(lifetime)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self { table, by_user, ttl }
    }

    /// How many connections are pending (expired ones within their grace included).
    pub(crate) fn len(&self) -> u64 {
        self.table.run_pending_tasks();
        self.table.entry_count()
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
        let queue = self.by_user.get_with_by_ref(user_id, Arc::default);
        let forgotten = {
            let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.push_back(state.clone());
            (queue.len() > MAX_PENDING_PER_USER).then(|| queue.pop_front()).flatten()
        };
        if let Some(forgotten) = forgotten {
            self.table.invalidate(&forgotten);
        }
        self.table.insert(state, Arc::new(pending));
        expires_at
    }

    /// Removes and returns the connection pending under `state`, expired or not.
    pub(crate) fn take(&self, state: &str) -> Option<Arc<Pending>> {
        self.table.remove(state)
    }
}
