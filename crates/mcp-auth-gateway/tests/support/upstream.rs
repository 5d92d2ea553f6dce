//! The http upstream of the gateway tests: the demo server behind rmcp's Streamable HTTP
//! service (both eras), on axum on loopback, recording every request it receives.

use std::sync::{Arc, Mutex};

use axum::{extract::Request, middleware::Next, response::IntoResponse as _};
use mcp_auth_gateway::demo::DemoServer;
use rmcp::{
    model::CallToolRequestParams,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::{Value, json};

/// What the upstream received: one HTTP request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// Every value of header `name`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// The upstream MCP server: the demo server behind rmcp's Streamable HTTP service.
pub struct Upstream {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    sessions: Arc<LocalSessionManager>,
    /// While set, every request is answered `502 Bad Gateway` (the upstream is down behind its
    /// load balancer).
    pub down: Arc<std::sync::atomic::AtomicBool>,
    /// While set, a 2026-07-28 request (one with that `MCP-Protocol-Version`) is recorded and
    /// answered `400` in plain text, as a server of the session era only answers it.
    pub legacy_only: Arc<std::sync::atomic::AtomicBool>,
    /// While not 0, every request is answered with this status and an HTML page (a web
    /// server's error page in front of the upstream).
    pub html_status: Arc<std::sync::atomic::AtomicU16>,
}

impl Upstream {
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(LocalSessionManager::default());
        let service = StreamableHttpService::new(
            || Ok(DemoServer::new("upstream".to_owned())),
            sessions.clone(),
            StreamableHttpServerConfig::default(),
        );
        let sink = seen.clone();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_down = down.clone();
        let legacy_only = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_legacy_only = legacy_only.clone();
        let html_status = Arc::new(std::sync::atomic::AtomicU16::new(0));
        let html = html_status.clone();
        let record = move |request: Request, next: Next| {
            let sink = sink.clone();
            let is_down = is_down.clone();
            let is_legacy_only = is_legacy_only.clone();
            let html = html.clone();
            async move {
                let status = html.load(std::sync::atomic::Ordering::SeqCst);
                if let Ok(status) = axum::http::StatusCode::from_u16(status) {
                    let page = "<html><body>upstream-internal-page on 10.0.0.7</body></html>";
                    let html_type = [("content-type", "text/html")];
                    return (status, html_type, page).into_response();
                }
                if is_down.load(std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::BAD_GATEWAY.into_response();
                }
                let authorization = request.headers().get("authorization");
                if authorization.is_some_and(|v| v.as_bytes() == b"Bearer revoked-credential") {
                    let challenge = [("www-authenticate", r#"Bearer error="invalid_token""#)];
                    return (axum::http::StatusCode::UNAUTHORIZED, challenge).into_response();
                }
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                let headers = parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into())
                    })
                    .collect();
                sink.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    headers,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
                let modern = parts
                    .headers
                    .get("mcp-protocol-version")
                    .is_some_and(|v| v.as_bytes() >= b"2026-07-28".as_slice());
                if modern && is_legacy_only.load(std::sync::atomic::Ordering::SeqCst) {
                    let refusal = "Bad Request: Session ID is required";
                    return (axum::http::StatusCode::BAD_REQUEST, refusal).into_response();
                }
                next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
            }
        };
        let app = axum::Router::new()
            .route_service("/mcp", service)
            .layer(axum::middleware::from_fn(record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url: format!("http://{addr}/mcp"), seen, sessions, down, legacy_only, html_status }
    }

    /// Ends every session, as a restarted upstream would have forgotten them.
    pub async fn forget_sessions(&self) {
        use rmcp::transport::streamable_http_server::SessionManager as _;
        let ids: Vec<_> = self.sessions.sessions.read().await.keys().cloned().collect();
        assert!(!ids.is_empty(), "the upstream has no session to forget");
        for id in ids {
            self.sessions.close_session(&id).await.unwrap();
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A gateway mounting `upstream` at `/mcp`, each user's credential from their JWT's embedded
/// `tokens.default`, templated into `Authorization`, and their id into `X-User`.
pub fn config(upstream: &str) -> String {
    config_with_credentials(upstream, "default", "mode = \"jwt\"")
}

/// A gateway mounting `upstream` at `/mcp` for `resource_type`, each user's credential templated
/// into `Authorization` and their id into `X-User`; `credentials` is the body of
/// `[credentials]`, sub-tables included.
pub fn config_with_credentials(upstream: &str, resource_type: &str, credentials: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[credentials]
{credentials}

[[servers]]
name = "remote"
path = "/mcp"
url = "{upstream}"
resource_type = "{resource_type}"
headers = {{ Authorization = "Bearer {{access_token}}", X-User = "{{user_id}}" }}
"#
    )
}

pub fn echo(text: &str) -> CallToolRequestParams {
    let Value::Object(args) = json!({ "text": text }) else { unreachable!() };
    CallToolRequestParams::new("echo").with_arguments(args)
}

/// Every request the upstream saw carries exactly one `Authorization` and one `X-User`, and the
/// credential is the one of the user named: `credentials` maps user id → credential.
pub fn assert_each_request_carries_its_users_credential(
    seen: &[Seen],
    credentials: &[(&str, &str)],
) {
    assert!(!seen.is_empty(), "the upstream saw no request");
    for request in seen {
        let users = request.values("x-user");
        assert_eq!(users.len(), 1, "one X-User on {request:?}");
        let (_, credential) = credentials
            .iter()
            .find(|(user, _)| *user == users[0])
            .unwrap_or_else(|| panic!("an unknown user reached the upstream: {request:?}"));
        assert_eq!(request.values("authorization"), [format!("Bearer {credential}")]);
        assert!(request.values("proxy-authorization").is_empty(), "{request:?}");
    }
}

/// No header the upstream saw holds any of `secrets`, in its name or its value.
pub fn assert_none_leaked(seen: &[Seen], secrets: &[&str]) {
    for request in seen {
        for (name, value) in &request.headers {
            for secret in secrets {
                let secret = secret.to_ascii_lowercase();
                assert!(
                    !name.contains(&secret) && !value.to_ascii_lowercase().contains(&secret),
                    "the upstream received {name}: {value} on {} {}",
                    request.method,
                    request.body
                );
            }
        }
    }
}

/// The `tools/call` requests the upstream saw whose body holds `text`.
pub fn calls_holding<'a>(seen: &'a [Seen], text: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|r| r.body.contains("\"tools/call\"") && r.body.contains(text)).collect()
}
