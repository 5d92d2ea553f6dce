//! [`UserEntry`]: everything held for one user — their instance, their Streamable HTTP service
//! and its sessions.
//!
//! Each user gets a `StreamableHttpService` with a session manager of their own, whose sessions
//! are recorded in the [session book](super::sessions) under the user: another user's session
//! id is unknown to this entry, and cannot be restored into it.

use std::{
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ServerHandler,
    transport::streamable_http_server::{
        SessionManager as _, StreamableHttpServerConfig, StreamableHttpService,
        session::local::LocalSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

use super::ServerFactory;
use super::{
    InstanceMode, InstanceRefusal,
    activity::Activity,
    hooked::{self, EndSession, HookedSessions},
    sessions::{EntryStore, Running, SessionBook},
    user::UserState,
};
use crate::{credentials::Credential, extras::Extras, log_ids::UserIdLogging};

/// The inputs an instance is built from.
#[derive(Clone)]
pub(crate) struct InstanceInputs {
    pub(crate) credential: Credential,
    pub(crate) user_id: Arc<str>,
    pub(crate) extras: Extras,
}

/// One user's instance(s) and HTTP sessions.
pub(crate) struct UserEntry<H> {
    pub(crate) inputs: InstanceInputs,
    /// The user's share of the server, common to all of their entries.
    pub(crate) user: Arc<UserState>,
    /// In-flight requests and open streams; pins the entry while any is held.
    pub(crate) activity: Arc<Activity>,
    shared: Option<Arc<H>>,
    factory: Arc<ServerFactory<H>>,
    /// How the factory's panic names the user.
    user_ids: UserIdLogging,
    pub(crate) http: StreamableHttpService<Arc<H>, LocalSessionManager>,
    pub(crate) sessions: Arc<LocalSessionManager>,
    /// The book's sessions that `sessions` may be running.
    running: Arc<Running>,
    /// The sessions a session handler serves itself, when there is one.
    pub(crate) hooked: HookedSessions,
    end_session: Option<Arc<EndSession<H>>>,
    /// Cancelled when the entry is evicted: ends its streams and sessions.
    pub(crate) shutdown: CancellationToken,
}

impl<H: ServerHandler> UserEntry<H> {
    /// Builds the entry (and, per user, its instance). Fails when the factory panics.
    #[allow(clippy::too_many_arguments)] // one call site, each argument named there
    pub(crate) fn new(
        inputs: InstanceInputs,
        user: Arc<UserState>,
        mode: InstanceMode,
        factory: Arc<ServerFactory<H>>,
        http_config: &StreamableHttpServerConfig,
        parent_shutdown: &CancellationToken,
        epoch: Instant,
        book: &Arc<SessionBook>,
        hooked: (HookedSessions, Option<Arc<EndSession<H>>>),
        user_ids: &UserIdLogging,
    ) -> Result<Arc<Self>, InstanceRefusal> {
        let (hooked, end_session) = hooked;
        let shutdown = parent_shutdown.child_token();
        // No keep-alive of rmcp's: a session is stopped by the sweep when it hibernates or its
        // record is forgotten (`stop_sessions`), which, unlike rmcp's timer, waits for the
        // requests in flight — a long tool call sends nothing for as long as it runs.
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = None;
        let sessions = Arc::new(sessions);
        let running = Arc::new(Running::default());
        let store = EntryStore {
            book: book.clone(),
            owner: inputs.user_id.clone(),
            user: user.clone(),
            running: running.clone(),
        };
        let shared = match mode {
            InstanceMode::PerUser => Some(Arc::new(build(&*factory, &inputs, user_ids)?)),
            _ => None,
        };
        let activity = Activity::new(epoch);
        Ok(Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let weak = weak.clone();
            let mut config = http_config.clone().with_cancellation_token(shutdown.clone());
            config.session_store = Some(Arc::new(store));
            // rmcp calls this once per session (legacy era) or per POST (stateless era), and
            // again for schema lookups; hand out the shared instance where there is one.
            let http = StreamableHttpService::new(
                move || {
                    let entry = weak
                        .upgrade()
                        .ok_or_else(|| std::io::Error::other("the user's instance was evicted"))?;
                    entry.instance().map_err(|_| std::io::Error::other("the server factory failed"))
                },
                sessions.clone(),
                config,
            );
            Self {
                inputs,
                user,
                activity,
                shared,
                factory,
                user_ids: user_ids.clone(),
                http,
                sessions,
                running,
                hooked,
                end_session,
                shutdown,
            }
        }))
    }

    /// The instance to serve with: the user's shared one, or a fresh one per session. Fails
    /// when the factory panics (per session).
    pub(crate) fn instance(&self) -> Result<Arc<H>, InstanceRefusal> {
        match &self.shared {
            Some(shared) => Ok(shared.clone()),
            None => build(&*self.factory, &self.inputs, &self.user_ids).map(Arc::new),
        }
    }

    /// Sessions of this entry's rmcp service with a running worker (0 while its table is being
    /// written).
    pub(crate) fn running_sessions(&self) -> usize {
        self.sessions.sessions.try_read().map(|sessions| sessions.len()).unwrap_or(0)
    }

    /// Sessions rmcp runs here that have no record: opened, but their `initialize` not answered
    /// yet (rmcp stores a session after answering). The caps count them, as they hold a
    /// worker; [`Self::stop_sessions`] ends those left unanswered too long.
    pub(crate) fn unrecorded_sessions(&self) -> usize {
        self.running_sessions().saturating_sub(self.running.len())
    }

    /// Stops the running sessions that `book` forgot, and the idle ones: with a per-user
    /// instance (which outlives its sessions' workers) those idle for `hibernate_after`, whose
    /// records stay for the next request to restore them; with per-session instances those
    /// idle for rmcp's keep-alive, which end (a restore would build a fresh instance — a new
    /// child, for the gateway — and lose the old one's state unnoticed). Unrecorded sessions
    /// end once the sweeps have seen them for the keep-alive or the book's idle timeout,
    /// whichever is shorter: a slow `initialize` (a child starting) has that long to be
    /// answered. The stops run in a task of their own: a worker slow to stop must not hold the
    /// sweep.
    pub(crate) fn stop_sessions(&self, book: &SessionBook, hibernate_after: Duration) {
        let hibernates = self.shared.is_some();
        let idle_after = if hibernates { hibernate_after } else { hooked::KEEP_ALIVE };
        let mut due = self.running.due(book, idle_after);
        if !hibernates {
            due.iter().for_each(|id| book.forget(id));
        }
        // Not waited for: a table being written now is looked at by the next sweep.
        if let Ok(live) = self.sessions.sessions.try_read() {
            let unrecorded_for = book.idle_timeout.min(hooked::KEEP_ALIVE);
            due.extend(self.running.unrecorded_due(live.keys(), unrecorded_for));
        }
        if due.is_empty() {
            return;
        }
        let sessions = self.sessions.clone();
        tokio::spawn(async move {
            for id in due {
                let _ = sessions.close_session(&id).await;
            }
        });
    }

    /// Ends every stream and session of this entry; a hooked session is ended on the
    /// handler's side too (a proxy closes its upstream session), each within the handler's own
    /// bounds, in a task of its own: moka awaits this in the pending-task runs that requests
    /// wait for, and an upstream slow to answer must not hold them.
    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        let theirs = self.hooked.drain();
        if let (Some(end), false) = (&self.end_session, theirs.is_empty())
            && let Ok(instance) = self.instance()
        {
            let ends = theirs.into_iter().map(|t| end(instance.clone(), t));
            tokio::spawn(futures::future::join_all(ends));
        }
        // The sessions' records stay in the book: their next request restores them in the
        // user's next entry.
        let ids: Vec<_> = self.sessions.sessions.read().await.keys().cloned().collect();
        for id in ids {
            let _ = self.sessions.close_session(&id).await;
        }
    }
}

/// Calls the factory. A panic is caught: it fails this user's request, never the server or
/// other users (the panic message is not logged: it may hold the credential).
fn build<H>(
    factory: &ServerFactory<H>,
    inputs: &InstanceInputs,
    user_ids: &UserIdLogging,
) -> Result<H, InstanceRefusal> {
    let call = || {
        factory(
            inputs.credential.secret().clone(),
            inputs.user_id.to_string(),
            inputs.extras.clone(),
        )
    };
    std::panic::catch_unwind(AssertUnwindSafe(call)).map_err(|_| {
        tracing::error!(user = %user_ids.tag(&inputs.user_id), "the server factory panicked");
        InstanceRefusal::FactoryFailed
    })
}
