//! The per-user instance registry: step 4 of the request path.
//!
//! After authentication and credential resolution, the registry hands out the caller's
//! [`UserEntry`] — creating it on first use (single-flight: concurrent first requests of one user
//! create one instance, and never wait on other users), replacing it when the user's credential
//! secret has changed (a new expiry alone keeps it), and dropping it when idle or too old.
//!
//! **Busy entries are never evicted.** An in-flight request or an open stream pins its entry
//! ([`Activity`]): it is neither dropped as idle nor evicted to make room. When the registry is
//! full, the least recently used *idle* entries make room; when every entry is busy, a new user
//! is refused ([`InstanceRefusal::Full`], `503` + `Retry-After`) rather than evicting someone
//! mid-call. moka keeps the map, single-flight creation and the lifetime bound; the idle and
//! capacity rules are ours, because moka's time-to-idle and LRU cannot see activity.

mod activity;
mod entry;
mod hooked;
mod options;
mod sessions;
mod sweep;
mod user;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use moka::{future::Cache, notification::RemovalCause};
use rmcp::{ServerHandler, transport::streamable_http_server::StreamableHttpServerConfig};
use tokio_util::sync::CancellationToken;

#[doc(inline)]
pub use self::options::{InstanceMode, InstanceOptions};
pub(crate) use self::{
    activity::ActiveGuard,
    entry::{InstanceInputs, UserEntry},
    hooked::{EndSession, HookedSessions},
    sessions::{IdClaim, SessionBook, SessionUse},
    user::{UserState, Users},
};
use crate::{extras::Extras, limits::Limits, log_ids::UserIdLogging, secret::Secret};

/// The server factory: `(access_token, user_id, extras) -> server`. In static mode (no token
/// resolver) the access token is empty.
pub type ServerFactory<H> = dyn Fn(Secret, String, Extras) -> H + Send + Sync;

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
    /// Open Streamable HTTP sessions (2025-era `Mcp-Session-Id`), all users together, running
    /// or hibernated.
    pub sessions: u64,
    /// Of [`Self::sessions`], those running now (the rest are hibernated).
    pub running_sessions: u64,
    /// Bytes of response handed to clients and not yet taken by them, all users together.
    pub unread_response_bytes: usize,
    /// Housekeeping sweeps finished since start (idle instances dropped, sessions hibernated
    /// or ended): something to wait on for what only time brings about.
    pub sweeps: u64,
}

/// Why no entry could be handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InstanceRefusal {
    /// Every slot is held by a busy user: try again later (`503`).
    Full,
    /// This user already holds their share of instances (`429`).
    TooManyForUser,
    /// The factory panicked while building the user's instance.
    FactoryFailed,
}

pub(crate) struct InstanceRegistry<H> {
    pub(crate) inner: Arc<RegistryInner<H>>,
}

pub(crate) struct RegistryInner<H> {
    /// foldhash: looked up on every request (see `VerifiedCache` in `auth::jwt`).
    entries: Cache<InstanceKey, Arc<UserEntry<H>>, foldhash::quality::RandomState>,
    pub(crate) users: Users,
    factory: Arc<ServerFactory<H>>,
    options: InstanceOptions,
    http_config: StreamableHttpServerConfig,
    /// Per user: the most hooked sessions a table holds.
    max_sessions_per_user: usize,
    /// Every Streamable HTTP session rmcp serves, running or hibernated.
    pub(crate) book: Arc<SessionBook>,
    hibernate_after: std::time::Duration,
    end_session: Option<Arc<EndSession<H>>>,
    /// Cancelled by [`InstanceRegistry::clear`]: the parent of every entry's token (rmcp's
    /// sessions and streams) and the sweep's. Not the server's shutdown, which only begins the
    /// drain: requests in flight then still need their instances.
    shutdown: CancellationToken,
    /// How log lines name users.
    user_ids: UserIdLogging,
    epoch: Instant,
    created: AtomicU64,
    /// Entries held now (moka's own count lags behind until its pending tasks run).
    live: AtomicU64,
    /// Streamable HTTP sessions of all users: counted up per new session, recounted exactly
    /// when it reaches the bound (sessions end inside rmcp, unseen).
    sessions: AtomicU64,
    /// Until when (ms after `epoch`) a recount found the bound reached: until then new sessions
    /// are refused without recounting, so that a flood at the bound costs O(1) per attempt.
    sessions_full_until_ms: AtomicU64,
    sweep: sweep::SweepState,
}

/// How long a recount that found the session bound reached stands.
const FULL_RECOUNT_STANDS_MS: u64 = 100;

/// How long an instance past its lifetime keeps serving the requests (and streams) it holds
/// before it is closed: a request in flight at the moment of expiry is answered, and an open
/// stream cannot keep an instance, and its credential, beyond this.
const EXPIRED_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

