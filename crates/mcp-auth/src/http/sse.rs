//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer ships.
//!
//! `GET {base}/sse` opens a session: the first event, `endpoint`, names
//! `{base}/messages?sessionId=…`; server messages follow as `message` events. Clients POST their
//! messages there. Both the GET and every POST are authenticated, and a session belongs to the
//! user who opened it: the session id in the query string is an address, never a credential.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, atomic::Ordering},
};

use axum::{
    body::Body,
    extract::{Query, Request, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{StreamExt, stream};
use rmcp::{
    ServerHandler, ServiceExt,
    model::{ClientJsonRpcMessage, ClientNotification},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{
    Shared,
    body::{GuardedBody, stream_end},
    errors,
    list_filter::ListFilter,
    message,
    sse_ids::PendingIds,
    sse_progress,
    sse_progress::PendingProgress,
    sse_queue,
    tool_scopes::Listed,
};
use crate::{
    admission::{Cap, Refusal, ServerCap},
    auth::TransportKind,
    instances::UserState,
    progress::progress_token,
};

/// Messages buffered per direction. Client to server, a POST waits for room; server to client,
/// a full queue drops the session ([`sse_queue`]).
const CHANNEL_CAPACITY: usize = 64;

/// Open legacy SSE sessions: id → (owner, sender into that session's server).
#[derive(Default)]
pub(crate) struct SseSessions {
    sessions: Mutex<HashMap<String, SseSession>>,
}

#[derive(Clone)]
struct SseSession {
    owner: Arc<str>,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    /// `tools/list` requests posted whose answers are still to be filtered.
    lists: Arc<PendingLists>,
    /// Requests posted with a progress token, monitored until answered.
    progress: Arc<PendingProgress>,
    /// Ids of requests posted and not answered yet.
    ids: Arc<PendingIds>,
}

/// The filters of a session's `tools/list` requests, oldest first, at most [`CHANNEL_CAPACITY`]
/// (an answer never sent does not hold its filter forever).
#[derive(Default)]
struct PendingLists(Mutex<std::collections::VecDeque<ListFilter>>);

impl PendingLists {
    fn push(&self, filter: ListFilter) {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lists.len() >= CHANNEL_CAPACITY {
            lists.pop_front();
        }
        lists.push_back(filter);
    }

    /// `data` (one server message), filtered when it answers a pending `tools/list`; the
    /// filter of an answered request is dropped.
    fn filter(&self, data: String) -> String {
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lists.is_empty() {
            return data;
        }
        let found = lists.iter().enumerate().find_map(|(i, filter)| {
            match filter.message(data.as_bytes()) {
                Listed::Other => None,
                answered => Some((i, answered)),
            }
        });
        let Some((i, answered)) = found else { return data };
        lists.remove(i);
        match answered {
            Listed::Filtered(text) => String::from_utf8(text).unwrap_or(data),
            Listed::Other | Listed::Kept => data,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl SseSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SseSession>> {
        // Only inserts and removes happen under the lock; a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of open sessions.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes a session from the map when its SSE response is dropped (client gone, stream
/// closed at token expiry, or queue full), and gives back the user's session slot.
struct SessionGuard<H> {
    shared: Arc<Shared<H>>,
    id: String,
    user: Arc<UserState>,
    _stop_server: tokio_util::sync::DropGuard,
}

impl<H> Drop for SessionGuard<H> {
    fn drop(&mut self) {
        self.shared.sse.lock().remove(&self.id);
        self.user.sse_sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `GET {base}/sse`.
pub(crate) async fn connect<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    let admission = match super::admit(&shared, &parts, TransportKind::LegacySse).await {
        Ok(admission) => admission,
        Err(response) => return response,
    };
    let (principal, entry, held) = admission.hold();
    let user = held.user.clone();
    let limits = &shared.admission.limits;
    if user.sse_sessions.fetch_add(1, Ordering::Relaxed) >= limits.max_sse_sessions_per_user {
        user.sse_sessions.fetch_sub(1, Ordering::Relaxed);
        shared.admission.security_log.refused("sse_sessions", principal.user_id(), None);
        return errors::refusal(&Refusal::OverCap(Cap::SseSessions));
    }
    let guard_user = user.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_CAPACITY);
    let (to_client, from_server) = sse_queue::queue(CHANNEL_CAPACITY, user);
    let owner: Arc<str> = principal.user_id().into();
    let lists = Arc::new(PendingLists::default());
    let progress = Arc::new(PendingProgress::new(CHANNEL_CAPACITY));
    let ids = Arc::new(PendingIds::new(CHANNEL_CAPACITY));
    {
        let mut sessions = shared.sse.lock();
        if sessions.len() >= limits.max_sessions_total {
            drop(sessions);
            guard_user.sse_sessions.fetch_sub(1, Ordering::Relaxed);
            return errors::refusal(&ServerCap::Sessions.refusal(limits.busy_retry_after));
        }
        let session = SseSession {
            owner,
            to_server,
            lists: lists.clone(),
            progress: progress.clone(),
            ids: ids.clone(),
        };
        sessions.insert(id.clone(), session);
    }
    // The session's server stops when the entry is evicted or the client goes away.
    let stop = entry.shutdown.child_token();
    let guard = SessionGuard {
        shared: shared.clone(),
        id: id.clone(),
        user: guard_user,
        _stop_server: stop.clone().drop_guard(),
    };
    let instance = match entry.instance() {
        Ok(instance) => instance,
        Err(_) => return errors::refusal(&Refusal::InstanceFailed),
    };
    tokio::spawn(async move {
        let transport = (to_client, ReceiverStream::new(from_client));
        match instance.serve_with_ct(transport, stop).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => tracing::debug!(%error, "legacy SSE session ended during initialization"),
        }
    });

    let endpoint = format!("{}/messages?sessionId={id}", shared.http.base_path);
    let first = stream::once(async move { Ok(Event::default().event("endpoint").data(endpoint)) });
    let messages = from_server.map(move |data| {
        let _session = &guard; // lives as long as the stream
        progress.observe(&data);
        ids.observe(&data);
        Ok::<_, Infallible>(Event::default().event("message").data(lists.filter(data)))
    });
    let response = Sse::new(first.chain(messages))
        .keep_alive(KeepAlive::new().interval(shared.http.sse_keep_alive))
        .into_response();
    let ends_at = stream_end(principal.expires_at(), limits.stream_expiry_leeway);
    response.map(|body| Body::new(GuardedBody::new(body, held, ends_at)))
}

#[derive(serde::Deserialize)]
pub(crate) struct SessionQuery {
    #[serde(rename = "sessionId", alias = "session_id")]
    session_id: String,
}

/// `POST {base}/messages?sessionId=…`.
pub(crate) async fn post_message<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    query: Result<Query<SessionQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admission = match super::admit(&shared, &parts, TransportKind::LegacySse).await {
        Ok(admission) => admission,
        Err(response) => return response,
    };
    let Ok(Query(SessionQuery { session_id })) = query else {
        return errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32600, "Missing sessionId");
    };
    let session = shared.sse.lock().get(&session_id).cloned();
    // Another user's session is reported exactly like an unknown one.
    let Some(session) = session.filter(|s| *s.owner == *admission.principal.user_id()) else {
        return errors::session_not_found();
    };
    let bytes = match message::read_body(body, shared.http.max_request_body_bytes).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let Ok(mut message) = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) else {
        return message::not_a_message(&bytes);
    };
    // A request whose id awaits its answer is refused: rmcp would answer only one of the two.
    let id = message::request_id(&bytes);
    if let Some(id) = &id
        && !session.ids.start(id.clone())
    {
        return errors::duplicate_request_id(id);
    }
    if let ClientJsonRpcMessage::Notification(notification) = &message
        && let ClientNotification::CancelledNotification(cancelled) = &notification.notification
        && let Some(id) = &cancelled.params.request_id
    {
        session.ids.cancelled(id);
    }
    match super::check_tools(&shared, &bytes, &admission.principal, &parts.headers) {
        Ok(Some(filter)) => session.lists.push(filter),
        Ok(None) => {}
        Err(response) => {
            // Refused here, never answered on the stream.
            if let Some(id) = &id {
                session.ids.cancelled(id);
            }
            return *response;
        }
    }
    if let Some(monitor) = &shared.progress
        && let Some(token) = progress_token(&bytes)
        && let Some(id) = sse_progress::request_id(&bytes)
        && let Some(tracked) = monitor.start(admission.principal.user_id(), &token)
    {
        session.progress.push(id, token, tracked);
    }
    // The same contract as rmcp's Streamable HTTP service: handlers find the request parts, and
    // our `Principal` inside them, in the message extensions.
    shared.credential_headers.strip(&mut parts.headers);
    parts.extensions.insert(admission.principal);
    message.insert_extension(parts);
    match session.to_server.send(message).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => errors::session_not_found(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::http::tool_scopes::{Asked, ToolScopes};

    /// A filter of the `tools/list` request `id`, for a caller without `mcp:admin`.
    fn filter(id: u64) -> ListFilter {
        let by_tool = HashMap::from([("admin".to_owned(), vec!["mcp:admin".to_owned()])]);
        let scopes = Arc::new(ToolScopes::new(by_tool, true));
        ListFilter::new(&scopes, &Asked { calls: vec![], lists: vec![json!(id)] }, &[]).unwrap()
    }

    fn answer(id: u64) -> String {
        json!({"jsonrpc":"2.0","id":id,"result":{"tools":[{"name":"admin"},{"name":"echo"}]}})
            .to_string()
    }

    #[test]
    fn pending_lists_are_bounded_and_dropped_once_answered() {
        let pending = PendingLists::default();
        for id in 0..=CHANNEL_CAPACITY as u64 {
            pending.push(filter(id));
        }
        assert_eq!(pending.len(), CHANNEL_CAPACITY, "the oldest went");
        assert_eq!(pending.filter(answer(0)), answer(0), "request 0's filter was dropped");
        let filtered = pending.filter(answer(1));
        assert!(!filtered.contains("admin") && filtered.contains("echo"), "{filtered}");
        assert_eq!(pending.len(), CHANNEL_CAPACITY - 1, "answered: dropped");
        // An answer with nothing to hide is answered too.
        let plain = json!({"jsonrpc":"2.0","id":2,"result":{"tools":[]}}).to_string();
        assert_eq!(pending.filter(plain.clone()), plain);
        assert_eq!(pending.len(), CHANNEL_CAPACITY - 2);
    }
}
