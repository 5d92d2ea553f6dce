//! The JSON-RPC side of HTTP errors: reading a POSTed message body, telling "not JSON" (-32700)
//! from "JSON, but not a JSON-RPC message" (-32600), and turning rmcp's plain-text 4xx/5xx
//! answers into JSON-RPC error bodies that carry no internals.

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use http_body::Body as _;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use rmcp::model::RequestId;
use serde::{Deserialize, de::IgnoredAny};

use super::errors;

/// The most of an rmcp error body we read: its texts are one line.
const MAX_ERROR_TEXT: usize = 4 * 1024;

/// The most of that text a client sees.
const MAX_ECHOED_CHARS: usize = 200;

/// A request body, in full, or the error response for one over `limit` or not delivered.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let mut body = Limited::new(body, limit);
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|err| unreadable(&*err, limit))?.into_data() else {
            continue; // trailers: not part of the message
        };
        // Most messages arrive in one frame, which is the whole body: no copy.
        if read.is_empty() && body.is_end_stream() {
            return Ok(data);
        }
        read.extend_from_slice(&data);
    }
    Ok(Bytes::from(read))
}

/// The answer to a body that could not be read: over `limit`, or not delivered.
fn unreadable(err: &(dyn std::error::Error + 'static), limit: usize) -> Response {
    if err.downcast_ref::<LengthLimitError>().is_some() {
        let message = format!("Request body larger than {limit} bytes");
        return errors::jsonrpc_error(StatusCode::PAYLOAD_TOO_LARGE, -32600, &message);
    }
    // The client went away or stalled (the accept loop turns the latter into 408).
    errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32600, "Request body could not be read")
}

/// `400` for a body that is not a JSON-RPC message: -32700 when it is not JSON at all, -32600
/// when it is JSON but not a request, notification or response (JSON-RPC 2.0 §5.1).
pub(crate) fn not_a_message(body: &[u8]) -> Response {
    if serde_json::from_slice::<IgnoredAny>(body).is_err() {
        return errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32700, "Parse error");
    }
    errors::jsonrpc_error(
        StatusCode::BAD_REQUEST,
        -32600,
        "Invalid Request: the body is not a JSON-RPC 2.0 message this server accepts",
    )
}

/// The id of `body` when it is one JSON-RPC request (a `method` and an `id`), read as rmcp
/// reads it (`7` and `7.0` are one id). `None` for a notification, a response, and anything
/// rmcp refuses anyway — a batch among them: rmcp 3.11 parses one message per POST, as the
/// 2025-06-18 spec and later ask, and answers an array `400`.
pub(crate) fn request_id(body: &[u8]) -> Option<RequestId> {
    #[derive(Deserialize)]
    struct Head {
        id: Option<RequestId>,
        method: Option<IgnoredAny>,
    }
    // A derived struct reads a JSON array as its fields in order: `[7, 0]` is no request.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let head: Head = serde_json::from_slice(body).ok()?;
    head.method.and(head.id)
}

/// rmcp answers some errors (405, 406, 415, a bad `MCP-Protocol-Version`, its own failures) with
/// a plain-text body and no content type. Those become JSON-RPC errors without an id, as the
/// MCP transport allows: a 4xx keeps rmcp's one-line reason, which is about the request; a 5xx
/// says only "Internal error", and rmcp's text (which names its internals) goes to the log.
/// Every other response passes through untouched.
pub(crate) async fn as_jsonrpc_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || has_content_type(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match Limited::new(body, MAX_ERROR_TEXT).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let (code, message) = if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), reason = %printable(&text), "rmcp failed a request");
        (-32603, "Internal error".to_owned())
    } else {
        let code = match status {
            StatusCode::NOT_FOUND => -32001,
            StatusCode::BAD_REQUEST => -32600,
            _ => -32000,
        };
        let reason = printable(&text);
        let fallback = status.canonical_reason().unwrap_or("Request refused");
        (code, if reason.is_empty() { fallback.to_owned() } else { reason })
    };
    let rewritten = errors::jsonrpc_error(status, code, &message);
    // rmcp's other headers (`Allow` on a 405) still hold; only the body and its type change.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, rewritten.into_body())
}

fn has_content_type(response: &Response) -> bool {
    response.headers().get(header::CONTENT_TYPE).is_some_and(|value| {
        let value = value.to_str().unwrap_or_default().to_ascii_lowercase();
        value.starts_with("application/json") || value.starts_with("text/event-stream")
    })
}

/// One line of printable ASCII, at most [`MAX_ECHOED_CHARS`] long.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' })
        .take(MAX_ECHOED_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;
    use serde_json::Value;

    use super::*;

    async fn json_of(response: Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_plain_text_server_error_names_no_internals() {
        let rmcp = (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Encounter an error when create session: channel closed at /src/session.rs:42",
        )
            .into_response();
        let response = as_jsonrpc_error(rmcp).await;
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = json_of(response).await;
        assert_eq!(
            body,
            serde_json::json!({"jsonrpc": "2.0", "error": {"code": -32603, "message": "Internal error"}, "id": null})
        );
    }

    #[tokio::test]
    async fn a_plain_text_client_error_keeps_its_headers_and_one_printable_line() {
        let mut rmcp =
            (StatusCode::METHOD_NOT_ALLOWED, "Method\nNot Allowed\u{202e}").into_response();
        rmcp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        rmcp.headers_mut().remove(header::CONTENT_TYPE);
        let response = as_jsonrpc_error(rmcp).await;
        assert_eq!(response.headers()[header::ALLOW], "POST");
        let body = json_of(response).await;
        assert_eq!(body["error"]["code"], -32000);
        assert_eq!(body["error"]["message"], "Method Not Allowed");
    }

    #[tokio::test]
    async fn json_and_success_pass_through() {
        let ok = (StatusCode::OK, "plain").into_response();
        assert_eq!(
            as_jsonrpc_error(ok).await.into_body().collect().await.unwrap().to_bytes(),
            "plain"
        );
        let json = errors::jsonrpc_error(StatusCode::BAD_REQUEST, -32602, "x");
        assert_eq!(json_of(as_jsonrpc_error(json).await).await["error"]["code"], -32602);
    }

    #[test]
    fn only_a_single_request_has_a_request_id() {
        let id = |body: &str| request_id(body.as_bytes());
        assert_eq!(id(r#"{"jsonrpc":"2.0","id":7.0,"method":"ping"}"#), Some(RequestId::Number(7)));
        assert_eq!(
            id(r#" {"method":"ping","id":"7","jsonrpc":"2.0"}"#),
            Some(RequestId::String("7".into()))
        );
        for other in [
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","id":7,"method":"ping"}]"#,
            "[7, 0]",
            "{bad",
        ] {
            assert_eq!(id(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn not_json_is_a_parse_error_and_other_json_an_invalid_request() {
        for (body, code) in
            [(&b"{bad"[..], -32700), (b"", -32700), (b"[]", -32600), (b"42", -32600)]
        {
            let response = not_a_message(body);
            assert_eq!(response.status(), 400);
            assert_eq!(json_of(response).await["error"]["code"], code, "{body:?}");
        }
    }
}
