//! The caller's credentials never reach the wrapped server: `Authorization`, `Cookie`,
//! `Proxy-Authorization` and the provider's own credential headers are removed before rmcp
//! hands the request to a handler, on every transport (issue 9, bug 1; MCP authorization spec,
//! "Token Passthrough").

mod support;

use mcp_auth::{AuthError, AuthProvider, Principal, auth::RequestContext};
use serde_json::{Value, json};
use support::app::*;

const COOKIE: &str = "session=cookie-secret-4711";

/// Reads the `reachable` tool's text out of a JSON or SSE-framed JSON-RPC response.
fn tool_text(body: &str) -> String {
    let json = body
        .lines()
        .find_map(|l| l.strip_prefix("data:").map(str::trim).filter(|d| d.starts_with('{')))
        .unwrap_or(body);
    let value: Value = serde_json::from_str(json).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["result"]["content"][0]["text"].as_str().unwrap_or_else(|| panic!("{value}")).to_owned()
}

fn assert_clean(dump: &str, secrets: &[&str]) {
    assert!(dump.starts_with("POST "), "the tool saw no request: {dump}");
    for secret in secrets {
        assert!(!dump.contains(secret), "a handler could read {secret:?}:\n{dump}");
    }
    for name in ["authorization", "cookie", "x-api-key"] {
        assert!(!dump.to_ascii_lowercase().contains(&format!("{name}:")), "{name} in:\n{dump}");
    }
}

#[tokio::test]
async fn a_handler_finds_no_token_over_streamable_http_in_either_era() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let http = reqwest::Client::new();

    // 2026-07-28, stateless.
    let body = stateless_call(1, "reachable", json!({}), None);
    let response = stateless_request(&http, &app.url, Some(&token), "reachable", &body)
        .header("cookie", COOKIE)
        .header("proxy-authorization", "Basic cHJveHk6c2VjcmV0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let dump = tool_text(&response.text().await.unwrap());
    assert_clean(&dump, &[&token, COOKIE, "cHJveHk6c2VjcmV0"]);
    assert!(dump.contains("mcp-protocol-version: 2026-07-28"), "{dump}");
    assert!(dump.contains("principal:"), "the identity still reaches the handler: {dump}");

    // 2025-11-25, in a session opened by the rmcp client.
    let (client, _) = app.client_with_token(&token).await;
    let dump = call(&client, "reachable", json!({})).await;
    assert_clean(&dump, &[&token]);
    assert!(dump.contains("mcp-session-id:"), "{dump}");
}

#[tokio::test]
async fn a_handler_finds_no_token_over_legacy_sse() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let http = reqwest::Client::new();
    let (mut events, post_url) = app.legacy_sse(&token).await;
    let post = |message: Value| {
        http.post(&post_url).bearer_auth(&token).header("cookie", COOKIE).json(&message).send()
    };
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    events.next().await.unwrap();
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(post(initialized).await.unwrap().status(), 202);
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"reachable","arguments":{}}});
    assert_eq!(post(call).await.unwrap().status(), 202);
    let (_, data) = events.next().await.unwrap();
    let dump = tool_text(&data);
    assert_clean(&dump, &[&token, COOKIE]);
}

/// An API-key provider that declares its header, delegating identity to a fixed user.
struct ApiKeyProvider;

#[async_trait::async_trait]
impl AuthProvider for ApiKeyProvider {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        match ctx.header("x-api-key") {
            Some("key-alice-0815") => Principal::new("alice"),
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    fn credential_headers(&self) -> Vec<http::HeaderName> {
        vec![http::HeaderName::from_static("x-api-key")]
    }
}

#[tokio::test]
async fn a_providers_own_credential_header_is_stripped_too() {
    let app = App::start(|b| b.auth_provider(ApiKeyProvider)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "reachable", json!({}), None);
    let response = stateless_request(&http, &app.url, None, "reachable", &body)
        .header("x-api-key", "key-alice-0815")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let dump = tool_text(&response.text().await.unwrap());
    assert_clean(&dump, &["key-alice-0815"]);
}
