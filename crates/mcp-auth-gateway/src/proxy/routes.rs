//! Who gets what the upstream sends: the downstream peers of one instance, the progress tokens
//! of its in-flight calls, and the calls an upstream request (sampling, elicitation, roots) may
//! belong to.
//!
//! Every table here is bounded by traffic the library already bounds: in-flight entries live
//! exactly as long as a downstream request (capped per user by `Limits`), and the peer list
//! holds sessions (capped per user), pruned of closed ones on every insert.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    Peer, RoleServer,
    model::{ProgressToken, RequestId},
};

/// Upper bound on remembered downstream peers, whatever the session limits say: a peer list is
/// only used to fan out notifications, and the oldest are the least likely to still listen.
const MAX_PEERS: usize = 1024;

/// Upper bound on the progress counts of tokens no call has claimed yet (see
/// [`Routes::progress_received`]); past it they are forgotten, which costs at most one call's
/// wait for its progress.
const MAX_UNCLAIMED: usize = 256;

/// One downstream request being forwarded.
#[derive(Clone)]
pub(crate) struct InFlight {
    /// The downstream request id: requests the upstream sends while this call runs ride its
    /// stream (rmcp's `OriginatingRequestId`).
    pub(crate) downstream_id: RequestId,
    pub(crate) peer: Peer<RoleServer>,
    /// The upstream progress token rmcp assigned, and the caller's own token to report with.
    pub(crate) progress: Option<(ProgressToken, ProgressToken)>,
    seq: u64,
    /// Progress notifications for this call read from the upstream, and those handled since
    /// (passed on or dropped): rmcp hands each notification to a task of its own, so the
    /// upstream's answer can overtake the progress it sent before it.
    received: u64,
    handled: u64,
}

impl InFlight {
    fn has_upstream_token(&self, token: &ProgressToken) -> bool {
        self.progress.as_ref().is_some_and(|(upstream, _)| upstream == token)
    }
}

#[derive(Default)]
struct Tables {
    peers: Vec<Peer<RoleServer>>,
    in_flight: Vec<InFlight>,
    next_seq: u64,
    /// Progress read for an upstream token before its call was registered, by token.
    unclaimed: HashMap<ProgressToken, u64>,
}

/// The routing tables of one instance. Cheap to clone (shared).
#[derive(Clone, Default)]
pub(crate) struct Routes {
    tables: Arc<Mutex<Tables>>,
    /// Woken whenever a progress notification has been handled.
    progress_handled: Arc<tokio::sync::Notify>,
    /// Written by a call from before it is sent upstream until it is registered ([`Self::start`]),
    /// read by whatever looks a call up for a message from the upstream (progress, sampling,
    /// elicitation): rmcp returns once the request is queued, so the upstream's first progress
    /// can be handled before the call is registered, and would be dropped.
    pub(crate) registering: Arc<tokio::sync::RwLock<()>>,
}

/// Removes its in-flight entry when the forwarded call ends, however it ends.
pub(crate) struct InFlightGuard {
    routes: Routes,
    seq: u64,
}

impl InFlightGuard {
    /// Waits (at most `limit`) until every progress notification the upstream sent for this
    /// call before its answer has been passed on, so that the caller gets them before the
    /// answer. Notifications are counted as the transport reads them (`counted.rs`), in order,
    /// so by the time the answer is here the count is final.
    pub(crate) async fn progress_passed_on(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let handled = self.routes.progress_handled.notified();
            tokio::pin!(handled);
            handled.as_mut().enable();
            let pending = self
                .routes
                .lock()
                .in_flight
                .iter()
                .any(|f| f.seq == self.seq && f.handled < f.received);
            if !pending || tokio::time::timeout_at(deadline, handled).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.routes.lock().in_flight.retain(|f| f.seq != self.seq);
    }
}

