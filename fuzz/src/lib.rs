//! What the mcp-auth fuzz targets share: one current-thread tokio runtime, the HS256 key the
//! harness signs with, and a small rmcp server behind `wrap_server` whose real axum router is
//! driven in-process (`tower::ServiceExt::oneshot`, no socket).
//!
//! Only mcp-auth's public API is used, so the targets exercise what a deployment exercises:
//! `Host`/`Origin` guard → CORS → authentication → instance → rmcp's Streamable HTTP service.

use std::{
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use mcp_auth::{
    Environment, JwtAuthProvider, WrappedServer,
    http::{AllowedHosts, HttpOptions},
    middleware::RateLimitConfig,
    wrap_server,
};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The HS256 secret every target's provider verifies with (and the harness signs with).
pub const SECRET: &str = "fuzz-secret-that-is-at-least-32-bytes-long";

/// The statuses mcp-auth and rmcp may answer with (docs/conventions: 400/401/403/404/405/406/
/// 413/415/429/503, plus the 2xx of a served request). Anything else — a 500 above all — is a
/// finding.
pub const KNOWN_STATUSES: [u16; 12] = [200, 202, 400, 401, 403, 404, 405, 406, 413, 415, 429, 503];

/// The legacy-era protocol versions the targets send (the sessions era of Streamable HTTP).
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];

/// The stateless era: no sessions, `Mcp-Method`/`Mcp-Name` headers (SEP-2243).
pub const STATELESS_VERSION: &str = "2026-07-28";

/// The browser origin the router allows (so CORS and the `Origin` check both have work to do).
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// A request that takes longer than this is reported as a hang (a panic, so libFuzzer keeps the
/// input). Generous: the machine is shared and every answer here is in-process.
const DEADLINE: Duration = Duration::from_secs(10);

/// Largest response body read back; the server's own bodies are far smaller.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The runtime every target runs on, created once. Current-thread: libFuzzer calls the target
/// from one thread, and spawned tasks (rmcp session workers) make progress inside `block_on`.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs arbitrary header and payload bytes with [`SECRET`] (HS256): the result has a valid
/// signature whatever the bytes are, so the verifier gets past the signature check and parses
/// them as claims.
pub fn sign_raw(header: &[u8], payload: &[u8]) -> String {
    static KEY: OnceLock<EncodingKey> = OnceLock::new();
    let key = KEY.get_or_init(|| EncodingKey::from_secret(SECRET.as_bytes()));
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), key, Algorithm::HS256).expect("HMAC sign");
    format!("{message}.{signature}")
}

/// Signs `payload` under a plain `{"alg":"HS256","typ":"JWT"}` header.
pub fn sign_payload(payload: &[u8]) -> String {
    sign_raw(br#"{"alg":"HS256","typ":"JWT"}"#, payload)
}

/// A token for `user` valid for a day.
pub fn valid_token(user: &str) -> String {
    let claims = json!({ "sub": user, "iat": now(), "exp": now() + 86_400 });
    sign_payload(&serde_json::to_vec(&claims).expect("claims serialize"))
}

/// The token the HTTP targets authenticate with (`$TOKEN` in their seeds), made once.
pub fn alice_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| valid_token("alice"))
}

/// The provider behind the HTTP targets: HS256 with [`SECRET`], development environment (so
/// `MCP_AUTH_ENV` of the shell running the fuzzer changes nothing).
pub fn jwt_provider() -> JwtAuthProvider {
    JwtAuthProvider::builder()
        .secret(SECRET)
        .environment(Environment::Development)
        .build()
        .expect("JWT provider")
}

/// The server behind the router: who am I, and echo.
#[derive(Clone)]
pub struct EchoServer {
    user: String,
    tool_router: ToolRouter<Self>,
}

/// Arguments of `echo`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    text: String,
}

#[tool_router]
impl EchoServer {
    fn new(user: String) -> Self {
        Self { user, tool_router: Self::tool_router() }
    }

