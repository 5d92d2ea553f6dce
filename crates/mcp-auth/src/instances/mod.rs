//! The per-user instance registry: step 4 of the request path.
//!
//! After authentication and credential resolution, the registry hands out the caller's
//! [`UserEntry`] — creating it on first use (single-flight: concurrent first requests of one user
//! create one instance, and never wait on other users), replacing it when the user's credential
//! has changed, and evicting it when idle, too old, or least recently used beyond the bound.

mod entry;
mod options;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use moka::{future::Cache, notification::RemovalCause, policy::EvictionPolicy};
use rmcp::{ServerHandler, transport::streamable_http_server::StreamableHttpServerConfig};
use tokio_util::sync::CancellationToken;

pub(crate) use self::entry::{InstanceInputs, UserEntry};
#[doc(inline)]
pub use self::options::{InstanceMode, InstanceOptions};
use crate::{extras::Extras, wrap::ServerFactory};

/// What an instance is keyed by: the user, and the extras it was built with.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct InstanceKey {
    user_id: Arc<str>,
    extras: Extras,
}

/// Counts of the registry, for tests, stats and (later) metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceStats {
    /// Users currently holding an entry.
    pub live: u64,
    /// Entries created since start (a replaced or evicted user counts again when recreated).
    pub created: u64,
    /// Open legacy HTTP+SSE sessions.
    pub legacy_sse_sessions: usize,
}

pub(crate) struct InstanceRegistry<H> {
    entries: Cache<InstanceKey, Arc<UserEntry<H>>>,
    factory: Arc<ServerFactory<H>>,
    mode: InstanceMode,
    http_config: StreamableHttpServerConfig,
    shutdown: CancellationToken,
    created: AtomicU64,
}

impl<H: ServerHandler> InstanceRegistry<H> {
    pub(crate) fn new(
        factory: Arc<ServerFactory<H>>,
        options: &InstanceOptions,
        http_config: StreamableHttpServerConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let entries = Cache::builder()
            .max_capacity(options.max_instances)
            .time_to_idle(options.idle_timeout)
            .time_to_live(options.max_lifetime)
            .eviction_policy(EvictionPolicy::lru())
            .async_eviction_listener(|_key, entry: Arc<UserEntry<H>>, cause: RemovalCause| {
                Box::pin(async move {
                    tracing::debug!(user = %entry.inputs.user_id, ?cause, "instance dropped");
                    entry.close().await;
                })
            })
            .build();
        Self {
            entries,
            factory,
            mode: options.mode,
            http_config,
            shutdown,
            created: AtomicU64::new(0),
        }
    }

    /// The entry for `inputs`, created or replaced as needed.
    pub(crate) async fn entry(&self, inputs: InstanceInputs) -> Arc<UserEntry<H>> {
        let key = InstanceKey { user_id: inputs.user_id.clone(), extras: inputs.extras.clone() };
        // Fast path: the entry exists and was built with the same credential.
        if let Some(entry) = self.entries.get(&key).await
            && entry.inputs.credential == inputs.credential
        {
            return entry;
        }
        // Slow path, serialised per key: create, or replace an entry whose credential changed.
        let result = self
            .entries
            .entry(key)
            .and_compute_with(|existing| {
                let current = existing
                    .map(|e| e.into_value())
                    .filter(|entry| entry.inputs.credential == inputs.credential);
                let op = match current {
                    Some(_) => moka::ops::compute::Op::Nop,
                    None => {
                        self.created.fetch_add(1, Ordering::Relaxed);
                        moka::ops::compute::Op::Put(UserEntry::new(
                            inputs,
                            self.mode,
                            self.factory.clone(),
                            &self.http_config,
                            &self.shutdown,
                        ))
                    }
                };
                std::future::ready(op)
            })
            .await;
        match result {
            moka::ops::compute::CompResult::Inserted(e)
            | moka::ops::compute::CompResult::ReplacedWith(e)
            | moka::ops::compute::CompResult::Unchanged(e) => e.into_value(),
            // The closure never removes, and never leaves an absent entry absent.
            _ => unreachable!("the instance registry always keeps or puts an entry"),
        }
    }

    /// Current counts. Runs pending evictions first, so the numbers are exact.
    pub(crate) async fn stats(&self) -> InstanceStats {
        self.entries.run_pending_tasks().await;
        InstanceStats {
            live: self.entries.entry_count(),
            created: self.created.load(Ordering::Relaxed),
            legacy_sse_sessions: 0,
        }
    }

    /// Drops every entry (shutdown).
    pub(crate) async fn clear(&self) {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks().await;
    }
}
