//! Every HTTP error an MCP route answers is a JSON-RPC error with a JSON content type: a body
//! that is not JSON gets -32700, JSON that is not JSON-RPC gets -32600 (JSON-RPC 2.0 §5.1), and
//! rmcp's own plain-text refusals (405, 406, 415, a bad protocol version) are rewritten the same
//! way, on both Streamable HTTP eras and on legacy SSE.

mod support;

use serde_json::{Value, json};
use support::app::*;

const BOTH: &str = "application/json, text/event-stream";

/// The status, and the JSON-RPC error of a response, after checking it is one.
async fn jsonrpc_error_of(response: reqwest::Response) -> (u16, i64, String) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    let text = response.text().await.unwrap();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{status}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert_eq!(body["id"], Value::Null, "{body}");
    let code = body["error"]["code"].as_i64().unwrap_or_else(|| panic!("{body}"));
    (status, code, body["error"]["message"].as_str().unwrap().to_owned())
}

/// Bodies rmcp cannot take, and the code each must get.
const BODIES: [(&str, i64); 6] = [
    ("{bad json", -32700),
    ("", -32700),
    ("[]", -32600),
    (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
    (r#"{"hello":"world"}"#, -32600),
    ("42", -32600),
];

#[tokio::test]
async fn a_body_that_is_not_json_rpc_gets_400_with_the_right_code_in_both_eras() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let token = token_for("alice");
    for era in [None, Some("2026-07-28")] {
        for (body, code) in BODIES {
            let mut request = http
                .post(&app.url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", BOTH)
                .body(body);
            if let Some(version) = era {
                request = request.header("mcp-protocol-version", version);
            }
            let (status, got, _) = jsonrpc_error_of(request.send().await.unwrap()).await;
            assert_eq!((status, got), (400, code), "{era:?} {body}");
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_rpc_gets_400_with_the_right_code_on_legacy_sse() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let token = token_for("alice");
    let (_events, post_url) = app.legacy_sse(&token).await;
    for (body, code) in BODIES {
        let request = http.post(&post_url).bearer_auth(&token).body(body);
        let request = request.header("content-type", "application/json");
        let (status, got, _) = jsonrpc_error_of(request.send().await.unwrap()).await;
        assert_eq!((status, got), (400, code), "{body}");
    }
}

#[tokio::test]
async fn rmcps_plain_text_refusals_become_json_rpc_errors() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let token = token_for("alice");
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let post = || http.post(&app.url).bearer_auth(&token);

    let put = http.put(&app.url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(put.headers()["allow"], "GET, POST, DELETE", "rmcp's Allow header is kept");
    assert_eq!(jsonrpc_error_of(put).await, (405, -32000, "Method Not Allowed".into()));

    let wrong_type = post().header("content-type", "text/plain").header("accept", BOTH);
    let (status, code, message) =
        jsonrpc_error_of(wrong_type.body("{}").send().await.unwrap()).await;
    assert_eq!((status, code), (415, -32000));
    assert!(message.contains("Content-Type must be application/json"), "{message}");

    let json_only = post().header("accept", "application/json").json(&init);
    let (status, code, message) = jsonrpc_error_of(json_only.send().await.unwrap()).await;
    assert_eq!((status, code), (406, -32000));
    assert!(message.starts_with("Not Acceptable"), "{message}");

    let bad_version = post().header("accept", BOTH).header("mcp-protocol-version", "1999-01-01");
    let (status, code, message) =
        jsonrpc_error_of(bad_version.json(&init).send().await.unwrap()).await;
    assert_eq!((status, code), (400, -32600));
    assert!(message.contains("Unsupported MCP-Protocol-Version"), "{message}");

    let too_big = post().header("content-type", "application/json").header("accept", BOTH);
    let too_big = too_big.body(vec![b' '; 5 * 1024 * 1024]).send().await.unwrap();
    let (status, code, _) = jsonrpc_error_of(too_big).await;
    assert_eq!((status, code), (413, -32600));
}
