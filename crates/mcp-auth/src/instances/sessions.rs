//! Session-era Streamable HTTP sessions (2025-03-26 … 2025-11-25): the book of every open
//! session, and hibernation.
//!
//! A running rmcp session — its worker, its serve loop and their channels — holds ~52 KB, and a
//! client may keep a session for hours and use it now and then. So a session of a per-user
//! instance that has been idle for [`session_hibernate_after`](crate::Limits) with no request
//! in flight and no stream open is *hibernated*: its worker stops, and only its record here
//! stays (the client's `initialize` parameters and its owner, well under 1 KB). The client's
//! next request restores it without the client noticing: rmcp finds no running session, asks
//! its `SessionStore` — the entry's [`EntryStore`], a view of this book — and replays the
//! `initialize` handshake on the user's instance.
//!
//! The book is where every session id is looked up: a request naming a session needs its
//! record, held by the caller (another user's id is a 404, and so is a restore of it). It is
//! bounded (`max_sessions_total`; per user, admission counts [`UserState::sessions`]), and a
//! session unused for [`session_idle_timeout`](crate::Limits) is forgotten. A running session
//! whose record is gone is stopped by the next sweep.
//!
//! A record also holds the JSON-RPC ids of the session's requests being answered
//! ([`IdClaim`]): rmcp routes an answer to the HTTP response waiting for it by request id
//! alone, so a second request with the id of one still in flight takes over its route and
//! cancels it, and the first response never gets an answer. Such a request is refused before
//! it reaches rmcp.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use moka::sync::Cache;
use rmcp::{
    model::RequestId,
    transport::streamable_http_server::session::{SessionState, SessionStore, SessionStoreError},
};

use super::UserState;

/// One open session: whose it is, how to restore it, and how busy it is.
pub(crate) struct Record {
    owner: Arc<str>,
    /// The owner's state, whose session count this record is part of.
    user: Arc<UserState>,
    state: SessionState,
    epoch: Instant,
    /// When a request of it last started or ended, in ms since `epoch`.
    last_used_ms: AtomicU64,
    /// Requests in flight and streams open.
    busy: AtomicUsize,
    /// Ids of the session's requests in flight. Each is held by a request that holds one of the
    /// user's in-flight slots too, so there are never more than `max_in_flight_per_user`.
    in_flight_ids: Mutex<HashSet<RequestId>>,
}

impl Record {
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_used_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Marks the session busy until the returned guard is dropped.
    pub(crate) fn start_use(self: &Arc<Self>) -> SessionUse {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.touch();
        SessionUse(self.clone())
    }

    /// Claims request id `id` for a request of this session until the claim is dropped (with
    /// the request's response: answered, or its client gone); `None` while another request of
    /// the session holds it.
    ///
    /// The spec (basic, 2025-11-25) says an id "MUST NOT have been previously used by the
    /// requestor within the same session", but refusing every id ever used would take memory
    /// without bound: only a reuse while the first request is in flight is refused, which is
    /// what breaks rmcp. After a client goes away rmcp may still be running its request (a
    /// disconnect is no cancellation in this era); a reuse of its id then gets an answer, but
    /// maybe the earlier request's.
    pub(crate) fn claim_id(self: &Arc<Self>, id: RequestId) -> Option<IdClaim> {
        if !lock(&self.in_flight_ids).insert(id.clone()) {
            return None;
        }
        Some(IdClaim { record: self.clone(), id })
    }
}

/// A request id in use by a request of a session in flight: see [`Record::claim_id`].
pub(crate) struct IdClaim {
    record: Arc<Record>,
    id: RequestId,
}

impl Drop for IdClaim {
    fn drop(&mut self) {
        lock(&self.record.in_flight_ids).remove(&self.id);
    }
}

/// A request or stream of a session: the session is not hibernated while one is held.
pub(crate) struct SessionUse(Arc<Record>);

impl Drop for SessionUse {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every open session of the server, keyed by the id its client holds.
pub(crate) struct SessionBook {
    records: Cache<Arc<str>, Arc<Record>>,
    epoch: Instant,
    /// How long a session may go unused before it is forgotten.
    pub(crate) idle_timeout: Duration,
}

impl SessionBook {
    pub(crate) fn new(max: usize, idle_timeout: Duration) -> Self {
        let records = Cache::builder()
            .max_capacity(max as u64)
            .time_to_idle(idle_timeout)
            .eviction_listener(|_, record: Arc<Record>, _| {
                record.user.sessions.fetch_sub(1, Ordering::Relaxed);
            })
            .build();
        Self { records, epoch: Instant::now(), idle_timeout }
    }

