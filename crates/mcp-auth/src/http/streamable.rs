//! Streamable HTTP at `{base}` (and the original's `{base}/message` alias), both protocol eras.
//!
//! The request is admitted (authenticated, credential resolved, instance found) and then handed
//! to the caller's own rmcp `StreamableHttpService`, which speaks the protocol: sessions, the GET
//! stream and DELETE for 2025-03-26 … 2025-11-25, stateless POSTs for 2026-07-28.

use std::sync::{Arc, atomic::Ordering};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, Method, StatusCode, header},
    response::Response,
};
use rmcp::ServerHandler;

use super::{
    Shared, Stateless,
    body::{GuardedBody, stream_end},
    errors, hooked, info,
    list_filter::ListFilter,
    message, progress,
};
use crate::{
    admission::{Admission, Cap, Held, Refusal, ServerCap},
    auth::TransportKind,
    progress::Tracked,
};

/// The first protocol version without sessions: its requests ignore `Mcp-Session-Id`.
const STATELESS_ERA: &str = "2026-07-28";

/// The media type of a JSON-RPC body (parameters such as `; charset=utf-8` may follow).
const JSON: &str = "application/json";

/// `POST | GET | DELETE {base}`.
pub(crate) async fn handle<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    request: Request,
) -> Response {
    if request.method() == Method::GET && !accepts_event_stream(request.headers()) {
        return info::document(&shared);
    }
    let (mut parts, body) = request.into_parts();
    let admission = match super::admit(&shared, &parts, TransportKind::StreamableHttp).await {
        Ok(admission) => admission,
        Err(response) => return response,
    };
    // Sessions are bound to the user who created them: rmcp's are in the session book under
    // their user, hooked ones in the user's own table; another user's session id is unknown
    // here. Answer 404 for every method ourselves — rmcp would accept a DELETE of an unknown
    // session with 202. A session found is in use until the response ends: it does not
    // hibernate meanwhile.
    let stateless = is_stateless(&parts.headers);
    let session_id = legacy_session_id(&parts.headers, stateless).map(Arc::<str>::from);
    let hook = shared.sessions.as_ref().filter(|_| !stateless);
    let mut theirs = None;
    let mut record = None;
    if let Some(session_id) = &session_id {
        let known = match hook {
            Some(_) => {
                theirs = admission.entry.hooked.get(session_id);
                theirs.is_some()
            }
            None => {
                let user_id = admission.principal.user_id();
                record = shared.admission.registry.inner.book.get(session_id, user_id);
                record.is_some()
            }
        };
        if !known {
            return errors::session_not_found();
        }
    }
    // A legacy-era POST without a session opens one (it must be `initialize`).
    let opens_session = parts.method == Method::POST && session_id.is_none() && !stateless;
    if opens_session && let Err(refusal) = reserve_session(&shared, &admission) {
        shared.admission.security_log.refused("sessions", admission.principal.user_id(), None);
        shared.admission.count_refusal(&refusal);
        return errors::refusal(&refusal);
    }
    let session_use = record.as_ref().map(|record| record.start_use());
    // A POST is answered (perhaps as a stream) and takes an in-flight slot until it is; a GET
    // is the session's stream, capped through the sessions, and ends when its token expires or
    // the server begins to shut down (it answers no request: nothing in flight is lost, and
    // the client reopens it elsewhere).
    let ends_on = (parts.method == Method::GET).then(|| shared.shutdown.clone());
    let (principal, entry, held, ends_at) = if parts.method == Method::POST {
        let user_id = admission.principal.user_id().to_owned();
        match admission.start_request() {
            Ok((principal, entry, held)) => (principal, entry, held.using(session_use), None),
            Err(refusal) => {
                shared.admission.security_log.refused("in_flight", &user_id, None);
                shared.admission.count_refusal(&refusal);
                return errors::refusal(&refusal);
            }
        }
    } else {
        let (principal, entry, held) = admission.hold();
        let ends_at =
            stream_end(principal.expires_at(), shared.admission.limits.stream_expiry_leeway);
        (principal, entry, held.using(session_use), ends_at)
    };
    let is_delete = parts.method == Method::DELETE;
    // A POST body is read here, within the size limit, so that a body rmcp cannot parse can be
    // told apart: not JSON (-32700) or JSON but not JSON-RPC (-32600). rmcp only says 415.
    let posted = if parts.method == Method::POST {
        match message::read_body(body, shared.http.max_request_body_bytes).await {
            Ok(bytes) => Some(bytes),
            Err(response) => return response,
        }
    } else {
        drop(body);
        None
    };
    // A request whose id is in flight in its session is refused before rmcp, which would lose
    // the first one's answer (see `Record::claim_id`). Only rmcp's sessions: a stateless
    // request has no session to look in, and pays nothing here.
    let claim = match (&record, &posted) {
        (Some(record), Some(bytes)) => match message::request_id(bytes) {
            Some(id) => match record.claim_id(id.clone()) {
                Some(claim) => Some(claim),
                None => return errors::duplicate_request_id(&id),
            },
            None => None,
        },
        _ => None,
    };
    let held = held.claiming(claim);
    let list_filter = match &posted {
        Some(bytes) => match super::check_tools(&shared, bytes, &principal, &parts.headers) {
            Ok(filter) => filter,
            Err(response) => return *response,
        },
        None => None,
    };
    let tracked = posted
        .as_deref()
        .and_then(|bytes| progress::start(shared.progress.as_ref(), &principal, bytes));
    let sent = Sent { list_filter, tracked, held, ends_at, ends_on };
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.get(..JSON.len()).is_some_and(|t| t.eq_ignore_ascii_case(JSON)));
    shared.credential_headers.strip(&mut parts.headers);
    parts.extensions.insert(principal);
    if let Some(hook) = hook {
        let Ok(instance) = entry.instance() else {
            return errors::refusal(&Refusal::InstanceFailed);
        };
        parts.headers.remove(SESSION_ID);
        let request = Request::from_parts(parts, posted.unwrap_or_default());
        let answer = hook(instance, request, theirs).await;
        let response = hooked::settle(answer, &entry.hooked, session_id.as_deref());
        return sent.finish(response);
    }
    if let (Some(handler), Some(bytes)) = (&shared.stateless, &posted)
        && stateless
    {
        let Ok(instance) = entry.instance() else {
            return errors::refusal(&Refusal::InstanceFailed);
        };
        match handler(instance, Request::from_parts(parts, bytes.clone())).await {
            Stateless::Answered(response) => {
                return sent.finish(response);
            }
            Stateless::Declined(request) => parts = request.into_parts().0,
        }
    }
    let body = posted.clone().map_or_else(axum::body::Body::empty, axum::body::Body::from);
    let response = entry.http.handle(Request::from_parts(parts, body)).await;
    let status = response.status();
    if let Some(posted) =
        posted.filter(|_| json_body && status == StatusCode::UNSUPPORTED_MEDIA_TYPE)
    {
        return message::not_a_message(&posted);
    }
    let mut response = message::as_jsonrpc_error(response.map(axum::body::Body::new)).await;
    // rmcp answers a session DELETE with 202; clients (Python `mcp`) expect 200 or 204, which is
    // also what the TypeScript SDK's server sends.
    if is_delete && status == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    sent.finish(response)
}

