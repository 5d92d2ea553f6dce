//! The gateway's own answers when an http upstream fails a forwarded request: a JSON-RPC error
//! for the caller's request id, naming what failed and nothing of the upstream's internals
//! (its URL, its error text, its headers).

use std::time::Duration;

use axum::{body::Body, response::Response};
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;

/// JSON-RPC code for a request that timed out (the TypeScript SDK's `RequestTimeout`), as the
/// session-era path answers it.
const REQUEST_TIMEOUT: i64 = -32001;
const INTERNAL_ERROR: i64 = -32603;
const INVALID_REQUEST: i64 = -32600;
/// What the library (and rmcp's clients) expect with a session's 404.
const SESSION_NOT_FOUND: i64 = -32001;

pub(super) mod upstream_error {
    use super::*;

    pub(crate) fn timed_out(request: &[u8], timeout: Duration) -> Response {
        let message = format!("the upstream server did not answer within {timeout:?}");
        answer(request, REQUEST_TIMEOUT, &message)
    }

    pub(crate) fn unreachable(request: &[u8]) -> Response {
        answer(request, INTERNAL_ERROR, "the upstream server could not be reached")
    }

    pub(crate) fn refused(request: &[u8], status: StatusCode) -> Response {
        let code = status.as_u16();
        let message = if status.is_server_error() {
            format!("the upstream server failed (HTTP {code})")
        } else if matches!(code, 401 | 403 | 407) {
            format!("the upstream server refused this user's credential (HTTP {code})")
        } else {
            format!("the upstream server answered HTTP {code}, not MCP")
        };
        answer(request, INTERNAL_ERROR, &message)
    }

    pub(crate) fn too_large(request: &[u8]) -> Response {
        answer(request, INTERNAL_ERROR, "the upstream server's answer is larger than 16 MiB")
    }

    /// The user's headers for the upstream could not be rendered (`reason` names the header and
    /// the variable, never a value).
    pub(crate) fn unrenderable(request: &[u8], reason: &str) -> Response {
        answer(
            request,
            INTERNAL_ERROR,
            &format!("the upstream request could not be made: {reason}"),
        )
    }

    /// The upstream refused a GET or DELETE as the caller made it (HTTP `status`, a 4xx): the
    /// same status, with the reason as a JSON-RPC error.
    pub(crate) fn rejected(status: StatusCode) -> Response {
        let message = format!("the upstream server refused the request (HTTP {})", status.as_u16());
        let mut response = answer(&[], INVALID_REQUEST, &message);
        *response.status_mut() = status;
        response
    }

    /// The caller's session is gone upstream (it restarted, or timed the session out): the
    /// client starts a new one, as the spec has it for a 404.
    pub(crate) fn session_gone() -> Response {
        let mut response = answer(&[], SESSION_NOT_FOUND, "Session not found");
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    }

    /// A failure of a GET or DELETE, which has no request id to answer: the same JSON-RPC error
    /// as `failed`, with `502 Bad Gateway`.
    pub(crate) fn bad_gateway(mut failed: Response) -> Response {
        *failed.status_mut() = StatusCode::BAD_GATEWAY;
        failed
    }

    /// The same error as one SSE event, to end a stream the timeout cut short.
    pub(crate) fn timed_out_event(request: &[u8], timeout: Duration) -> Vec<u8> {
        let message = format!("the upstream server did not answer within {timeout:?}");
        let mut event = b"event: message\ndata: ".to_vec();
        event.extend_from_slice(&error_body(request, REQUEST_TIMEOUT, &message));
        event.extend_from_slice(b"\n\n");
        event
    }
}

/// `200` with the JSON-RPC error: the request reached the gateway and was understood; the
/// failure is the answer's, as the session-era path reports it.
fn answer(request: &[u8], code: i64, message: &str) -> Response {
    let mut response = Response::new(Body::from(error_body(request, code, message)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error_body(request: &[u8], code: i64, message: &str) -> Vec<u8> {
    #[derive(Deserialize)]
    struct Id {
        #[serde(default)]
        id: serde_json::Value,
    }
    let id = serde_json::from_slice::<Id>(request).map(|r| r.id).unwrap_or_default();
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::error_body;

    #[test]
    fn the_error_keeps_the_callers_id() {
        let body =
            error_body(br#"{"jsonrpc":"2.0","id":"a-7","method":"tools/call"}"#, -32603, "x");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"error":{"code":-32603,"message":"x"},"id":"a-7","jsonrpc":"2.0"}"#
        );
        let body = error_body(b"not json", -32603, "x");
        assert!(String::from_utf8(body).unwrap().contains(r#""id":null"#));
    }
}
