//! Hostile request headers through the real router of a `wrap_server`-wrapped rmcp server, and
//! `RequestContext::bearer_token` on the same headers.
//!
//! The input is lines (`\n`; no header value can hold one). Line 0 is three control bytes:
//! method, path, canned body. Lines 1–7 are the values of `Authorization`, `Host`, `Origin`,
//! `Mcp-Session-Id`, `Mcp-Protocol-Version`, `Accept` and `Content-Type`, as raw bytes. A line
//! that is a single NUL byte (or a missing line) leaves the header out; `\x01` splits a line into
//! several headers of that name. `$TOKEN` becomes a valid token for `alice` and `$SESSION` her
//! live session id, so mutations start from authenticated requests too.
//!
//! Checks: no panic, no hang; a status from the known set; a JSON error body that parses; and
//! on `POST /mcp` from an allowed host without `Origin`, a header `bearer_token` refuses gets
//! exactly 401.
#![no_main]

use axum::{
    body::Body,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header},
};
use libfuzzer_sys::fuzz_target;
use mcp_auth::{RequestContext, auth::TransportKind};
use mcp_auth_fuzz::{
    alice_token, assert_known_status, assert_well_formed_body, close_session, forget_session,
    initialize_body, live_session, send,
};
use serde_json::json;

const METHODS: [&str; 7] = ["GET", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "HEAD"];
const PATHS: [&str; 9] = [
    "/mcp",
    "/mcp/",
    "/mcp/message",
    "/mcp/sse",
    "/mcp/messages?sessionId=$SESSION",
    "/mcp/messages",
    "/mcp/health",
    "/",
    "/mcp?x=1",
];
const HEADERS: [&str; 7] = [
    "authorization",
    "host",
    "origin",
    "mcp-session-id",
    "mcp-protocol-version",
    "accept",
    "content-type",
];

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let control = lines.next().unwrap_or_default();
    let pick = |i: usize, n: usize| usize::from(control.get(i).copied().unwrap_or(0)) % n;
    let method = Method::from_bytes(METHODS[pick(0, METHODS.len())].as_bytes()).unwrap();
    let mut session = None;
    let mut path = PATHS[pick(1, PATHS.len())].to_owned();
    if path.contains("$SESSION") {
        path = path.replace("$SESSION", &session_for(&mut session));
    }

    let mut headers = HeaderMap::new();
    for name in HEADERS {
        let line = lines.next().unwrap_or(b"\0");
        if line == b"\0" {
            continue;
        }
        for value in line.split(|&b| b == 1) {
            let value = substitute(value, &mut session);
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
    }

    let bearer = RequestContext::new(TransportKind::StreamableHttp, &headers).bearer_token();
    if let Ok(token) = bearer {
        assert!(!token.is_empty() && !token.contains(' '), "bearer_token returned {token:?}");
        let raw = headers.get(header::AUTHORIZATION).expect("a token without a header");
        let raw = raw.to_str().expect("a token from a non-text header");
        assert!(raw.ends_with(token), "the token is not the end of the header");
    }

    let body = canned_body(pick(2, 5));
    let mut request = Request::builder().method(method.clone()).uri(&path);
    *request.headers_mut().expect("valid request parts") = headers.clone();
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    let reply = send(request);
    let what = format!("{method} {path}");
    assert_known_status(&reply, &what);
    assert_well_formed_body(&reply, &what);

    let from_allowed_host = headers.get_all(header::HOST).iter().count() == 1
        && headers.get(header::HOST).is_some_and(|h| {
            let h = h.as_bytes().to_ascii_lowercase();
            // A port may be empty (RFC 3986 §3.2.3: the default one) or 1–5 digits that fit
            // a u16; `localhost:88080` names no port of this server and gets 400.
            h == b"localhost"
                || h.strip_prefix(b"localhost:").is_some_and(|port| {
                    port.is_empty()
                        || (port.len() <= 5
                            && port.iter().all(u8::is_ascii_digit)
                            && std::str::from_utf8(port).is_ok_and(|p| p.parse::<u16>().is_ok()))
                })
        });
    if method == Method::POST
        && path == "/mcp"
        && from_allowed_host
        && !headers.contains_key(header::ORIGIN)
        && bearer.is_err()
    {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what} without a usable bearer token");
    }

    // Keep the server's session table from growing with the run.
    if let Some(id) = reply.session_id() {
        close_session(&id);
    }
    if let Some(id) = session {
        let deleted = method == Method::DELETE && reply.status.is_success();
        if deleted || reply.status == StatusCode::NOT_FOUND {
            forget_session(&id);
        }
    }
});

/// `$TOKEN` and `$SESSION` replaced by the real thing.
fn substitute(value: &[u8], session: &mut Option<String>) -> Vec<u8> {
    let mut out = value.to_vec();
    if let Some(at) = find(&out, b"$TOKEN") {
        out.splice(at..at + 6, alice_token().bytes());
    }
    if let Some(at) = find(&out, b"$SESSION") {
        let id = session_for(session);
        out.splice(at..at + 8, id.into_bytes());
    }
    out
}

fn session_for(session: &mut Option<String>) -> String {
    session.get_or_insert_with(live_session).clone()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn canned_body(i: usize) -> Vec<u8> {
    let body = match i {
        0 => initialize_body("2025-11-25"),
        1 => json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "whoami", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}}}),
        2 => json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        3 => return Vec::new(),
        _ => return b"{".to_vec(),
    };
    serde_json::to_vec(&body).expect("serialize")
}
