//! Error responses: the right status, a JSON body, and `WWW-Authenticate` / `Retry-After` where
//! due. No internal error text ever reaches the client.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    admission::{Cap, Refusal},
    middleware::rate_limit::{RateLimitExceeded, RateLimitStatus},
    tool::RATE_LIMITED_CODE,
};

/// The response for a refused request that names no challenge parameters (the refusals after
/// admission: caps, a failed instance). Admission refusals go through
/// [`Challenges::refusal`](super::challenge::Challenges::refusal).
pub(crate) fn refusal(refusal: &Refusal) -> Response {
    super::challenge::Challenges::NONE.refusal(refusal, &HeaderMap::new())
}

/// The response for a refusal that needs no challenge.
pub(crate) fn plain_refusal(refusal: &Refusal) -> Option<Response> {
    Some(match refusal {
        Refusal::Auth(err) if err.is_server_side() => {
            unavailable(std::time::Duration::from_secs(5))
        }
        Refusal::Auth(_) | Refusal::InsufficientScope(_) => return None,
        Refusal::RateLimited(exceeded) => too_many_requests(exceeded),
        Refusal::RateLimitUnavailable(retry_after) => with_retry_after(
            StatusCode::SERVICE_UNAVAILABLE,
            -32000,
            "Server busy: the rate limiter is unavailable; retry later",
            retry_after.as_secs().max(1),
        ),
        Refusal::Credential(err) => unavailable(err.retry_after()?),
        Refusal::PeerBlocked(exceeded) => with_retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            i64::from(RATE_LIMITED_CODE),
            "Too many failed authentications from this address",
            exceeded.retry_after_secs(),
        ),
        Refusal::OverCap(cap) => over_cap(*cap),
        Refusal::Busy(full) => with_retry_after(
            StatusCode::SERVICE_UNAVAILABLE,
            -32000,
            full.cap.message(),
            full.retry_after.as_secs().max(1),
        ),
        Refusal::InstanceFailed => jsonrpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            -32603,
            "Internal error: the server could not be started for this user",
        ),
    })
}

/// `429` for a user over one of their caps. The cap frees up as the user's own requests end, so
/// `Retry-After` is short.
pub(crate) fn over_cap(cap: Cap) -> Response {
    let code = i64::from(RATE_LIMITED_CODE);
    with_retry_after(StatusCode::TOO_MANY_REQUESTS, code, cap.message(), 1)
}

/// A JSON-RPC error without an id, with `Retry-After` and `data.retryAfter` in seconds.
fn with_retry_after(status: StatusCode, code: i64, message: &str, secs: u64) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "error": { "code": code, "message": message, "data": { "retryAfter": secs } },
        "id": null,
    });
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// `503` with `Retry-After`.
pub(crate) fn unavailable(retry_after: std::time::Duration) -> Response {
    let secs = retry_after.as_secs().max(1);
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": "an upstream dependency is unavailable; retry later",
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// `429` with `Retry-After`, the `RateLimit-*` headers and a JSON-RPC error without an id.
///
/// The code is [`RATE_LIMITED_CODE`] (`-32029`), the one rate-limited tool calls get, with
/// `data.retryAfter` in seconds, so a client handles both the same way.
pub(crate) fn too_many_requests(exceeded: &RateLimitExceeded) -> Response {
    let secs = exceeded.retry_after_secs();
    let body = json!({
        "jsonrpc": "2.0",
        "error": {
            "code": RATE_LIMITED_CODE,
            "message": format!("Rate limit exceeded; retry after {secs} s"),
            "data": { "retryAfter": secs },
        },
        "id": null,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    rate_limit_headers(headers, &exceeded.status);
    response
}

/// `RateLimit-Limit` (the burst), `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the
/// whole burst is back), as in draft-ietf-httpapi-ratelimit-headers-07.
pub(crate) fn rate_limit_headers(headers: &mut HeaderMap, status: &RateLimitStatus) {
    headers.insert("ratelimit-limit", HeaderValue::from(status.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(status.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(status.reset_secs()));
}

/// A JSON-RPC error response without an id, as the MCP transport spec allows on HTTP errors.
pub(crate) fn jsonrpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body =
        json!({ "jsonrpc": "2.0", "error": { "code": code, "message": message }, "id": null });
    (status, axum::Json(body)).into_response()
}

/// `400` for a request whose id is that of a request of the same session still in flight
/// (see `Record::claim_id`). A client error, like any other invalid request (-32600): not a
/// `409`, which says the target resource's state conflicts, while here the message is wrong.
pub(crate) fn duplicate_request_id(id: &rmcp::model::RequestId) -> Response {
    /// The most of the id the message repeats (it is in the body's `id` in full).
    const MAX_SHOWN: usize = 64;
    let shown = serde_json::to_string(id).unwrap_or_default();
    let shown = match shown.char_indices().nth(MAX_SHOWN) {
        Some((end, _)) => format!("{}...", &shown[..end]),
        None => shown,
    };
    let message = format!(
        "Invalid Request: id {shown} is already used by a request in flight in this session"
    );
    let body =
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": -32600, "message": message } });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// `404` for an unknown session — also what another user's session id gets, so that a session
/// id reveals nothing about whether it exists.
pub(crate) fn session_not_found() -> Response {
    jsonrpc_error(StatusCode::NOT_FOUND, -32001, "Session not found")
}
