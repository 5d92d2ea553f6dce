//! The request ids of a legacy HTTP+SSE session awaiting their answers. Its POSTs are answered
//! `202` at once and every answer comes on the session's one stream, so no POST can hang; but
//! rmcp keeps one cancellation token per request id, and of two requests with one id in flight
//! the first one's answer cancels the second, whose answer is then dropped: a request lost
//! without a word. Such a request is refused instead, as on Streamable HTTP.

use std::{collections::VecDeque, sync::Mutex};

use rmcp::model::RequestId;
use serde::Deserialize;

/// Ids of one session's requests awaiting their answers, oldest first, at most `capacity`: the
/// oldest is forgotten past it (an answer never sent does not hold its id forever; this era has
/// no in-flight cap, its POSTs end at once).
pub(super) struct PendingIds {
    pending: Mutex<VecDeque<RequestId>>,
    capacity: usize,
}

/// The parts of a message the server sends that tell an answer.
#[derive(Deserialize)]
struct Outbound {
    id: Option<RequestId>,
    result: Option<serde::de::IgnoredAny>,
    error: Option<serde::de::IgnoredAny>,
}

impl PendingIds {
    pub(super) fn new(capacity: usize) -> Self {
        Self { pending: Mutex::default(), capacity }
    }

    /// Notes request `id` as awaiting its answer; `false` when one with that id already is.
    pub(super) fn start(&self, id: RequestId) -> bool {
        let mut pending = self.lock();
        if pending.contains(&id) {
            return false;
        }
        if pending.len() >= self.capacity {
            pending.pop_front();
        }
        pending.push_back(id);
        true
    }

    /// Forgets `id`: the client cancelled it, and rmcp sends no answer to a cancelled request.
    pub(super) fn cancelled(&self, id: &RequestId) {
        self.lock().retain(|p| p != id);
    }

    /// Looks at one message the server sends: an answer frees its id.
    pub(super) fn observe(&self, data: &str) {
        if self.lock().is_empty() {
            return;
        }
        let Ok(message) = serde_json::from_str::<Outbound>(data) else { return };
        // The server's own requests have ids too (from another numbering), but no result.
        if let (Some(id), true) = (message.id, message.result.is_some() || message.error.is_some())
        {
            self.cancelled(&id);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RequestId>> {
        // Only pushes and removes happen under the lock; a poisoned queue is still consistent.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_free_again_once_answered_or_cancelled_and_the_oldest_go_first() {
        let ids = PendingIds::new(2);
        assert!(ids.start(RequestId::Number(7)));
        assert!(!ids.start(RequestId::Number(7)));
        ids.observe(r#"{"jsonrpc":"2.0","id":7,"method":"roots/list"}"#);
        assert!(!ids.start(RequestId::Number(7)), "the server's own request is no answer");
        ids.observe(r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"x"}}"#);
        assert!(ids.start(RequestId::Number(7)));
        ids.cancelled(&RequestId::Number(7));
        assert!(ids.start(RequestId::Number(7)));
        assert!(ids.start(RequestId::Number(8)));
        assert!(ids.start(RequestId::Number(9)));
        assert!(ids.start(RequestId::Number(7)), "the oldest went");
    }
}
