//! [`wrap_server`]: serve an rmcp server to many users, one instance each, behind auth.
//!
//! ```no_run
//! use mcp_auth::{JwtAuthProvider, wrap_server};
//! # #[derive(Clone)] struct MyServer;
//! # impl rmcp::ServerHandler for MyServer {}
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = wrap_server(|access_token, user_id, _extras| {
//!         // build the user's instance with *their* upstream credential
//!         let _ = (access_token, user_id);
//!         MyServer
//!     })
//!     .auth_provider(JwtAuthProvider::builder().secret(std::env::var("JWT_SECRET")?).build()?)
//!     .build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! server.serve(listener).await?;
//! # Ok(()) }
//! ```

mod authorization;
mod revoke;

use std::{collections::HashMap, sync::Arc};

use rmcp::ServerHandler;
use tokio_util::sync::CancellationToken;

use crate::{
    admission::{Admitter, FailedAuthLimiter, SecurityLog, UserRateLimit},
    auth::AuthProvider,
    config::ConfigError,
    credentials::TokenResolver,
    extras::{Extras, ExtrasAllowList},
    http::{
        Challenges, CredentialHeaders, HttpOptions, ProtectedResource, SessionFuture,
        SessionHandler, Shared, SseSessions, StatelessFuture, StatelessHandler,
    },
    instances::{EndSession, InstanceOptions, InstanceRegistry, InstanceStats},
    limits::Limits,
    log_ids::UserIdLogging,
    metrics::{Metrics, ServerMetrics},
    middleware::rate_limit::{KeyedLimiter, RateLimitConfig, SharedRateLimiter},
    progress::{ProgressMonitor, ProgressOptions},
    readiness::Readiness,
    secret::Secret,
};

pub use crate::instances::ServerFactory;

/// Starts wrapping `factory`. Finish with [`WrapServerBuilder::build`].
pub fn wrap_server<H, F>(factory: F) -> WrapServerBuilder<H>
where
    H: ServerHandler,
    F: Fn(Secret, String, Extras) -> H + Send + Sync + 'static,
{
    WrapServerBuilder {
        factory: Arc::new(factory),
        auth: None,
        resolver: None,
        resource_type: "default".to_owned(),
        instances: InstanceOptions::default(),
        extras: ExtrasAllowList::default(),
        http: HttpOptions::default(),
        rate_limit: RateLimitConfig::default(),
        shared_rate_limit: None,
        limits: Limits::default(),
        stateless: None,
        sessions: None,
        protected_resource: None,
        required_scopes: Vec::new(),
        connect_url: None,
        tool_scopes: HashMap::new(),
        show_all_tools: false,
        metrics: None,
        progress: ProgressOptions::default(),
        user_ids: UserIdLogging::default(),
        readiness: Readiness::new(),
    }
}

/// Builder returned by [`wrap_server`].
pub struct WrapServerBuilder<H> {
    factory: Arc<ServerFactory<H>>,
    auth: Option<Arc<dyn AuthProvider>>,
    resolver: Option<Arc<dyn TokenResolver>>,
    resource_type: String,
    instances: InstanceOptions,
    extras: ExtrasAllowList,
    http: HttpOptions,
    rate_limit: RateLimitConfig,
    shared_rate_limit: Option<Arc<dyn SharedRateLimiter>>,
    limits: Limits,
    stateless: Option<Arc<StatelessHandler<H>>>,
    sessions: Option<Arc<SessionHandler<H>>>,
    protected_resource: Option<ProtectedResource>,
    required_scopes: Vec<String>,
    connect_url: Option<String>,
    tool_scopes: HashMap<String, Vec<String>>,
    show_all_tools: bool,
    metrics: Option<Metrics>,
    progress: ProgressOptions,
    user_ids: UserIdLogging,
    readiness: Readiness,
}

impl<H: ServerHandler> WrapServerBuilder<H> {
    /// Who is calling (required).
    pub fn auth_provider(mut self, provider: impl AuthProvider) -> Self {
        self.auth = Some(Arc::new(provider));
        self
    }

    /// Which upstream credential the caller gets. Without one ("static mode") the factory
    /// receives an empty access token.
    pub fn token_resolver(mut self, resolver: impl TokenResolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// The resource type passed to the resolver, e.g. `github` (default `default`).
    pub fn resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.resource_type = resource_type.into();
        self
    }

    /// Instance mode and pool bounds.
    pub fn instances(mut self, options: InstanceOptions) -> Self {
        self.instances = options;
        self
    }

    /// Which headers and query parameters reach the factory as extras (default: none).
    pub fn extras(mut self, allow: ExtrasAllowList) -> Self {
        self.extras = allow;
        self
    }

    /// HTTP options: base path, CORS, allowed hosts, server name and version.
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// The per-user request rate limit, checked right after authentication and before the
    /// credential is resolved. **On by default**: 20 requests/s sustained per user, bursts of
    /// 100 ([`RateLimitConfig::default`] says why). Over it, HTTP requests get `429` with
    /// `Retry-After` and `RateLimit-*` headers. [`RateLimitConfig::disabled`] turns it off;
    /// [`per_tool`](RateLimitConfig::per_tool) does not apply here (an HTTP request names no
    /// tool until its body is read).
    pub fn rate_limit(mut self, config: RateLimitConfig) -> Self {
        self.rate_limit = config;
        self
    }

    /// Replaces the per-process limit of [`rate_limit`](Self::rate_limit) with `limiter`,
    /// whose state other replicas share (`mcp_auth_redis::RedisRateLimiter`), so a user's
    /// budget holds across every replica behind the load balancer. The quota is the
    /// limiter's own; it is checked at the same point, and its refusals get the same `429`
    /// (or, when it cannot reach its state and fails closed, `503` with `Retry-After`).
    /// [`RateLimitConfig::disabled`] in [`rate_limit`](Self::rate_limit) does not turn a shared
    /// limiter off: leave this unset for that.
    pub fn shared_rate_limit(mut self, limiter: impl SharedRateLimiter) -> Self {
        self.shared_rate_limit = Some(Arc::new(limiter));
        self
    }

    /// What one user may hold at once (in-flight requests, unread response bytes, sessions,
    /// instances) and the failed-authentication budget per peer. On by default; see [`Limits`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Lets the caller's instance answer stateless-era (2026-07-28) Streamable HTTP POSTs
    /// itself: `handler` gets the instance and the admitted request (authenticated,
    /// rate-limited, credential resolved, credential headers stripped, the
    /// [`Principal`](crate::auth::Principal) in its extensions) and either answers it or
    /// declines it to rmcp's server. A proxy uses this to forward a request to an upstream that
    /// speaks the same era without parsing it twice. Session-era requests, GET, DELETE, legacy
    /// SSE and stdio never reach it.
    pub fn stateless_handler(
        mut self,
        handler: impl Fn(Arc<H>, http::Request<axum::body::Bytes>) -> StatelessFuture
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.stateless = Some(Arc::new(handler));
        self
    }

    /// Lets the caller's instance serve session-era (2025-03-26 … 2025-11-25) Streamable HTTP
    /// itself — every POST, GET and DELETE of it — instead of rmcp's server: a proxy uses this to
    /// forward each caller session to an upstream session of its own, as it came.
    ///
    /// `handler` gets the instance, the admitted request (as for
    /// [`stateless_handler`](Self::stateless_handler), and without `Mcp-Session-Id`) and its own
    /// value for the caller's session, and says in its answer whether it opened or ended one.
    /// The library keeps the sessions: it mints the ids clients see, binds each to its user
    /// (another user's id is a 404 before the handler runs), counts them against the session
    /// caps, forgets them after rmcp's idle keep-alive, and, when the user's instance is closed,
    /// ends each one left through `handler` with a DELETE that names it (that request carries
    /// no principal). Stateless-era requests, legacy SSE and stdio never reach it.
    pub fn session_handler(
        mut self,
        handler: impl Fn(Arc<H>, http::Request<axum::body::Bytes>, Option<Arc<str>>) -> SessionFuture
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.sessions = Some(Arc::new(handler));
        self
    }

    /// Reports to `metrics` (see [`crate::metrics`]) under this server's
    /// [name](HttpOptions::name). Serve them with [`Metrics::router`] where only your scraper
    /// reaches.
    pub fn metrics(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// How progress streams are monitored, and who may see them all (see [`crate::progress`]);
    /// on by default, with `{base}/progress/stats` for every authenticated caller and no
    /// `{base}/progress/metrics` until an admin scope is set.
    pub fn progress(mut self, options: ProgressOptions) -> Self {
        self.progress = options;
        self
    }

    /// How this server's log lines name users (security events, instances, stdio): a keyed
    /// tag by default, under the process's random key. See [`crate::log_ids`].
    pub fn user_id_logging(mut self, user_ids: UserIdLogging) -> Self {
        self.user_ids = user_ids;
        self
    }

    /// What `GET {base}/ready` reports (see [`crate::readiness`]): by default a handle of this
    /// server's own, with no checks. Give several servers one handle to drain them together,
    /// or add checks to it.
    pub fn readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<WrappedServer<H>, ConfigError> {
        let auth = crate::auth::required(self.auth)?;
        let rt = &self.resource_type;
        if rt.is_empty() || !rt.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(ConfigError::invalid(
                "resource_type",
                rt,
                "letters, digits, `-`, `_`, `.`",
            ));
        }
        if self.instances.max_instances == 0 {
            return Err(ConfigError::invalid("instances.max_instances", 0, "at least 1"));
        }
        let http = self.http.validated()?;
        let challenges = Challenges::configure(
            self.protected_resource,
            self.required_scopes,
            self.connect_url,
            (self.tool_scopes, self.show_all_tools),
            &http,
        )?;
        let rate_limit = match self.shared_rate_limit {
            Some(shared) => Some(UserRateLimit::Shared(shared)),
            None if self.rate_limit.enabled => {
                Some(UserRateLimit::Local(KeyedLimiter::new(&self.rate_limit)?))
            }
            None => None,
        };
        let limits = self.limits.validated()?;
        let progress = self.progress.monitor()?;
        let failed_auth = FailedAuthLimiter::new(&limits.failed_auth_per_peer)?;
        let registry = InstanceRegistry::new(
            self.factory,
            &self.instances,
            limits.clone(),
            http.rmcp_config(),
            self.sessions.clone().map(end_through),
            CancellationToken::new(),
            self.user_ids.clone(),
        );
        let credential_headers = CredentialHeaders::new(&*auth);
        let server_metrics = self.metrics.as_ref().map(|m| m.for_server(&http.name));
        let admission = Admitter {
            auth,
            failed_auth,
            required_scopes: challenges.required_scopes.clone(),
            security_log: Arc::new(SecurityLog::new(self.user_ids.clone())),
            user_ids: self.user_ids,
            rate_limit,
            resolver: self.resolver,
            resource_type: self.resource_type,
            extras: self.extras,
            registry,
            limits,
            metrics: server_metrics.clone(),
        };
        let server = WrappedServer {
            shared: Arc::new(Shared {
                admission,
                credential_headers,
                http,
                sse: SseSessions::default(),
                shutdown: CancellationToken::new(),
                readiness: self.readiness,
                stateless: self.stateless,
                sessions: self.sessions,
                challenges,
                progress,
            }),
        };
        if let (Some(metrics), Some(handle)) = (self.metrics, server_metrics) {
            refresh_instances(&metrics, &server, handle);
        }
        Ok(server)
    }
}

/// Sets `server`'s gauges before each scrape of `metrics`, for as long as the server lives.
fn refresh_instances<H: ServerHandler>(
    metrics: &Metrics,
    server: &WrappedServer<H>,
    handle: ServerMetrics,
) {
    let weak = Arc::downgrade(&server.shared);
    metrics.on_scrape(move || {
        let (weak, handle) = (weak.clone(), handle.clone());
        async move {
            if let Some(shared) = weak.upgrade() {
                if let Some(stats) =
                    shared.admission.resolver.as_ref().and_then(|r| r.cache_stats())
                {
                    handle.set_resolver_cache(&stats);
                }
                handle.set_instances(&WrappedServer { shared }.stats().await);
            }
        }
    });
}

/// A wrapped server, ready to serve over HTTP ([`serve`](Self::serve), [`router`](Self::router))
/// or stdio ([`serve_stdio`](Self::serve_stdio)). Cheap to clone.
pub struct WrappedServer<H> {
    pub(crate) shared: Arc<Shared<H>>,
}

impl<H> Clone for WrappedServer<H> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

/// Ends a hooked session as its client would: a DELETE through the session handler.
fn end_through<H: ServerHandler>(handler: Arc<SessionHandler<H>>) -> Arc<EndSession<H>> {
    Arc::new(move |instance, theirs| {
        let request = http::Request::delete("/").body(axum::body::Bytes::new());
        let handler = handler.clone();
        Box::pin(async move {
            if let Ok(request) = request {
                drop(handler(instance, request, Some(theirs)).await);
            }
        })
    })
}

impl<H: ServerHandler> WrappedServer<H> {
    /// The axum router serving every HTTP route under the base path. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so providers see the peer address.
    pub fn router(&self) -> axum::Router {
        crate::http::router(self.shared.clone(), true)
    }

    /// An [`AuthLayer`](crate::http::AuthLayer) that checks requests exactly as this server's
    /// MCP routes do — the same provider, failed-auth budget, required scopes, challenges and
    /// per-user rate limit — for routes of your own next to it.
    pub fn auth_layer(&self) -> crate::http::AuthLayer {
        crate::http::AuthLayer::from_gate(self.shared.clone())
    }

    /// The server's progress streams, when monitored.
    pub fn progress(&self) -> Option<&ProgressMonitor> {
        self.shared.progress.as_deref()
    }

    /// Serves HTTP/1.1 and HTTP/2 on `listener` until [`shutdown`](Self::shutdown) is called,
    /// within the connection limits of [`HttpOptions`]: a connection cap, header-read,
    /// keep-alive and body timeouts. After `shutdown`, no new connection is accepted, and open
    /// connections get [`shutdown_grace_period`](HttpOptions::shutdown_grace_period) to finish
    /// the requests in flight (a session's GET stream ends at once: it answers nothing);
    /// then the rest are dropped, the instances closed, and this returns.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let shutdown = self.shared.shutdown.clone();
        let result =
            crate::http::serve::serve(listener, self.router(), &self.shared.http, shutdown).await;
        self.close().await;
        result
    }

    /// Serves several wrapped servers on one listener, each under its own base path (a gateway
    /// mounting one upstream per path), with the connection limits of the first. Each keeps
    /// its own auth, limits, instances and `Host`/`Origin` rules; a path none of them serves
    /// gets `404`. Returns when any of them is [shut down](Self::shutdown), after which all of
    /// them are shut down and their instances dropped. Base paths must differ (else this
    /// panics, as overlapping axum routes do).
    pub async fn serve_all(
        servers: &[Self],
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<()> {
        Self::serve_all_with(servers, listener, axum::Router::new()).await
    }

    /// [`serve_all`](Self::serve_all), with `extra` routes besides the servers' (say
    /// [`Metrics::router`]); they pass no server's auth or `Host` guard.
    pub async fn serve_all_with(
        servers: &[Self],
        listener: tokio::net::TcpListener,
        extra: axum::Router,
    ) -> std::io::Result<()> {
        let Some(first) = servers.first() else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no servers"));
        };
        let stop = CancellationToken::new();
        let mut router = extra;
        // The root-form metadata describes one resource: only a lone server gets it.
        let lone = servers.len() == 1;
        for server in servers {
            router = router.merge(crate::http::router(server.shared.clone(), lone));
            let (own, stop) = (server.shared.shutdown.clone(), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = own.cancelled() => stop.cancel(),
                    () = stop.cancelled() => {}
                }
            });
        }
        let result =
            crate::http::serve::serve(listener, router, &first.shared.http, stop.clone()).await;
        stop.cancel();
        for server in servers {
            server.close().await;
        }
        result
    }

    /// Begins the shutdown of [`serve`](Self::serve): [`readiness`](Self::readiness) turns
    /// draining, new connections are refused, and the requests in flight get the grace period
    /// before the instances are [closed](Self::close). Serving [`router`](Self::router)
    /// yourself, this turns the readiness and ends the GET streams; call
    /// [`close`](Self::close) once your server has let its requests finish.
    pub fn shutdown(&self) {
        self.shared.readiness.set_draining();
        self.shared.shutdown.cancel();
    }

    /// Ends every stream and session still open and drops the instances: the last step of a
    /// shutdown, which [`serve`](Self::serve) and [`serve_all`](Self::serve_all) take
    /// themselves once their connections have drained. Calls still in flight are cut.
    pub async fn close(&self) {
        self.shutdown();
        self.shared.admission.registry.clear().await;
    }

    /// What `GET {base}/ready` reports: [`Readiness::set_draining`] on it turns the route
    /// `503` while everything else keeps serving (the first step of a graceful drain, before
    /// [`shutdown`](Self::shutdown)).
    pub fn readiness(&self) -> &Readiness {
        &self.shared.readiness
    }

    /// Serves one user over stdin/stdout: the identity comes from the auth provider (use
    /// [`EnvAuthProvider`](crate::auth::EnvAuthProvider)), stdout carries only JSON-RPC.
    pub async fn serve_stdio(&self) -> Result<(), crate::stdio::StdioError> {
        crate::stdio::serve(&self.shared.admission).await
    }

    /// Like [`serve_stdio`](Self::serve_stdio), over any pair of byte streams (a pipe, a
    /// socket, `tokio::io::duplex` in tests).
    pub async fn serve_io<R, W>(&self, read: R, write: W) -> Result<(), crate::stdio::StdioError>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
        W: tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        crate::stdio::serve_io(&self.shared.admission, read, write).await
    }

    /// Instance counts.
    pub async fn stats(&self) -> InstanceStats {
        let mut stats = self.shared.admission.registry.stats().await;
        stats.legacy_sse_sessions = self.shared.sse.len();
        stats
    }
}