    #[tool(description = "The user this instance was built for")]
    async fn whoami(&self) -> String {
        self.user.clone()
    }

    #[tool(description = "Echo")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The wrapped server and its router, built once (inside the runtime, which it spawns onto).
///
/// The per-user rate limit is off: every request comes from `alice`, and with the default limit
/// all but the first hundred would be refused with 429 before reaching anything else.
pub fn app() -> &'static Router {
    &APP.get_or_init(|| {
        let _enter = runtime().enter();
        let options = HttpOptions::default()
            .with_environment(Environment::Development)
            .with_cors_origins([ALLOWED_ORIGIN])
            .with_allowed_hosts(AllowedHosts::List(vec!["mcp.example.com".to_owned()]))
            .with_max_request_body_bytes(64 * 1024);
        let server = wrap_server(|_token, user, _extras| EchoServer::new(user))
            .auth_provider(jwt_provider())
            .rate_limit(RateLimitConfig::disabled())
            .http(options)
            .build()
            .expect("wrap_server");
        let router = server.router();
        (server, router)
    })
    .1
}

static APP: OnceLock<(WrappedServer<EchoServer>, Router)> = OnceLock::new();

/// With `FUZZ_STATS` set, prints every 5,000 requests how many tokio tasks are alive and what
/// the wrapped server holds: a number that keeps climbing is a leak (sessions, streams) that
/// the input's requests left behind.
fn note_request() {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("FUZZ_STATS").is_some()) {
        return;
    }
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if n.is_multiple_of(5_000) {
        let tasks = runtime().metrics().num_alive_tasks();
        let stats = runtime().block_on(APP.get().expect("app built").0.stats());
        eprintln!(
            "FUZZ_STATS requests={n} alive_tasks={tasks} instances={} created={} legacy_sse={}",
            stats.live, stats.created, stats.legacy_sse_sessions
        );
    }
}

/// A response, with its body read unless it is an open-ended event stream.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body; `None` for a `GET` answered with an event stream (it never ends by itself) and
    /// for a `HEAD`.
    pub body: Option<Bytes>,
}

impl Reply {
    /// The `Content-Type`, lower-cased, if it is text.
    pub fn content_type(&self) -> Option<String> {
        let value = self.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        Some(value.to_ascii_lowercase())
    }

    /// The session id the server assigned, if any.
    pub fn session_id(&self) -> Option<String> {
        Some(self.headers.get("mcp-session-id")?.to_str().ok()?.to_owned())
    }
}

/// Sends `request` through the router and reads the answer, panicking on a hang.
pub fn send(request: Request<Body>) -> Reply {
    let reply = runtime().block_on(send_async(request));
    note_request();
    reply
}

async fn send_async(request: Request<Body>) -> Reply {
    let method = request.method().clone();
    let response = tokio::time::timeout(DEADLINE, app().clone().oneshot(request))
        .await
        .expect("the router did not answer within 10 s")
        .expect("axum routers are infallible");
    let (parts, body) = response.into_parts();
    let streaming = method == Method::GET
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
    let body = if streaming || method == Method::HEAD {
        // Dropping the body closes the stream, as a client going away would. A HEAD answer has
        // the headers of a GET and no body (RFC 9110 §9.3.2).
        None
    } else {
        let read = axum::body::to_bytes(body, MAX_RESPONSE_BYTES);
        let bytes = tokio::time::timeout(DEADLINE, read)
            .await
            .expect("the response body did not end within 10 s");
        // A body that fails mid-stream is a transport error a client would see; keep what the
        // status says and report no body.
        bytes.ok()
    };
    Reply { status: parts.status, headers: parts.headers, body }
}

