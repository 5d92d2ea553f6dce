//! Who hears of a change made through this process's store: the caches in front of it
//! ([`StoreTokenResolver`](crate::StoreTokenResolver)'s), so that a put, a delete, a revocation
//! or a refresh is seen by the next request, not after a TTL.
//!
//! Changes made by another process on the same file (`mcp-auth credentials put` while the
//! gateway runs) are not heard; caches learn them when their entries expire.
//!
//! A listener also reads [`ChangeFeed::seq`] around a fetch: a change that lands between its
//! read and its cache insert is caught by comparing the two, since the change's notification
//! may have run before the insert.

use std::sync::{
    Mutex, PoisonError, Weak,
    atomic::{AtomicU64, Ordering},
};

/// Told of every committed change; held weakly, so a dropped cache stops listening.
#[async_trait::async_trait]
pub(crate) trait ChangeListener: Send + Sync {
    /// The credential of `user_id` for `resource_type` changed; every resource type of the user
    /// when `resource_type` is `None` (a revocation).
    async fn changed(&self, user_id: &str, resource_type: Option<&str>);
}

/// The listeners and the change counter of one store (shared by its clones).
#[derive(Default)]
pub(crate) struct ChangeFeed {
    seq: AtomicU64,
    listeners: Mutex<Vec<Weak<dyn ChangeListener>>>,
}

impl ChangeFeed {
    /// How many changes have been committed through this store so far.
    pub(crate) fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Adds `listener`, dropping listeners that are gone.
    pub(crate) fn listen(&self, listener: Weak<dyn ChangeListener>) {
        let mut listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|listener| listener.strong_count() > 0);
        listeners.push(listener);
    }

    /// Counts a committed change, then tells every listener.
    pub(crate) async fn changed(&self, user_id: &str, resource_type: Option<&str>) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        let listeners: Vec<_> = {
            let listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
            listeners.iter().filter_map(Weak::upgrade).collect()
        };
        for listener in listeners {
            listener.changed(user_id, resource_type).await;
        }
    }
}
