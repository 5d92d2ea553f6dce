//! The gateway's fast path to an http upstream that speaks 2026-07-28: a stateless request is
//! forwarded as it came (its body byte for byte, its routing headers), with the user's
//! templated headers and nothing else of the caller's, and the answer streams back — progress
//! under the caller's own token, a stalled upstream cut at the request timeout with a JSON-RPC
//! error, a failing one reported without its internals. An upstream of the session era only is
//! still served, through the proxy.

mod support;

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::{Value, json};
use support::{
    gateway::{Gateway, SECRET, answer_text, token_embedding},
    upstream::{Upstream, assert_none_leaked, calls_holding, config},
};

/// A 2026-07-28 `tools/call` exactly as a client might write it: its own spacing, its own
/// request id and progress token, and a `_meta` key of its own.
fn raw_call(tool: &str, arguments: &str, progress_token: &str) -> String {
    format!(
        r#"{{ "jsonrpc": "2.0", "id": "call-7", "method": "tools/call",
            "params": {{ "name": "{tool}", "arguments": {arguments},
              "_meta": {{ "progressToken": "{progress_token}", "example.com/trace": "t-1",
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {{ "name": "raw", "version": "1" }},
                "io.modelcontextprotocol/clientCapabilities": {{}} }} }} }}"#
    )
}

fn post(gateway: &Gateway, jwt: &str, tool: &str, body: String) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(jwt)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body)
}

/// The messages of an SSE answer (or the one message of a JSON answer), in order.
fn messages(body: &str) -> Vec<Value> {
    std::iter::once(body.trim())
        .chain(body.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim))
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