/// What a response carries on its way out.
struct Sent {
    list_filter: Option<ListFilter>,
    tracked: Option<Tracked>,
    held: Held,
    ends_at: Option<std::time::SystemTime>,
    /// Ends the body when cancelled (the server's shutdown, for a GET stream).
    ends_on: Option<tokio_util::sync::CancellationToken>,
}

impl Sent {
    /// The response as sent: its `tools/list` answers filtered, its progress counted, holding
    /// the request's resources until it ends.
    fn finish(self, response: Response) -> Response {
        let response = match self.list_filter {
            Some(filter) => filter.apply(response),
            None => response,
        };
        let response = match self.tracked {
            Some(tracked) => progress::count(response, tracked),
            None => response,
        };
        let (held, ends_at, ends_on) = (self.held, self.ends_at, self.ends_on);
        response.map(|body| {
            let guarded = GuardedBody::new(body, held, ends_at);
            axum::body::Body::new(match ends_on {
                Some(shutdown) => guarded.ending_on(shutdown),
                None => guarded,
            })
        })
    }
}

/// Room for one more session of this user, and of all users together.
fn reserve_session<H: ServerHandler>(
    shared: &Shared<H>,
    admission: &Admission<H>,
) -> Result<(), Refusal> {
    let limits = &shared.admission.limits;
    let book = &shared.admission.registry.inner.book;
    let entry = &admission.entry;
    // Recorded sessions (running or hibernated), hooked ones, and any rmcp runs unrecorded.
    let held = || {
        entry.user.sessions.load(Ordering::Relaxed)
            + entry.hooked.len()
            + entry.unrecorded_sessions()
    };
    // The user's count lags behind sessions the book has just forgotten: settle it at the cap.
    if held() >= limits.max_sessions_per_user && {
        book.settle();
        held() >= limits.max_sessions_per_user
    } {
        return Err(Refusal::OverCap(Cap::Sessions));
    }
    let room = limits.max_sessions_total.saturating_sub(shared.sse.len());
    if !shared.admission.registry.reserve_session(room) {
        return Err(ServerCap::Sessions.refusal(limits.busy_retry_after));
    }
    Ok(())
}

/// True for a request of the stateless era (2026-07-28 and later).
fn is_stateless(headers: &HeaderMap) -> bool {
    headers
        .get(PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
        // Dates compare correctly as strings.
        .is_some_and(|v| v >= STATELESS_ERA)
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}

// Header names built once: looking one up by `&str` parses the name on every request.
pub(super) const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");

/// The session id of a legacy-era request (2026-07-28 requests carry none that matters).
fn legacy_session_id(headers: &HeaderMap, stateless: bool) -> Option<&str> {
    if stateless {
        return None;
    }
    headers.get(SESSION_ID)?.to_str().ok()
}
