//! Streamable HTTP at `{base}` (and the original's `{base}/message` alias), both protocol eras.
//!
//! The request is admitted (authenticated, credential resolved, instance found) and then handed
//! to the caller's own rmcp `StreamableHttpService`, which speaks the protocol: sessions, the GET
//! stream and DELETE for 2025-03-26 … 2025-11-25, stateless POSTs for 2026-07-28.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    response::Response,
};
use rmcp::{ServerHandler, transport::streamable_http_server::SessionManager};

use super::{errors, info, request_context};
use crate::{auth::TransportKind, wrap::Shared};

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
    let admission = {
        let ctx = request_context(&parts, TransportKind::StreamableHttp);
        match shared.admit(&ctx).await {
            Ok(admission) => admission,
            Err(refusal) => return errors::refusal(&refusal),
        }
    };
    // Sessions are bound to the user who created them: each user has a session manager of their
    // own, so another user's session id is unknown here. Answer 404 for every method ourselves —
    // rmcp would accept a DELETE of an unknown session with 202.
    if let Some(session_id) = legacy_session_id(&parts.headers) {
        let known = admission.entry.sessions.has_session(&session_id.into()).await.unwrap_or(false);
        if !known {
            return errors::session_not_found();
        }
    }
    let is_delete = parts.method == Method::DELETE;
    let json_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.get(..JSON.len()).is_some_and(|t| t.eq_ignore_ascii_case(JSON)));
    parts.extensions.insert(admission.principal);
    let response = admission.entry.http.handle(Request::from_parts(parts, body)).await;
    let mut response = response.map(axum::body::Body::new);
    // rmcp answers a session DELETE with 202; clients (Python `mcp`) expect 200 or 204, which is
    // also what the TypeScript SDK's server sends.
    if is_delete && response.status() == axum::http::StatusCode::ACCEPTED {
        *response.status_mut() = axum::http::StatusCode::OK;
    }
    // rmcp answers a JSON body it cannot parse with 415 and its parser's message; for a body
    // that *is* declared JSON that is a parse error: 400 with JSON-RPC -32700 (JSON-RPC 2.0 §5.1).
    if json_body && response.status() == axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return errors::jsonrpc_error(
            axum::http::StatusCode::BAD_REQUEST,
            -32700,
            "Parse error: the body is not a valid JSON-RPC message",
        );
    }
    response
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"))
}

/// The session id of a legacy-era request (2026-07-28 requests carry none that matters).
fn legacy_session_id(headers: &HeaderMap) -> Option<&str> {
    let session = headers.get("mcp-session-id")?.to_str().ok()?;
    let version = headers.get("mcp-protocol-version").and_then(|v| v.to_str().ok());
    // Dates compare correctly as strings.
    match version {
        Some(v) if v >= STATELESS_ERA => None,
        _ => Some(session),
    }
}
