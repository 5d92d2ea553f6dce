//! The in-test tenant manager shared by the `ApiTokenResolver` tests: an axum server on
//! `127.0.0.1:0` whose answers, failures and delay are switched at runtime, counting every call.
//!
//! With `MCP_AUTH_TEST_TENANT_MANAGER=store` (`scripts/test.sh` runs these tests a second time
//! so), every manager is backed by the real one, `mcp_auth_store::TenantManagerService` over a
//! real encrypted store: [`Manager::grant`] puts the credential into the store and the request is
//! answered by the service; only the failures this double injects (outages, `500`s, delays,
//! dropped connections) and the canned [`Manager::reply`] answers (bodies no store would hold,
//! custom endpoint paths) stay the double's.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use mcp_auth::{
    ApiTokenResolver, CredentialError, Environment, Principal, TokenResolver,
    credentials::ApiTokenResolverBuilder,
};
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

pub const SERVICE_TOKEN: &str = "svc-token-5f1e9a";

/// Set to `store` to back every manager with the real tenant manager (module docs).
pub const BACKEND_VAR: &str = "MCP_AUTH_TEST_TENANT_MANAGER";

/// The real tenant manager behind a store-backed double.
#[derive(Debug)]
pub struct StoreBackend {
    pub store: mcp_auth_store::CredentialStore,
    router: Router,
    _dir: tempfile::TempDir,
}

impl StoreBackend {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keyring = mcp_auth_store::Keyring::generate();
        let store =
            mcp_auth_store::CredentialStore::open(dir.path().join("credentials.db"), keyring)
                .await
                .unwrap();
        let router = mcp_auth_store::TenantManagerService::new(store.clone())
            .with_service_token(SERVICE_TOKEN)
            .router()
            .unwrap();
        Self { store, router, _dir: dir }
    }

    /// `body` (in any of the shapes the resolver reads) as a stored credential; `false` when
    /// no store would hold it (no usable token, a garbage expiry).
    fn put(&self, user: &str, resource: &str, body: &Value) -> bool {
        let token = ["accessToken", "access_token", "token"]
            .iter()
            .find_map(|field| body.get(*field).and_then(Value::as_str).filter(|t| !t.is_empty()));
        let Some(token) = token else { return false };
        let mut credential = mcp_auth_store::NewCredential::new(token);
        match ["expiresAt", "expires_at"].iter().find_map(|field| body.get(*field)) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                let Some(raw) = n.as_f64().filter(|n| *n >= 0.0) else { return false };
                // The store keeps expiries in whole seconds (what OAuth's `expires_in` and a
                // JWT's `exp` carry): rounded up, so that "not before its expiry" still holds.
                let seconds = if raw > 1e11 { raw / 1000.0 } else { raw };
                let seconds = Duration::from_secs(seconds.ceil() as u64);
                credential = credential.with_expiry(UNIX_EPOCH + seconds);
            }
            Some(Value::String(text)) => {
                use time::{OffsetDateTime, format_description::well_known::Rfc3339};
                let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) else { return false };
                credential = credential.with_expiry(at.into());
            }
            Some(_) => return false,
        }
        let store = self.store.clone();
        let (user, resource) = (user.to_owned(), resource.to_owned());
        // `grant` is synchronous and tests run on a current-thread runtime: the put gets a
        // runtime of its own, on a thread of its own.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(store.put(&user, &resource, credential, "test")).unwrap();
        })
        .join()
        .unwrap();
        true
    }
}

// ---------------------------------------------------------------------------------------------
// The in-test tenant manager
// ---------------------------------------------------------------------------------------------

/// How the tenant manager behaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers from the reply table (`404` for unknown paths).
    Up,
    /// Answers every call with `503` (no `Retry-After`).
    ServiceUnavailable,
    /// Accepts connections and closes them at once, without an answer.
    DropConnections,
}

/// A canned answer: status, JSON body, optional `Retry-After`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<&'static str>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body, retry_after: None }
    }

    pub fn status(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap();
        Self { status, body: json!({ "error": status.as_str() }), retry_after: None }
    }
}

#[derive(Debug)]
pub struct ManagerState {
    /// Replies by raw (still percent-encoded) request path.
    pub replies: Mutex<HashMap<String, Reply>>,
    pub mode: Mutex<Mode>,
    /// Calls still to be failed with `500` before the reply table is used.
    pub fail_next: AtomicUsize,
    pub delay: Mutex<Duration>,
    pub calls: AtomicUsize,
    /// Headers and raw path of every request that reached the handler.
    pub requests: Mutex<Vec<(HeaderMap, String)>>,
    /// The real tenant manager, when [`BACKEND_VAR`] says so.
    pub backend: Option<StoreBackend>,
}

pub struct Manager {
    pub state: Arc<ManagerState>,
    pub addr: SocketAddr,
    pub server: JoinHandle<()>,
}

/// A listener that, in [`Mode::DropConnections`], accepts and immediately closes connections.
pub struct SwitchableListener {
    pub inner: TcpListener,
    pub state: Arc<ManagerState>,
}

impl axum::serve::Listener for SwitchableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            if *self.state.mode.lock().unwrap() != Mode::DropConnections {
                return (stream, addr);
            }
            self.state.calls.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