/// An `echo` call through the fast path that must come back as `text` (and, the first time,
/// teaches the gateway that the upstream speaks 2026-07-28).
async fn echo_through(gateway: &Gateway, jwt: &str, text: &str) {
    let body = raw_call("echo", &format!(r#"{{ "text": "{text}" }}"#), "t");
    let response = post(gateway, jwt, "echo", body).send().await.unwrap();
    assert_eq!(answer_text(&the_answer(&response.text().await.unwrap())), text);
}

fn the_answer(body: &str) -> Value {
    messages(body)
        .into_iter()
        .find(|m| m["id"] == "call-7")
        .unwrap_or_else(|| panic!("no answer to call-7 in: {body}"))
}

#[tokio::test]
async fn a_stateless_request_reaches_the_upstream_as_it_came_with_only_the_users_headers() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "ivy", "ivy-upstream-credential");
    let body = raw_call("echo", r#"{ "text": "as it came" }"#, "caller-token-7");
    let response = post(&gateway, &jwt, "echo", body.clone())
        .header("mcp-param-region", "eu-west")
        .header("mcp-session-id", "a-session-the-gateway-never-made")
        .header("cookie", "session=cookie-value-the-upstream-must-not-see")
        .header("x-forwarded-secret", "header-the-upstream-must-not-see")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(answer_text(&the_answer(&response.text().await.unwrap())), "as it came");

    let seen = upstream.seen();
    let calls = calls_holding(&seen, "as it came");
    assert_eq!(calls.len(), 1, "{seen:?}");
    let call = calls[0];
    // Byte for byte: nothing parsed and written again, the caller's token and `_meta` kept.
    assert_eq!(call.body, body);
    assert_eq!(call.values("authorization"), ["Bearer ivy-upstream-credential"]);
    assert_eq!(call.values("x-user"), ["ivy"]);
    assert_eq!(call.values("mcp-method"), ["tools/call"]);
    assert_eq!(call.values("mcp-name"), ["echo"]);
    assert_eq!(call.values("mcp-param-region"), ["eu-west"]);
    assert_eq!(call.values("mcp-protocol-version"), ["2026-07-28"]);
    assert!(call.values("mcp-session-id").is_empty(), "{call:?}");
    assert_none_leaked(&seen, &[&jwt, "cookie-value", "x-forwarded-secret", SECRET]);
    // No upstream session was opened for it: the upstream was asked what it speaks, once.
    assert!(!seen.iter().any(|r| r.body.contains("\"initialize\"")), "{seen:?}");
    let probes = seen.iter().filter(|r| r.body.contains("\"server/discover\"")).count();
    assert_eq!(probes, 1, "{seen:?}");

    // The second request goes straight through: no second probe.
    let again = post(&gateway, &jwt, "echo", raw_call("echo", r#"{ "text": "again" }"#, "t-8"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer_text(&the_answer(&again.text().await.unwrap())), "again");
    let probes = upstream.seen().iter().filter(|r| r.body.contains("server/discover")).count();
    assert_eq!(probes, 1);
}

#[tokio::test]
async fn progress_reaches_the_caller_under_its_own_token_on_the_answers_stream() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "jack", "jack-upstream-credential");
    let body = raw_call("slow", r#"{ "steps": 3, "delay_ms": 10 }"#, "jacks-own-token");
    let response = post(&gateway, &jwt, "slow", body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let messages = messages(&response.text().await.unwrap());
    let progress: Vec<_> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| (m["params"]["progressToken"].clone(), m["params"]["progress"].clone()))
        .collect();
    assert_eq!(
        progress,
        [
            (json!("jacks-own-token"), json!(1.0)),
            ("jacks-own-token".into(), 2.0.into()),
            ("jacks-own-token".into(), 3.0.into())
        ]
    );
    assert_eq!(messages.last().unwrap()["id"], "call-7", "the answer comes last");
}

#[tokio::test]
async fn a_stalled_upstream_is_cut_at_the_request_timeout_with_the_callers_id() {
    let upstream = Upstream::start().await;
    let config =
        format!("{}\n[servers.instances]\nrequest_timeout = \"1s\"\n", config(&upstream.url));
    let gateway = Gateway::start(&config).await;
    let jwt = token_embedding(&gateway, "kate", "kate-upstream-credential");
    let body = raw_call("slow", r#"{ "steps": 1, "delay_ms": 60000 }"#, "kates-token");
    let response = tokio::time::timeout(Duration::from_secs(20), async {
        post(&gateway, &jwt, "slow", body).send().await.unwrap().text().await
    })
    .await
    .expect("an answer within the timeout, not a hang")
    .unwrap();
    assert_eq!(
        the_answer(&response)["error"],
        json!({ "code": -32001, "message": "the upstream server did not answer within 1s" })
    );
}

#[tokio::test]
async fn an_upstream_failing_after_it_was_reached_is_reported_without_its_internals() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "liam", "liam-upstream-credential");
    echo_through(&gateway, &jwt, "up").await;

    upstream.down.store(true, Ordering::SeqCst);
    let failed = post(&gateway, &jwt, "echo", raw_call("echo", r#"{ "text": "down" }"#, "t"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);
    assert_eq!(failed.headers()["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&failed.text().await.unwrap()).unwrap(),
        json!({ "jsonrpc": "2.0", "id": "call-7",
                "error": { "code": -32603, "message": "the upstream server failed (HTTP 502)" } })
    );
}

#[tokio::test]
async fn an_upstream_of_the_session_era_only_is_still_served_through_the_proxy() {
    let upstream = Upstream::start().await;
    upstream.legacy_only.store(true, Ordering::SeqCst);
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "mia", "mia-upstream-credential");
    for text in ["first", "second"] {
        let body = raw_call("echo", &format!(r#"{{ "text": "{text}" }}"#), "t");
        let response = post(&gateway, &jwt, "echo", body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(answer_text(&the_answer(&response.text().await.unwrap())), text);
    }
    let seen = upstream.seen();
    // Asked once what it speaks; then one session, opened with `initialize`, for both calls.
    let probes = seen.iter().filter(|r| r.body.contains("\"server/discover\"")).count();
    assert_eq!(probes, 1, "{seen:?}");
    let initializes = seen.iter().filter(|r| r.body.contains("\"initialize\"")).count();
    assert_eq!(initializes, 1, "{seen:?}");
    assert_eq!(calls_holding(&seen, "second").len(), 1, "{seen:?}");
}

#[tokio::test]
async fn a_credential_the_upstream_refuses_is_the_callers_json_rpc_error_not_a_challenge() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    // Someone's call teaches the gateway that the upstream speaks 2026-07-28.
    let nina = token_embedding(&gateway, "nina", "nina-upstream-credential");
    echo_through(&gateway, &nina, "hi").await;

    // The upstream answers this user's credential 401 with its own challenge: the caller's
    // JWT is fine, so it must not see a 401 or the upstream's `WWW-Authenticate`.
    let oscar = token_embedding(&gateway, "oscar", "revoked-credential");
    let refused = post(&gateway, &oscar, "echo", raw_call("echo", r#"{ "text": "no" }"#, "t"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200);
    assert!(refused.headers().get("www-authenticate").is_none());
    let body = refused.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "jsonrpc": "2.0", "id": "call-7", "error": { "code": -32603,
                "message": "the upstream server refused this user's credential (HTTP 401)" } })
    );
}

#[tokio::test]
async fn an_error_page_in_front_of_the_upstream_never_reaches_the_caller() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "pia", "pia-upstream-credential");
    echo_through(&gateway, &jwt, "up").await;

    for (status, message) in [
        (404, "the upstream server answered HTTP 404, not MCP"),
        (302, "the upstream server answered HTTP 302, not MCP"),
        (503, "the upstream server failed (HTTP 503)"),
    ] {
        upstream.html_status.store(status, Ordering::SeqCst);
        let failed = post(&gateway, &jwt, "echo", raw_call("echo", r#"{ "text": "x" }"#, "t"))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 200, "upstream status {status}");
        assert_eq!(failed.headers()["content-type"], "application/json");
        let body = failed.text().await.unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({ "jsonrpc": "2.0", "id": "call-7",
                    "error": { "code": -32603, "message": message } }),
        );
    }
}
