//! The legacy HTTP+SSE transport (protocol 2024-11-05), which rmcp no longer ships.
//!
//! `GET {base}/sse` opens a session: the first event, `endpoint`, names
//! `{base}/messages?sessionId=…`; server messages follow as `message` events. Clients POST their
//! messages there. Both the GET and every POST are authenticated, and a session belongs to the
//! user who opened it: the session id in the query string is an address, never a credential.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
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
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::PollSender;

use super::{errors, request_context};
use crate::{auth::TransportKind, wrap::Shared};

/// Messages buffered per direction before senders wait.
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

/// Removes a session from the map when its SSE response is dropped (client gone).
struct SessionGuard<H> {
    shared: Arc<Shared<H>>,
    id: String,
    _stop_server: tokio_util::sync::DropGuard,
}

impl<H> Drop for SessionGuard<H> {
    fn drop(&mut self) {
        self.shared.sse.lock().remove(&self.id);
    }
}

/// `GET {base}/sse`.
pub(crate) async fn connect<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    request: Request,
) -> Response {
    let (parts, _body) = request.into_parts();
    let admission = {
        let ctx = request_context(&parts, TransportKind::LegacySse);
        match shared.admit(&ctx).await {
            Ok(admission) => admission,
            Err(refusal) => return errors::refusal(&refusal),
        }
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL_CAPACITY);
    let (to_client, from_server) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL_CAPACITY);
    let owner: Arc<str> = admission.principal.user_id().into();
    shared.sse.lock().insert(id.clone(), SseSession { owner, to_server });

    // The session's server stops when the entry is evicted or the client goes away.
    let stop = admission.entry.shutdown.child_token();
    let instance = admission.entry.instance();
    let server_stop = stop.clone();
    tokio::spawn(async move {
        let transport = (PollSender::new(to_client), ReceiverStream::new(from_client));
        match instance.serve_with_ct(transport, server_stop).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => tracing::debug!(%error, "legacy SSE session ended during initialization"),
        }
    });

    let guard =
        SessionGuard { shared: shared.clone(), id: id.clone(), _stop_server: stop.drop_guard() };
    let endpoint = format!("{}/messages?sessionId={id}", shared.http.base_path);
    let first = stream::once(async move { Ok(Event::default().event("endpoint").data(endpoint)) });
    let messages = ReceiverStream::new(from_server).map(move |message| {
        let _session = &guard; // lives as long as the stream
        let data = serde_json::to_string(&message).unwrap_or_default();
        Ok::<_, Infallible>(Event::default().event("message").data(data))
    });
    Sse::new(first.chain(messages))
        .keep_alive(KeepAlive::new().interval(shared.http.sse_keep_alive))
        .into_response()
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
    let admission = {
        let ctx = request_context(&parts, TransportKind::LegacySse);
        match shared.admit(&ctx).await {
            Ok(admission) => admission,
            Err(refusal) => return errors::refusal(&refusal),
        }
    };
    let Ok(Query(SessionQuery { session_id })) = query else {
        return errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32600, "Missing sessionId");
    };
    let session = shared.sse.lock().get(&session_id).cloned();
    // Another user's session is reported exactly like an unknown one.
    let Some(session) = session.filter(|s| *s.owner == *admission.principal.user_id()) else {
        return errors::session_not_found();
    };
    let limit = shared.http.max_request_body_bytes;
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return errors::jsonrpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                "Request body too large",
            );
        }
    };
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(message) => message,
        Err(_) => return errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32700, "Parse error"),
    };
    // The same contract as rmcp's Streamable HTTP service: handlers find the request parts, and
    // our `Principal` inside them, in the message extensions.
    parts.extensions.insert(admission.principal);
    message.insert_extension(parts);
    match session.to_server.send(message).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => errors::session_not_found(),
    }
}