pub async fn handle(
    State(state): State<Arc<ManagerState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    state.requests.lock().unwrap().push((headers.clone(), uri.path().to_owned()));
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;

    let reply = if *state.mode.lock().unwrap() == Mode::ServiceUnavailable {
        Reply::status(503)
    } else if state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        Reply::status(500)
    } else if let Some(reply) = state.replies.lock().unwrap().get(uri.path()).cloned() {
        reply
    } else if let Some(backend) = &state.backend {
        return forward(backend, uri, headers).await;
    } else {
        Reply::status(404)
    };
    // `Connection: close` keeps the client from pooling connections, so that a shut-down manager
    // is truly unreachable rather than still answering on a kept-alive socket.
    let mut response =
        (reply.status, [(header::CONNECTION, "close")], Json(reply.body)).into_response();
    if let Some(seconds) = reply.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, seconds.parse().unwrap());
    }
    response
}

/// The request, answered by the real tenant manager (with `Connection: close`, as below).
async fn forward(backend: &StoreBackend, uri: Uri, headers: HeaderMap) -> Response {
    use tower::ServiceExt as _;
    let mut request =
        axum::extract::Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
    *request.headers_mut() = headers;
    let mut response = backend.router.clone().oneshot(request).await.unwrap();
    response.headers_mut().insert(header::CONNECTION, "close".parse().unwrap());
    response
}

impl Manager {
    pub async fn start() -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// A manager listening on `addr`: the address of one that was [shut down](Self::shut_down)
    /// restarts it on the same port, with a fresh state (no replies, no calls counted).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let state = Arc::new(ManagerState {
            replies: Mutex::default(),
            mode: Mutex::new(Mode::Up),
            fail_next: AtomicUsize::new(0),
            delay: Mutex::new(Duration::ZERO),
            calls: AtomicUsize::new(0),
            requests: Mutex::default(),
            backend: match std::env::var(BACKEND_VAR).as_deref() {
                Ok("store") => Some(StoreBackend::start().await),
                _ => None,
            },
        });
        let inner = bind(addr).await;
        let addr = inner.local_addr().unwrap();
        let listener = SwitchableListener { inner, state: state.clone() };
        let app = Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { state, addr, server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A builder aimed at this manager, with fast retries and a fixed environment.
    pub fn resolver(&self) -> ApiTokenResolverBuilder {
        ApiTokenResolver::builder(self.url(), SERVICE_TOKEN)
            .retry_base_delay(Duration::from_millis(5))
            .environment(Environment::Development)
    }

    pub fn reply(&self, path: &str, reply: Reply) {
        self.state.replies.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// Grants a credential at the default endpoint (ids here need no encoding): in the store
    /// when store-backed and the body is one a store would hold, else as a canned answer.
    pub fn grant(&self, user: &str, resource: &str, body: Value) {
        let path = format!("/api/credentials/{user}/{resource}");
        if let Some(backend) = &self.state.backend
            && backend.put(user, resource, &body)
        {
            // A later grant replaces an earlier canned answer for the same path.
            self.state.replies.lock().unwrap().remove(&path);
            return;
        }
        self.reply(&path, Reply::ok(body));
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn fail_next(&self, calls: usize) {
        self.state.fail_next.store(calls, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The value of `name` in every request received, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let requests = self.state.requests.lock().unwrap();
        requests
            .iter()
            .filter_map(|(headers, _)| headers.get(name).map(|v| v.to_str().unwrap().to_owned()))
            .collect()
    }

    /// The raw path of every request received, in order.
    pub fn paths(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().iter().map(|(_, path)| path.clone()).collect()
    }

    /// Stops accepting connections: from now on the port refuses them.
    pub async fn shut_down(&self) {
        self.server.abort();
        while !self.server.is_finished() {
            tokio::task::yield_now().await;
        }
    }
}

/// Binds `addr`. A port just released by a shut-down manager may take a moment to be free
/// again (its last connections closing), so "in use" is retried for up to ten seconds.
async fn bind(addr: SocketAddr) -> TcpListener {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(err)
                if err.kind() == io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => panic!("binding {addr}: {err}"),
        }
    }
}

pub fn alice() -> Principal {
    Principal::new("alice").unwrap()
}

pub fn epoch_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

pub fn not_found(resource_type: &str) -> CredentialError {
    CredentialError::NotFound { resource_type: resource_type.to_owned() }
}

pub fn assert_unavailable(result: Result<mcp_auth::Credential, CredentialError>) -> Duration {
    match result {
        Err(CredentialError::TenantManagerUnavailable { retry_after }) => retry_after,
        other => panic!("expected TenantManagerUnavailable, got {other:?}"),
    }
}

/// Resolves alice's `github` credential until `done` accepts the answer, and returns it; fails
/// after the deadline. Used to wait for a TTL or an expiry to run out: a cache hit costs no call,
/// so polling does not change what the tenant manager sees.
pub async fn resolve_until(
    resolver: &ApiTokenResolver,
    what: &str,
    mut done: impl FnMut(&Result<mcp_auth::Credential, CredentialError>) -> bool,
) -> Result<mcp_auth::Credential, CredentialError> {
    super::support::poll_until(what, super::support::DEADLINE, async || {
        let answer = resolver.resolve(&alice(), "github").await;
        done(&answer).then_some(answer)
    })
    .await
}

/// Rounding between a wall-clock expiry sent in milliseconds and the monotonic instant the
/// resolver keeps it as.
pub const CLOCK_SLACK: Duration = Duration::from_millis(50);

pub fn token_of(answer: &Result<mcp_auth::Credential, CredentialError>) -> Option<&str> {
    answer.as_ref().ok().map(|credential| credential.secret().expose())
}
