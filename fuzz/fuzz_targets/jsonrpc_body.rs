//! Hostile JSON-RPC bodies, POSTed with a valid token through the real router of a
//! `wrap_server`-wrapped rmcp server.
//!
//! The first byte chooses the framing, the rest is the body:
//! - bit 0: era — 0 the sessions era (`Mcp-Protocol-Version` 2025-03-26/06-18/11-25 by bits
//!   4–5), 1 the stateless era (2026-07-28);
//! - bit 1: sessions era: send `alice`'s live `Mcp-Session-Id`; stateless era: send
//!   `Mcp-Method`/`Mcp-Name` taken from the body (SEP-2243), so header validation passes and
//!   the request reaches the server;
//! - bit 2: path `/mcp/message` (the original's alias) instead of `/mcp`;
//! - bit 3: `Content-Type: application/json; charset=utf-8` instead of plain;
//! - bit 6: `Accept: application/json` only, instead of JSON and SSE.
//!
//! Checks: no panic, no hang; a status from the known set; a non-2xx answer with a JSON content
//! type has a JSON body; every SSE `data:` is JSON.
#![no_main]

use axum::{
    body::Body,
    http::{HeaderValue, Method, StatusCode, header},
};
use libfuzzer_sys::fuzz_target;
use mcp_auth_fuzz::{
    LEGACY_VERSIONS, STATELESS_VERSION, assert_known_status, assert_well_formed_body,
    close_session, forget_session, live_session, mcp_request, send,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let stateless = flags & 1 != 0;
    let path = if flags & 4 != 0 { "/mcp/message" } else { "/mcp" };
    let version = if stateless {
        STATELESS_VERSION
    } else {
        LEGACY_VERSIONS[usize::from((flags >> 4) & 3) % LEGACY_VERSIONS.len()]
    };
    let mut request = mcp_request(Method::POST, path, version);
    let headers = request.headers_mut().expect("valid request parts");
    if flags & 8 != 0 {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if flags & 64 != 0 {
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    }
    let mut session = None;
    if flags & 2 != 0 {
        if stateless {
            add_sep2243_headers(headers, body);
        } else {
            let id = live_session();
            headers.insert("mcp-session-id", HeaderValue::from_str(&id).expect("uuid header"));
            session = Some(id);
        }
    }
    let request = request.body(Body::from(body.to_vec())).expect("valid request");
    let reply = send(request);
    let what = format!("POST {path} ({version}, flags {flags:#04x})");
    assert_known_status(&reply, &what);
    assert_well_formed_body(&reply, &what);

    if let Some(id) = reply.session_id() {
        close_session(&id);
    }
    if let Some(id) = session
        && reply.status == StatusCode::NOT_FOUND
    {
        forget_session(&id);
    }
});

/// `Mcp-Method` and `Mcp-Name` as the body implies them, where the values fit in a header.
fn add_sep2243_headers(headers: &mut axum::http::HeaderMap, body: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(method) {
        headers.insert("mcp-method", value);
    }
    let params = message.get("params");
    let name = params.and_then(|p| p.get("name").or_else(|| p.get("uri"))).and_then(Value::as_str);
    if let Some(Ok(value)) = name.map(HeaderValue::from_str) {
        headers.insert("mcp-name", value);
    }
}
