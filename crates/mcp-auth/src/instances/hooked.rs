//! Sessions that a [session handler](crate::WrapServerBuilder::session_handler) serves itself
//! (a proxy's upstream sessions, say), kept in the user's entry as rmcp's sessions are.
//!
//! The handler serves each session; the library keeps what makes it safe:
//! - the id the client sees is minted here, never the handler's (an upstream's id would tell the
//!   client what is behind the gateway, and could be guessable);
//! - the table is the user's own, so another user's id is unknown to it (404);
//! - each session counts against the session caps, like one of rmcp's;
//! - it is forgotten after rmcp's default idle keep-alive (5 minutes). Only the handler's value
//!   is held for it here (an upstream session id, say), so there is nothing to hibernate.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use futures::future::BoxFuture;
use moka::sync::Cache;

/// Ends one hooked session on the handler's side, given the instance and the handler's own
/// value for it: run for each session left when the user's entry closes.
pub(crate) type EndSession<H> = dyn Fn(Arc<H>, Arc<str>) -> BoxFuture<'static, ()> + Send + Sync;

/// How long a hooked session (or a per-session instance's session) is kept without a request:
/// rmcp's default keep-alive for its own sessions.
pub(crate) const KEEP_ALIVE: Duration =
    rmcp::transport::streamable_http_server::session::local::SessionConfig::DEFAULT_KEEP_ALIVE;

/// One entry's hooked sessions: the client's id → the handler's value. The table is made on
/// the first session: every user has an entry, and most never open one (no hook, or the
/// stateless era), so an idle user pays one empty cell for it.
pub(crate) struct HookedSessions {
    table: OnceLock<Cache<Arc<str>, Arc<str>>>,
    max: u64,
    keep_alive: Duration,
}

impl HookedSessions {
    /// A table of at most `max` sessions (the per-user cap, which admission enforces first;
    /// this bound only backs it up).
    pub(crate) fn new(max: usize, keep_alive: Duration) -> Self {
        Self { table: OnceLock::new(), max: max as u64, keep_alive }
    }

    /// The handler's value for the client's session `id`, if it is one of this table's.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<str>> {
        self.table.get()?.get(id)
    }

    /// Records a session the handler opened; returns the id to give the client.
    pub(crate) fn open(&self, theirs: Arc<str>) -> Arc<str> {
        let table = self.table.get_or_init(|| {
            Cache::builder().max_capacity(self.max).time_to_idle(self.keep_alive).build()
        });
        let id: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
        table.insert(id.clone(), theirs);
        id
    }

    /// Forgets the client's session `id`.
    pub(crate) fn end(&self, id: &str) {
        if let Some(table) = self.table.get() {
            table.invalidate(id);
        }
    }

    /// The sessions held now.
    pub(crate) fn len(&self) -> usize {
        let Some(table) = self.table.get() else { return 0 };
        table.run_pending_tasks();
        usize::try_from(table.entry_count()).unwrap_or(usize::MAX)
    }

    /// Forgets every session; returns the handler's values, to end them on its side.
    pub(crate) fn drain(&self) -> Vec<Arc<str>> {
        let Some(table) = self.table.get() else { return Vec::new() };
        let theirs = table.iter().map(|(_, theirs)| theirs).collect();
        table.invalidate_all();
        theirs
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::HookedSessions;

    #[test]
    fn ids_are_minted_here_and_map_to_the_handlers_values() {
        let table = HookedSessions::new(8, Duration::from_secs(60));
        let id = table.open("upstream-1".into());
        assert_ne!(&*id, "upstream-1");
        assert_eq!(id.len(), 32, "128 random bits, hex: {id}");
        assert_eq!(table.get(&id).as_deref(), Some("upstream-1"));
        assert_eq!(table.get("upstream-1"), None, "the handler's value is not an id");
        assert_eq!(table.len(), 1);
        table.end(&id);
        assert_eq!(table.get(&id), None);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn drain_hands_back_every_value_and_forgets_them() {
        let table = HookedSessions::new(8, Duration::from_secs(60));
        let ids = [table.open("a".into()), table.open("b".into())];
        let mut theirs = table.drain();
        theirs.sort();
        assert_eq!(theirs, ["a".into(), "b".into()] as [std::sync::Arc<str>; 2]);
        assert!(ids.iter().all(|id| table.get(id).is_none()));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn an_idle_session_is_forgotten_after_the_keep_alive() {
        let table = HookedSessions::new(8, Duration::from_millis(50));
        let id = table.open("a".into());
        // Counted, not looked up: a lookup is a use, which would keep the session.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while table.len() > 0 {
            assert!(std::time::Instant::now() < deadline, "still kept after 10 s");
            std::thread::yield_now();
        }
        assert_eq!(table.get(&id), None);
    }
}