impl<H: ServerHandler> InstanceRegistry<H> {
    pub(crate) fn new(
        factory: Arc<ServerFactory<H>>,
        options: &InstanceOptions,
        limits: Limits,
        http_config: StreamableHttpServerConfig,
        end_session: Option<Arc<EndSession<H>>>,
        shutdown: CancellationToken,
        user_ids: UserIdLogging,
    ) -> Self {
        let max_sessions_per_user = limits.max_sessions_per_user;
        let book =
            Arc::new(SessionBook::new(limits.max_sessions_total, limits.session_idle_timeout));
        let hibernate_after = limits.session_hibernate_after;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<RegistryInner<H>>| {
            let weak = weak.clone();
            let log_ids = user_ids.clone();
            let entries = Cache::builder()
                .time_to_live(options.max_lifetime)
                .async_eviction_listener(move |_key, entry: Arc<UserEntry<H>>, cause| {
                    let registry = weak.upgrade();
                    let log_ids = log_ids.clone();
                    Box::pin(async move {
                        let user = log_ids.tag(&entry.inputs.user_id);
                        tracing::debug!(%user, ?cause, "instance dropped");
                        // A replacement keeps the counts: one entry out, one in.
                        if cause != RemovalCause::Replaced {
                            entry.user.instances.fetch_sub(1, Ordering::Relaxed);
                            if let Some(registry) = registry {
                                registry.live.fetch_sub(1, Ordering::Relaxed);
                            }
                        }
                        if cause == RemovalCause::Expired {
                            // Past its lifetime: the requests it is serving finish first (their
                            // callers would get a 500 otherwise), within a bounded drain; an open
                            // stream is cut when it ends. Not awaited here: moka awaits this
                            // listener in its pending-task runs, which requests wait for.
                            tokio::spawn(async move {
                                entry.activity.unpinned_within(EXPIRED_DRAIN).await;
                                entry.close().await;
                            });
                            return;
                        }
                        entry.close().await;
                    })
                })
                .build_with_hasher(foldhash::quality::RandomState::default());
            RegistryInner {
                entries,
                users: Users::new(limits, options.max_instances),
                factory,
                options: options.clone(),
                http_config,
                max_sessions_per_user,
                book,
                hibernate_after,
                end_session,
                shutdown,
                user_ids,
                epoch: Instant::now(),
                created: AtomicU64::new(0),
                live: AtomicU64::new(0),
                sessions: AtomicU64::new(0),
                sessions_full_until_ms: AtomicU64::new(0),
                sweep: sweep::SweepState::default(),
            }
        });
        Self { inner }
    }

    /// The entry for `inputs`, created or replaced as needed (the inputs are copied only then).
    pub(crate) async fn entry(
        &self,
        inputs: &InstanceInputs,
    ) -> Result<Arc<UserEntry<H>>, InstanceRefusal> {
        let inner = &self.inner;
        sweep::ensure_running(&self.inner);
        let key = InstanceKey { user_id: inputs.user_id.clone(), extras: inputs.extras.clone() };
        // Fast path: the entry exists, was built with the same secret, and is neither idle past
        // its timeout nor closed.
        let existing = inner.entries.get(&key).await;
        if let Some(entry) = &existing
            && inner.is_current(entry, inputs)
        {
            return Ok(entry.clone());
        }
        let user = inner.users.get(&inputs.user_id);
        if existing.is_none() {
            let per_user = inner.users.limits().max_instances_per_user;
            if user.instances.load(Ordering::Relaxed) >= per_user {
                // An entry past its lifetime is already gone for `get` but still counted until
                // moka's pending tasks run its eviction listener: run them before refusing.
                inner.entries.run_pending_tasks().await;
                if user.instances.load(Ordering::Relaxed) >= per_user {
                    return Err(InstanceRefusal::TooManyForUser);
                }
            }
            if inner.live.load(Ordering::Relaxed) >= inner.options.max_instances {
                inner.make_room().await?;
            }
        }
        // Slow path, serialised per key: create, or replace an entry whose secret changed.
        let result = inner
            .entries
            .entry(key)
            .and_try_compute_with(|existing| {
                let current =
                    existing.map(|e| e.into_value()).filter(|e| inner.is_current(e, inputs));
                let op = match current {
                    Some(_) => Ok(moka::ops::compute::Op::Nop),
                    None => UserEntry::new(
                        inputs.clone(),
                        user,
                        inner.options.mode,
                        inner.factory.clone(),
                        &inner.http_config,
                        &inner.shutdown,
                        inner.epoch,
                        &inner.book,
                        (
                            HookedSessions::new(inner.max_sessions_per_user, hooked::KEEP_ALIVE),
                            inner.end_session.clone(),
                        ),
                        &inner.user_ids,
                    )
                    .map(moka::ops::compute::Op::Put),
                };
                std::future::ready(op)
            })
            .await?;
        use moka::ops::compute::CompResult;
        match result {
            CompResult::Inserted(e) => {
                tracing::debug!(user = %inner.user_ids.tag(&inputs.user_id), "instance created");
                inner.created.fetch_add(1, Ordering::Relaxed);
                inner.live.fetch_add(1, Ordering::Relaxed);
                e.value().user.instances.fetch_add(1, Ordering::Relaxed);
                Ok(e.into_value())
            }
            CompResult::ReplacedWith(e) => {
                tracing::debug!(user = %inner.user_ids.tag(&inputs.user_id), "instance replaced");
                inner.created.fetch_add(1, Ordering::Relaxed);
                // moka holds the replaced entry until its pending tasks run, which without
                // other traffic may be a sweep interval away; run them now, so that the old
                // instance (and whatever it holds: a child process, a connection) goes at once.
                inner.entries.run_pending_tasks().await;
                Ok(e.into_value())
            }
            CompResult::Unchanged(e) => Ok(e.into_value()),
            // The closure never removes, and never leaves an absent entry absent.
            _ => unreachable!("the instance registry always keeps or puts an entry"),
        }
    }

    /// Current counts. Runs pending evictions first, so the numbers are exact.
    pub(crate) async fn stats(&self) -> InstanceStats {
        self.inner.entries.run_pending_tasks().await;
        InstanceStats {
            live: self.inner.live.load(Ordering::Relaxed),
            created: self.inner.created.load(Ordering::Relaxed),
            legacy_sse_sessions: 0,
            sessions: self.inner.count_sessions(),
            running_sessions: self
                .inner
                .entries
                .iter()
                .map(|(_, entry)| entry.running_sessions() as u64)
                .sum(),
            unread_response_bytes: self.inner.users.unread_bytes(),
            sweeps: self.inner.sweep.finished.load(Ordering::Acquire),
        }
    }

    /// Drops every entry (shutdown, once the connections have drained): their streams and
    /// sessions end, and the sweep stops.
    pub(crate) async fn clear(&self) {
        self.inner.shutdown.cancel();
        self.inner.entries.invalidate_all();
        self.inner.entries.run_pending_tasks().await;
    }

    /// Drops every entry of `user_id` (a revocation), busy or not: their streams and sessions
    /// end, and the next request builds a new instance from a freshly resolved credential.
    /// Returns how many entries went. A scan of the entries, paid per revocation.
    pub(crate) async fn forget_user(&self, user_id: &str) -> usize {
        let keys: Vec<_> = self
            .inner
            .entries
            .iter()
            .filter(|(key, _)| &*key.user_id == user_id)
            .map(|(key, _)| key)
            .collect();
        for key in &keys {
            self.inner.entries.invalidate(&**key).await;
        }
        self.inner.entries.run_pending_tasks().await;
        keys.len()
    }

    /// Drops every entry of every user (revocations were missed), busy or not, while serving
    /// goes on: unlike [`clear`](Self::clear), the sweep keeps running. Returns how many went.
    pub(crate) async fn forget_all(&self) -> usize {
        let before = self.inner.entries.iter().count();
        self.inner.entries.invalidate_all();
        self.inner.entries.run_pending_tasks().await;
        before
    }

    /// Reserves room for one more Streamable HTTP session if all users together hold fewer than
    /// `max`; false when they hold `max` or more.
    pub(crate) fn reserve_session(&self, max: usize) -> bool {
        let inner = &self.inner;
        let max = max as u64;
        if inner.sessions.fetch_add(1, Ordering::Relaxed) < max {
            return true;
        }
        let now_ms = u64::try_from(inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < inner.sessions_full_until_ms.load(Ordering::Relaxed) {
            return false;
        }
        let exact = inner.count_sessions();
        inner.sessions.store(exact + 1, Ordering::Relaxed);
        if exact < max {
            return true;
        }
        inner.sessions.store(exact, Ordering::Relaxed);
        let until = now_ms.saturating_add(FULL_RECOUNT_STANDS_MS);
        inner.sessions_full_until_ms.store(until, Ordering::Relaxed);
        false
    }
}

impl<H: ServerHandler> RegistryInner<H> {
    /// Streamable HTTP sessions held now: the book's, and the hooked and unrecorded ones of
    /// all entries.
    /// O(entries): runs only at the bound.
    fn count_sessions(&self) -> u64 {
        let per_entry = |entry: &UserEntry<H>| entry.hooked.len() + entry.unrecorded_sessions();
        let entries: u64 = self.entries.iter().map(|(_, entry)| per_entry(&entry) as u64).sum();
        self.book.len() + entries
    }

    /// May `entry` serve a request with `inputs`? Not when the secret changed, not when it has
    /// been idle past the timeout (it is rebuilt, as if the sweep had dropped it), not once
    /// closed.
    fn is_current(&self, entry: &UserEntry<H>, inputs: &InstanceInputs) -> bool {
        entry.inputs.credential.same_secret(&inputs.credential)
            && entry.activity.idle_for() <= self.options.idle_timeout
            && !entry.shutdown.is_cancelled()
    }
}