    /// The record of session `id` if `owner` holds it. A use: it keeps the session from
    /// expiring.
    pub(crate) fn get(&self, id: &str, owner: &str) -> Option<Arc<Record>> {
        self.records.get(id).filter(|record| *record.owner == *owner)
    }

    /// Sessions held now, all users together.
    pub(crate) fn len(&self) -> u64 {
        self.settle();
        self.records.entry_count()
    }

    /// Forgets session `id`: its next request gets 404.
    pub(crate) fn forget(&self, id: &str) {
        self.records.invalidate(id);
    }

    /// Runs pending removals, so that [`UserState::sessions`] and [`Self::len`] are exact.
    pub(crate) fn settle(&self) {
        self.records.run_pending_tasks();
    }
}

/// The sessions one entry's rmcp service may be running, with their records.
#[derive(Default)]
pub(crate) struct Running {
    noted: Mutex<HashMap<Arc<str>, Arc<Record>>>,
    /// Sessions rmcp runs here with no record (their `initialize` not answered yet, so rmcp
    /// has not stored them), and when a sweep first saw each. Rebuilt from rmcp's live
    /// sessions on every sweep, so no larger than they are.
    unrecorded: Mutex<HashMap<Arc<str>, Instant>>,
}

/// Locks `mutex`; its maps see inserts and removes only, so a poisoned one is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Record>>> {
        lock(&self.noted)
    }

    /// Notes that session `id` runs here (it was opened or is being restored here).
    pub(crate) fn note(&self, id: &str, record: &Arc<Record>) {
        let mut running = self.lock();
        if !running.contains_key(id) {
            running.insert(id.into(), record.clone());
        }
    }

    /// Sessions noted here.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Takes out the sessions to stop: those forgotten by `book` (expired, evicted, deleted)
    /// and those idle for `idle_after` with nothing in flight.
    pub(crate) fn due(&self, book: &SessionBook, idle_after: Duration) -> Vec<Arc<str>> {
        let mut running = self.lock();
        let mut due = Vec::new();
        running.retain(|id, record| {
            let idle = record.busy.load(Ordering::Acquire) == 0 && record.idle_for() >= idle_after;
            let stop = idle || !book.records.contains_key(id);
            if stop {
                due.push(id.clone());
            }
            !stop
        });
        due
    }

    /// Takes out the sessions of `live` (those rmcp runs here) that have had no record for
    /// `after` since a sweep first saw them: no client holds their id, so none will use or
    /// delete them.
    pub(crate) fn unrecorded_due<'a>(
        &self,
        live: impl IntoIterator<Item = &'a Arc<str>>,
        after: Duration,
    ) -> Vec<Arc<str>> {
        let noted = self.lock();
        let mut unrecorded = lock(&self.unrecorded);
        let now = Instant::now();
        let mut still = HashMap::new();
        let mut due = Vec::new();
        for id in live.into_iter().filter(|id| !noted.contains_key(*id)) {
            let first_seen = unrecorded.get(id).copied().unwrap_or(now);
            if now.duration_since(first_seen) >= after {
                due.push(id.clone());
            } else {
                still.insert(id.clone(), first_seen);
            }
        }
        *unrecorded = still;
        due
    }
}

/// One entry's view of the book, as rmcp's `SessionStore`: it stores the sessions the entry
/// opens under the entry's user, and restores only that user's.
pub(crate) struct EntryStore {
    pub(crate) book: Arc<SessionBook>,
    pub(crate) owner: Arc<str>,
    pub(crate) user: Arc<UserState>,
    pub(crate) running: Arc<Running>,
}

#[async_trait::async_trait]
impl SessionStore for EntryStore {
    async fn load(&self, id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(record) = self.book.get(id, &self.owner) else { return Ok(None) };
        self.running.note(id, &record);
        Ok(Some(record.state.clone()))
    }

    async fn store(&self, id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let record = Arc::new(Record {
            owner: self.owner.clone(),
            user: self.user.clone(),
            state: state.clone(),
            epoch: self.book.epoch,
            last_used_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            in_flight_ids: Mutex::default(),
        });
        record.touch();
        self.user.sessions.fetch_add(1, Ordering::Relaxed);
        self.book.records.insert(id.into(), record.clone());
        self.running.note(id, &record);
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), SessionStoreError> {
        if self.book.get(id, &self.owner).is_some() {
            self.book.records.invalidate(id);
        }
        self.running.lock().remove(id);
        Ok(())
    }
}