impl Routes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding this lock leaves consistent tables (every write is one call).
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a downstream peer (a session that initialized) for notifications.
    pub(crate) fn add_peer(&self, peer: Peer<RoleServer>) {
        let mut tables = self.lock();
        tables.peers.retain(|p| !p.is_transport_closed());
        if tables.peers.len() >= MAX_PEERS {
            tables.peers.remove(0);
        }
        tables.peers.push(peer);
    }

    /// The live downstream peers: where list-changed, resource updates and log messages go.
    pub(crate) fn peers(&self) -> Vec<Peer<RoleServer>> {
        let mut tables = self.lock();
        tables.peers.retain(|p| !p.is_transport_closed());
        tables.peers.clone()
    }

    /// Records a call being forwarded until the guard drops.
    pub(crate) fn start(
        &self,
        downstream_id: RequestId,
        peer: Peer<RoleServer>,
        progress: Option<(ProgressToken, ProgressToken)>,
    ) -> InFlightGuard {
        let mut tables = self.lock();
        let seq = tables.next_seq;
        tables.next_seq += 1;
        let received = match &progress {
            Some((upstream, _)) => tables.unclaimed.remove(upstream).unwrap_or(0),
            None => 0,
        };
        tables.in_flight.push(InFlight {
            downstream_id,
            peer,
            progress,
            seq,
            received,
            handled: 0,
        });
        InFlightGuard { routes: self.clone(), seq }
    }

    /// Counts a progress notification read from the upstream, before rmcp handles it.
    /// One read before its call was registered is kept for [`Self::start`] to claim.
    pub(crate) fn progress_received(&self, token: &ProgressToken) {
        let mut tables = self.lock();
        if let Some(call) = tables.in_flight.iter_mut().find(|f| f.has_upstream_token(token)) {
            call.received += 1;
            return;
        }
        if tables.unclaimed.len() >= MAX_UNCLAIMED && !tables.unclaimed.contains_key(token) {
            tables.unclaimed.clear();
        }
        *tables.unclaimed.entry(token.clone()).or_default() += 1;
    }

    /// Counts a progress notification as handled (passed on to the caller, or dropped).
    pub(crate) fn progress_handled(&self, token: &ProgressToken) {
        if let Some(call) = self.lock().in_flight.iter_mut().find(|f| f.has_upstream_token(token)) {
            call.handled += 1;
        }
        self.progress_handled.notify_waiters();
    }

    /// The call that upstream progress token belongs to.
    pub(crate) fn by_upstream_progress(&self, token: &ProgressToken) -> Option<InFlight> {
        let tables = self.lock();
        tables.in_flight.iter().find(|f| f.has_upstream_token(token)).cloned()
    }

    /// Where a request from the upstream (sampling, elicitation, roots) goes: the most recent
    /// call still in flight whose client is connected — the upstream asks while serving it —
    /// else the most recent live session. stdio carries no link between the upstream's request
    /// and the call that caused it, so with several calls in flight this is the newest one; all
    /// of them belong to the same user (per-user instance) or the same session (per-session).
    pub(crate) fn requester(&self) -> Option<(Peer<RoleServer>, Option<RequestId>)> {
        let mut tables = self.lock();
        if let Some(call) = tables.in_flight.iter().rev().find(|f| !f.peer.is_transport_closed()) {
            return Some((call.peer.clone(), Some(call.downstream_id.clone())));
        }
        tables.peers.retain(|p| !p.is_transport_closed());
        tables.peers.last().map(|p| (p.clone(), None))
    }
}

#[cfg(test)]
mod tests {
    use rmcp::{RoleServer, ServerHandler, service::serve_directly};

    use super::{MAX_PEERS, MAX_UNCLAIMED, Routes};

    #[derive(Clone)]
    struct AnyServer;
    impl ServerHandler for AnyServer {}

    /// A live downstream session's peer (no handshake: only the peer handle is needed); the
    /// other end of its transport is returned so that it stays open.
    fn live_peer() -> (rmcp::service::RunningService<RoleServer, AnyServer>, tokio::io::DuplexStream)
    {
        let (ours, theirs) = tokio::io::duplex(1024);
        (serve_directly(AnyServer, ours, None), theirs)
    }

    #[tokio::test]
    async fn the_table_of_sessions_is_bounded_and_keeps_the_newest() {
        let routes = Routes::default();
        let mut sessions = Vec::new();
        for _ in 0..MAX_PEERS + 10 {
            let (service, other_end) = live_peer();
            routes.add_peer(service.peer().clone());
            sessions.push((service, other_end));
        }
        assert_eq!(routes.peers().len(), MAX_PEERS);

        // All but the five newest sessions end: the five are still in the table, so the bound
        // dropped the oldest.
        let newest = sessions.split_off(sessions.len() - 5);
        for (service, _) in sessions {
            let _ = service.cancel().await;
        }
        assert_eq!(routes.peers().len(), 5);
        drop(newest);
    }

    /// Progress for tokens no call claims (an upstream reporting on requests it never got)
    /// is counted only up to a bound.
    #[test]
    fn unclaimed_progress_counts_are_bounded() {
        let routes = Routes::default();
        for i in 0..MAX_UNCLAIMED * 4 {
            let token = rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(i as i64));
            routes.progress_received(&token);
            assert!(routes.lock().unclaimed.len() <= MAX_UNCLAIMED);
        }
    }
}
