//! Progress monitoring for a legacy HTTP+SSE session: its POSTs are answered on the session's
//! one event stream, so a request's progress stream is matched there — its notifications by
//! progress token, its end by the answer's id.

use std::{collections::VecDeque, sync::Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::progress::{Tracked, is_progress_notification};

/// Requests of one session being monitored, oldest first, at most `capacity` (a request never
/// answered does not stay monitored forever).
pub(super) struct PendingProgress {
    pending: Mutex<VecDeque<Pending>>,
    capacity: usize,
}

struct Pending {
    /// The request's id and progress token, as JSON text.
    id: String,
    token: String,
    tracked: Tracked,
}

#[derive(Deserialize)]
struct Outbound<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    params: Option<Params<'a>>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(rename = "progressToken", borrow)]
    progress_token: Option<&'a RawValue>,
}

/// The id of the request `body` (one message), as JSON text; `None` for a notification.
pub(super) fn request_id(body: &[u8]) -> Option<String> {
    let request = serde_json::from_slice::<Request<'_>>(body).ok()?;
    Some(request.id?.get().to_owned())
}

impl PendingProgress {
    pub(super) fn new(capacity: usize) -> Self {
        Self { pending: Mutex::default(), capacity }
    }

    /// Monitors the request `id` (its JSON text) until it is answered.
    pub(super) fn push(&self, id: String, token: String, tracked: Tracked) {
        let mut pending = self.lock();
        if pending.len() >= self.capacity {
            pending.pop_front();
        }
        pending.push_back(Pending { id, token, tracked });
    }

    /// Looks at one message the server sends: a progress notification is counted, an answer
    /// ends its request's stream.
    pub(super) fn observe(&self, data: &str) {
        let mut pending = self.lock();
        if pending.is_empty() {
            return;
        }
        let Ok(message) = serde_json::from_str::<Outbound<'_>>(data) else { return };
        if is_progress_notification(data.as_bytes()) {
            let token = message.params.and_then(|p| p.progress_token).map(RawValue::get);
            if let Some(found) = pending.iter().find(|p| Some(p.token.as_str()) == token) {
                found.tracked.record(data.len());
            }
        } else if message.result.is_some() || message.error.is_some() {
            // An answer (the server's own requests have ids too, from another numbering).
            if let Some(id) = message.id.map(RawValue::get) {
                pending.retain(|p| p.id != id);
            }
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::progress::{ProgressMonitor, ProgressOptions};

    #[test]
    fn only_an_answer_ends_a_stream_and_the_oldest_go_first() {
        let monitor = Arc::new(ProgressMonitor::new(ProgressOptions::default()));
        let pending = PendingProgress::new(2);
        let start = |id: &str| (id.to_owned(), "7".to_owned(), monitor.start("u", "7").unwrap());
        let (id, token, tracked) = start("0");
        pending.push(id, token, tracked);
        // The server's own request, numbered from 0 as well: not an answer.
        pending.observe(r#"{"jsonrpc":"2.0","id":0,"method":"roots/list"}"#);
        pending.observe(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":1}}"#);
        assert_eq!(pending.len(), 1);
        assert_eq!(monitor.stats("u").user.total_messages, 1);
        pending.observe(r#"{"jsonrpc":"2.0","id":0,"result":{}}"#);
        assert_eq!((pending.len(), monitor.active_streams()), (0, 0));

        for id in ["1", "2", "3"] {
            let (id, token, tracked) = start(id);
            pending.push(id, token, tracked);
        }
        assert_eq!((pending.len(), monitor.active_streams()), (2, 2), "the oldest went");
    }
}