/// Panics unless the status is one of [`KNOWN_STATUSES`]. With `FUZZ_TRACE` set, prints each
/// answer first (to check what seeds reach: `FUZZ_TRACE=1 target -runs=0 corpus/target`).
pub fn assert_known_status(reply: &Reply, what: &str) {
    static TRACE: OnceLock<bool> = OnceLock::new();
    if *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some()) {
        let body = reply.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        let body: String =
            body.unwrap_or_else(|| "<stream>".to_owned()).chars().take(200).collect();
        eprintln!("{what} -> {} {body}", reply.status);
    }
    assert!(
        KNOWN_STATUSES.contains(&reply.status.as_u16()),
        "{what}: unexpected status {} (body {:?})",
        reply.status,
        reply.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
    );
}

/// Panics unless an error answered as JSON has a JSON body, and every `data:` of an event
/// stream is JSON.
pub fn assert_well_formed_body(reply: &Reply, what: &str) {
    let (Some(body), Some(content_type)) = (&reply.body, reply.content_type()) else {
        return;
    };
    if content_type.starts_with("application/json")
        && !reply.status.is_success()
        && let Err(error) = serde_json::from_slice::<Value>(body)
    {
        panic!(
            "{what}: {} with a JSON content type but an unparsable body ({error}): {:?}",
            reply.status,
            String::from_utf8_lossy(body)
        );
    }
    if content_type.starts_with("text/event-stream") {
        let text = String::from_utf8_lossy(body);
        for data in text.lines().filter_map(|l| l.strip_prefix("data:")) {
            let data = data.trim_start();
            if !data.is_empty()
                && let Err(error) = serde_json::from_str::<Value>(data)
            {
                panic!("{what}: SSE data is not JSON ({error}): {data:?}");
            }
        }
    }
}

/// A request to `path` with the headers a well-behaved client sends for `version`.
pub fn mcp_request(method: Method, path: &str, version: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:8080")
        .header(header::AUTHORIZATION, format!("Bearer {}", alice_token()))
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::CONTENT_TYPE, "application/json")
        .header("mcp-protocol-version", version)
}

/// The `initialize` request of the legacy era.
pub fn initialize_body(version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "fuzz", "version": "1"}}})
}

/// The live legacy-era session of `alice` (`$SESSION` in seeds), opened on first use.
pub fn live_session() -> String {
    let mut session = LIVE_SESSION.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = session.as_ref() {
        return id.clone();
    }
    let id = open_session();
    *session = Some(id.clone());
    id
}

/// Forgets the live session when an answer suggests the server dropped it (a 404, a DELETE),
/// and closes it in case it did not: the next use opens another.
pub fn forget_session(id: &str) {
    let mut session = LIVE_SESSION.lock().unwrap_or_else(|e| e.into_inner());
    if session.as_deref() == Some(id) {
        *session = None;
        drop(session);
        close_session(id);
    }
}

static LIVE_SESSION: Mutex<Option<String>> = Mutex::new(None);

/// `initialize` + `notifications/initialized`, as a client does.
fn open_session() -> String {
    let version = LEGACY_VERSIONS[2];
    let init = serde_json::to_vec(&initialize_body(version)).expect("serialize");
    let reply = send(mcp_request(Method::POST, "/mcp", version).body(Body::from(init)).unwrap());
    assert_eq!(reply.status, StatusCode::OK, "initialize failed");
    let id = reply.session_id().expect("initialize assigns a session");
    let initialized = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec();
    let reply = send(
        mcp_request(Method::POST, "/mcp", version)
            .header("mcp-session-id", &id)
            .body(Body::from(initialized))
            .unwrap(),
    );
    assert_eq!(reply.status, StatusCode::ACCEPTED, "notifications/initialized refused");
    id
}

/// Closes a session the input opened, so that sessions do not pile up over millions of runs
/// (rmcp keeps an idle one for five minutes).
pub fn close_session(id: &str) {
    if LIVE_SESSION.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(id) {
        return;
    }
    let reply = send(
        mcp_request(Method::DELETE, "/mcp", LEGACY_VERSIONS[2])
            .header("mcp-session-id", id)
            .body(Body::empty())
            .unwrap(),
    );
    assert_known_status(&reply, "DELETE of a session the input opened");
}
