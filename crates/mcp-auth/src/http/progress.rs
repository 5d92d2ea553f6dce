//! Progress monitoring on the wire: a POST that asks for progress starts a stream in the
//! server's [`ProgressMonitor`], its response's `notifications/progress` events are counted as
//! they pass, and the stream ends with the response. Also the two endpoints:
//! `GET {base}/progress/stats` (the caller's own streams, everyone's counts) and
//! `GET {base}/progress/metrics` (every stream, for holders of the admin scope only).

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rmcp::ServerHandler;

use super::{Shared, sse_events};
use crate::{
    auth::Principal,
    progress::{ProgressMonitor, Tracked, progress_token},
};

/// Starts monitoring the request `body` when it asks for progress.
pub(crate) fn start(
    monitor: Option<&Arc<ProgressMonitor>>,
    principal: &Principal,
    body: &[u8],
) -> Option<Tracked> {
    let monitor = monitor?;
    let token = progress_token(body)?;
    monitor.start(principal.user_id(), &token)
}

/// `response`, counting its progress events into `tracked`, which ends when the response does
/// (at once for a JSON answer).
pub(crate) fn count(response: Response, tracked: Tracked) -> Response {
    let is_sse =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(
            |v| v.get(..17).is_some_and(|t| t.eq_ignore_ascii_case("text/event-stream")),
        );
    if !is_sse {
        // A JSON answer is the whole answer: no progress can follow it, so the stream ends here.
        drop(tracked);
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = Body::from_stream(sse_events::map(body.into_data_stream(), move |event| {
        if crate::progress::is_progress_notification(&event) {
            tracked.record(event.len());
        }
        event
    }));
    Response::from_parts(parts, body)
}

/// `GET {base}/progress/stats`, behind the server's `AuthLayer` (scopes and rate limit
/// included; no credential or instance needed).
pub(crate) async fn stats<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let Some(monitor) = &shared.progress else { return StatusCode::NOT_FOUND.into_response() };
    no_store(Json(monitor.stats(principal.user_id())).into_response())
}

/// `GET {base}/progress/metrics`: every user's streams, for the admin scope only.
pub(crate) async fn metrics<H: ServerHandler>(
    State(shared): State<Arc<Shared<H>>>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    let admin = shared.progress.as_ref().and_then(|m| m.options().admin_scope.clone());
    let (Some(monitor), Some(admin)) = (&shared.progress, admin) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !principal.scopes().contains(&admin) {
        shared.admission.security_log.refused("progress_admin_scope", principal.user_id(), None);
        shared.admission.count_refusal(&crate::admission::Refusal::InsufficientScope(vec![]));
        let needed = [admin];
        return shared.challenges.insufficient_scope(&needed, &needed, &headers);
    }
    no_store(Json(monitor.report()).into_response())
}

/// Reports about one caller are never cached by anyone.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
