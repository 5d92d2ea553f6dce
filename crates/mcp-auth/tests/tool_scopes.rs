//! Per-tool scopes on every HTTP transport: a call without the tool's scopes gets the `403
//! insufficient_scope` challenge before the server sees it, and `tools/list` leaves the tool out
//! for that caller (unless `show_all_tools`).

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::ProtectedResource;
use serde_json::{Value, json};
use support::{
    app::{App, in_session, open_session},
    now, sign,
};

/// `echo` needs `mcp:echo` on top of the server's `mcp:tools`.
async fn app(show_all: bool) -> App {
    App::start(|b| {
        b.protected_resource(ProtectedResource::new("https://auth.example.com"))
            .required_scopes(["mcp:tools"])
            .tool_scopes("echo", ["mcp:echo"])
            .show_all_tools(show_all)
    })
    .await
}

fn token(scope: &str) -> String {
    sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({ "sub": "alice", "exp": now() + 3600, "scope": scope }),
    )
}

/// What a 2026-07-28 request carries in `_meta` (ignored in the session era).
fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

/// `tools/call echo`; `stateless`: with the 2026-07-28 `_meta`.
fn echo_call(stateless: bool) -> Value {
    let mut params = json!({ "name": "echo", "arguments": { "text": "hi" } });
    if stateless {
        params["_meta"] = meta();
    }
    json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params })
}

/// `tools/list`; `stateless`: with the 2026-07-28 `_meta`.
fn tools_list(stateless: bool) -> Value {
    let params = if stateless { json!({ "_meta": meta() }) } else { json!({}) };
    json!({ "jsonrpc": "2.0", "id": "list-1", "method": "tools/list", "params": params })
}

/// The tool names of a `tools/list` answer.
fn names(answer: &Value) -> Vec<String> {
    let tools = answer["result"]["tools"].as_array().expect("a tools/list answer");
    let mut names: Vec<String> =
        tools.iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// The JSON-RPC message of a response body: plain JSON, or the data of its SSE event that
/// carries an `id`.
fn message_of(content_type: &str, body: &str) -> Value {
    if content_type.starts_with("application/json") {
        return serde_json::from_str(body).unwrap();
    }
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event.lines().filter_map(|l| l.strip_prefix("data:")).collect();
            serde_json::from_str::<Value>(data.join("\n").trim()).ok()
        })
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no answer in {body}"))
}

async fn stateless(app: &App, token: &str, body: &Value, method: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(&app.url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .json(body);
    if let Some(name) = body["params"]["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    request.send().await.unwrap()
}

async fn answer(response: reqwest::Response) -> Value {
    let status = response.status();
    if status != 200 {
        panic!("{status}: {}", response.text().await.unwrap());
    }
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    message_of(&content_type, &response.text().await.unwrap())
}

/// The test server's tools, sorted.
const ALL: [&str; 10] = [
    "credential",
    "echo",
    "extras",
    "hold",
    "log",
    "notes_add",
    "notes_list",
    "reachable",
    "slow",
    "whoami",
];

/// [`ALL`] without `left_out` (`""`: all of them).
fn all_but(left_out: &str) -> Vec<String> {
    ALL.iter().filter(|n| **n != left_out).map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn stateless_calls_need_the_tool_scope_and_lists_hide_what_cannot_be_called() {
    let app = app(false).await;
    let base_only = token("mcp:tools");
    let response = stateless(&app, &base_only, &echo_call(true), "tools/call").await;
    assert_eq!(response.status(), 403);
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:echo", error_description="the token lacks the scope(s): mcp:echo", resource_metadata="{metadata_url}""#
        )
    );

    let listed = answer(stateless(&app, &base_only, &tools_list(true), "tools/list").await).await;
    assert_eq!(names(&listed), all_but("echo"));

    let both = token("mcp:tools mcp:echo");
    let called = answer(stateless(&app, &both, &echo_call(true), "tools/call").await).await;
    assert_eq!(called["result"]["content"][0]["text"], "hi");
    let listed = answer(stateless(&app, &both, &tools_list(true), "tools/list").await).await;
    assert_eq!(names(&listed), all_but(""));
}

#[tokio::test]
async fn session_calls_and_lists_follow_the_same_rules() {
    let app = app(false).await;
    let http = reqwest::Client::new();
    let base_only = token("mcp:tools");
    let session = open_session(&http, &app.url, &base_only).await;
    let post =
        |body: Value| in_session(http.post(&app.url), &base_only, &session).json(&body).send();

    let refused = post(echo_call(false)).await.unwrap();
    assert_eq!(refused.status(), 403);
    let listed = answer(post(tools_list(false)).await.unwrap()).await;
    assert_eq!(names(&listed), all_but("echo"));
}

#[tokio::test]
async fn shown_tools_are_listed_but_still_refused() {
    let app = app(true).await;
    let base_only = token("mcp:tools");
    let listed = answer(stateless(&app, &base_only, &tools_list(true), "tools/list").await).await;
    assert_eq!(names(&listed), all_but(""));
    let response = stateless(&app, &base_only, &echo_call(true), "tools/call").await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn legacy_sse_posts_are_refused_and_their_list_answers_filtered() {
    let app = app(false).await;
    let base_only = token("mcp:tools");
    let (mut events, endpoint) = app.legacy_sse(&base_only).await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).bearer_auth(&base_only).json(&body).send();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    events.next().await.expect("the initialize answer");
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(post(initialized).await.unwrap().status(), 202);

    let refused = post(echo_call(false)).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(post(tools_list(false)).await.unwrap().status(), 202);
    let (_, data) = events.next().await.expect("the tools/list answer");
    let listed: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(listed["id"], "list-1");
    assert_eq!(names(&listed), all_but("echo"));
}
