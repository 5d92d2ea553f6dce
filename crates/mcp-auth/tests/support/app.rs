//! A wrapped [`TestServer`](super::server::TestServer) on 127.0.0.1:0, and clients for it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use mcp_auth::{JwtAuthProvider, WrapServerBuilder, WrappedServer, wrap_server};
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam},
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};

use super::{
    HS_SECRET, now,
    server::{Observed, TestServer},
    sign,
};

pub struct App {
    pub url: String,
    pub base: String,
    pub server: WrappedServer<TestServer>,
    pub observed: Observed,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.shutdown();
    }
}

/// The JWT provider every test app uses (HS256, no audience check).
pub fn jwt_provider() -> JwtAuthProvider {
    JwtAuthProvider::builder().secret(HS_SECRET).build().unwrap()
}

/// Serves `server` on 127.0.0.1:0 and returns its MCP URL; for servers built without [`App`].
pub async fn serve_on_loopback<H: rmcp::ServerHandler>(server: &WrappedServer<H>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    url
}

/// A `tools/list` POST with `token`, in the sessions era.
pub async fn post_tools_list(url: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await
        .unwrap()
}

/// A valid token for `user`.
pub fn token_for(user: &str) -> String {
    sign(Algorithm::HS256, "hs", None, &json!({ "sub": user, "exp": now() + 3600 }))
}

impl App {
    /// Serves the test server with JWT auth; `configure` may add a resolver, options…
    pub async fn start(
        configure: impl FnOnce(WrapServerBuilder<TestServer>) -> WrapServerBuilder<TestServer>,
    ) -> Self {
        let observed = Observed::default();
        let builder = wrap_server(observed.factory()).auth_provider(jwt_provider());
        let server = configure(builder).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let serving = server.clone();
        tokio::spawn(async move { serving.serve(listener).await.unwrap() });
        Self { url: format!("{base}/mcp"), base, server, observed }
    }

    /// An rmcp client over Streamable HTTP (legacy era, with a session) for `user`.
    pub async fn client(&self, user: &str) -> (Client, Recorder) {
        self.client_with_token(&token_for(user)).await
    }

    /// Opens a legacy HTTP+SSE session with `token`: its event stream, and the URL to POST its
    /// messages to (from the `endpoint` event).
    pub async fn legacy_sse(&self, token: &str) -> (SseReader, String) {
        let stream = reqwest::Client::new()
            .get(format!("{}/sse", self.url))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let mut events = SseReader::new(stream);
        let (event, endpoint) = events.next().await.unwrap();
        assert_eq!(event, "endpoint");
        (events, format!("{}{endpoint}", self.base))
    }

    pub async fn client_with_token(&self, token: &str) -> (Client, Recorder) {
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url.clone()).auth_header(token);
        let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
        let recorder = Recorder::default();
        let client = recorder.clone().serve(transport).await.expect("client handshake");
        (client, recorder)
    }
}

/// Records progress notifications.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

pub fn call_params(name: &'static str, args: Value) -> CallToolRequestParams {
    let params = CallToolRequestParams::new(name);
    match args {
        Value::Object(args) => params.with_arguments(args),
        _ => params,
    }
}

pub fn text_of(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|b| b.as_text()).map(|t| t.text.as_str()).collect()
}

/// Calls a tool and returns its text, failing the test on any error.
pub async fn call(client: &Client, name: &'static str, args: Value) -> String {
    let result = client.call_tool(call_params(name, args)).await.expect("tool call");
    assert_ne!(result.is_error, Some(true), "{name} failed: {result:?}");
    text_of(&result)
}

/// Polls until `done` holds, failing after five seconds.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The body of a 2026-07-28 stateless `tools/call`.
pub fn stateless_call(id: u64, tool: &str, args: Value, progress_token: Option<&str>) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    if let Some(token) = progress_token {
        meta["progressToken"] = json!(token);
    }
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": args, "_meta": meta } })
}

/// A raw stateless POST with the 2026-07-28 headers.
pub fn stateless_request(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    tool: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}

/// Reads SSE events (`event`, `data`) off a streaming response.
pub struct SseReader {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        Self { stream: Box::pin(response.bytes_stream()), buffer: String::new() }
    }

    /// The next event with data, as `(event name, data)`; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<(String, String)> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = "message".to_owned();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = name.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.trim_start().to_owned());
                    }
                }
                if !data.is_empty() && !data.iter().all(String::is_empty) {
                    return Some((event, data.join("\n")));
                }
                continue;
            }
            let chunk = self.stream.next().await?.ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

pub const ACCEPT: &str = "application/json, text/event-stream";

/// A legacy-era (2025-11-25) `initialize` POST with `token`, answered or refused.
pub async fn initialize(http: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    http.post(url).bearer_auth(token).header("accept", ACCEPT).json(&init).send().await.unwrap()
}

/// Opens a legacy-era (2025-11-25) session for `token`; returns its id.
pub async fn open_session(http: &reqwest::Client, url: &str, token: &str) -> String {
    let response = initialize(http, url, token).await;
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let _ = response.text().await;
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let response =
        in_session(http.post(url), token, &session).json(&initialized).send().await.unwrap();
    assert_eq!(response.status(), 202);
    session
}

/// `request` with `token`, in `session`.
pub fn in_session(
    request: reqwest::RequestBuilder,
    token: &str,
    session: &str,
) -> reqwest::RequestBuilder {
    request
        .bearer_auth(token)
        .header("accept", ACCEPT)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
}

/// `tools/call whoami` in `session`.
pub async fn whoami_in_session(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    session: &str,
) -> reqwest::Response {
    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}});
    in_session(http.post(url), token, session).json(&call).send().await.unwrap()
}
