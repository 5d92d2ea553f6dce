//! Prometheus metrics, on `prometheus-client` with an explicit registry (no global recorder).
//!
//! One [`Metrics`] is shared by every wrapped server that reports to it
//! ([`WrapServerBuilder::metrics`](crate::WrapServerBuilder::metrics)); each reports under its
//! own `server` label (its [`HttpOptions::name`](crate::http::HttpOptions::name)). Nothing is
//! counted for a server without one, so an unmetered server pays nothing.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `mcp_auth_http_requests_total` | server, route, method, era, status | HTTP requests answered |
//! | `mcp_auth_http_request_duration_seconds` | server, route, era | time to the response head |
//! | `mcp_auth_auth_failures_total` | server, reason | refused authentications, by [`AuthError`](crate::AuthError) kind |
//! | `mcp_auth_refusals_total` | server, reason | admitted-or-not refusals: rate limit, caps, scopes, credentials |
//! | `mcp_auth_credential_resolutions_total` | server, result | token resolver outcomes |
//! | `mcp_auth_credential_resolve_duration_seconds` | server | token resolver latency (cache hits included) |
//! | `mcp_auth_instances` | server | live per-user instances |
//! | `mcp_auth_sessions` / `mcp_auth_running_sessions` | server | Streamable HTTP sessions (all / not hibernated) |
//! | `mcp_auth_legacy_sse_sessions` | server | open legacy HTTP+SSE sessions |
//!
//! Every label is bounded: routes, methods, eras and reasons are fixed sets, statuses are HTTP
//! codes, `server` comes from configuration. No user id, token or tool name is a label.

mod labels;
mod layer;

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use prometheus_client::{
    encoding::prometheus_text,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use self::labels::{Outcome, RequestLabels, ServerLabel, TimingLabels};
pub(crate) use self::layer::MetricsLayer;

/// A refresher run before each scrape: sets gauges from state read then (instance counts).
type Refresh = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The metric families, and the registry they are encoded from. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    families: Families,
    refreshers: Mutex<Vec<Refresh>>,
}

#[derive(Clone)]
struct Families {
    requests: Family<RequestLabels, Counter>,
    durations: Family<TimingLabels, Histogram, fn() -> Histogram>,
    auth_failures: Family<Outcome, Counter>,
    refusals: Family<Outcome, Counter>,
    resolutions: Family<Outcome, Counter>,
    resolve_durations: Family<ServerLabel, Histogram, fn() -> Histogram>,
    resolver_cache: Family<Outcome, Counter>,
    instances: Family<ServerLabel, Gauge>,
    sessions: Family<ServerLabel, Gauge>,
    running_sessions: Family<ServerLabel, Gauge>,
    legacy_sse_sessions: Family<ServerLabel, Gauge>,
}

/// Latency buckets from 100 µs to ~26 s.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 19))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Registry::default())
    }
}

impl Metrics {
    /// Registers mcp-auth's metric families in `registry` (which may hold your own metrics
    /// too) and takes it: [`encode`](Self::encode) renders all of it.
    pub fn new(mut registry: Registry) -> Self {
        let families = Families {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            auth_failures: Family::default(),
            refusals: Family::default(),
            resolutions: Family::default(),
            resolve_durations: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            resolver_cache: Family::default(),
            instances: Family::default(),
            sessions: Family::default(),
            running_sessions: Family::default(),
            legacy_sse_sessions: Family::default(),
        };
        let f = families.clone();
        let r = &mut registry;
        r.register("mcp_auth_http_requests", "HTTP requests answered", f.requests);
        r.register(
            "mcp_auth_http_request_duration_seconds",
            "Time from request to response head",
            f.durations,
        );
        r.register("mcp_auth_auth_failures", "Refused authentications", f.auth_failures);
        r.register("mcp_auth_refusals", "Requests refused after authentication", f.refusals);
        r.register("mcp_auth_credential_resolutions", "Token resolver outcomes", f.resolutions);
        r.register(
            "mcp_auth_credential_resolve_duration_seconds",
            "Token resolver latency",
            f.resolve_durations,
        );
        r.register(
            "mcp_auth_resolver_cache",
            "Caching token resolver answers: hit, miss (a tenant-manager call), stale, error",
            f.resolver_cache,
        );
        r.register("mcp_auth_instances", "Live per-user instances", f.instances);
        r.register("mcp_auth_sessions", "Streamable HTTP sessions", f.sessions);
        r.register("mcp_auth_running_sessions", "Sessions not hibernated", f.running_sessions);
        r.register("mcp_auth_legacy_sse_sessions", "Legacy SSE sessions", f.legacy_sse_sessions);
        Self { inner: Arc::new(Inner { registry, families, refreshers: Mutex::default() }) }
    }

    /// Runs `refresh` before each [`encode`](Self::encode): for gauges of state that is read
    /// rather than counted (the gateway's child processes, say).
    pub fn on_scrape<F, Fut>(&self, refresh: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let refresh: Refresh = Box::new(move || Box::pin(refresh()));
        self.lock().push(refresh);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Refresh>> {
        self.inner.refreshers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The registry in the Prometheus text format (0.0.4), gauges refreshed first.
    pub async fn encode(&self) -> String {
        let pending: Vec<_> = self.lock().iter().map(|refresh| refresh()).collect();
        futures::future::join_all(pending).await;
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.inner.registry);
        text
    }

    /// `GET path`: [`encode`](Self::encode), no auth (serve it where only scrapers reach).
    pub fn router(&self, path: &str) -> Router {
        let metrics = self.clone();
        Router::new().route(
            path,
            get(move || async move {
                let mut response = (StatusCode::OK, metrics.encode().await).into_response();
                let content_type = HeaderValue::from_static(prometheus_text::CONTENT_TYPE);
                response.headers_mut().insert(header::CONTENT_TYPE, content_type);
                response
            }),
        )
    }

    /// The handle one server reports through.
    pub(crate) fn for_server(&self, server: &str) -> ServerMetrics {
        ServerMetrics { families: self.inner.families.clone(), server: ServerLabel::new(server) }
    }
}

/// One server's view of [`Metrics`]: its `server` label, bound.
#[derive(Clone)]
pub(crate) struct ServerMetrics {
    families: Families,
    server: ServerLabel,
}

impl ServerMetrics {
    pub(crate) fn auth_failed(&self, reason: &'static str) {
        self.families.auth_failures.get_or_create(&self.server.outcome(reason)).inc();
    }

    pub(crate) fn refused(&self, reason: &'static str) {
        self.families.refusals.get_or_create(&self.server.outcome(reason)).inc();
    }

    pub(crate) fn resolved(&self, result: &'static str, took: Duration) {
        self.families.resolutions.get_or_create(&self.server.outcome(result)).inc();
        self.families.resolve_durations.get_or_create(&self.server).observe(took.as_secs_f64());
    }

    /// Brings the resolver cache counters up to `stats` (they are counted by the resolver).
    pub(crate) fn set_resolver_cache(&self, stats: &crate::credentials::ResolverCacheStats) {
        let counts = [
            ("hit", stats.hits),
            ("miss", stats.misses),
            ("stale", stats.stale),
            ("error", stats.errors),
        ];
        for (result, now) in counts {
            let counter = self.families.resolver_cache.get_or_create(&self.server.outcome(result));
            counter.inc_by(now.saturating_sub(counter.get()));
        }
    }

    /// Sets the instance and session gauges.
    pub(crate) fn set_instances(&self, stats: &crate::instances::InstanceStats) {
        let set = |family: &Family<ServerLabel, Gauge>, value: u64| {
            family.get_or_create(&self.server).set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&self.families.instances, stats.live);
        set(&self.families.sessions, stats.sessions);
        set(&self.families.running_sessions, stats.running_sessions);
        set(&self.families.legacy_sse_sessions, stats.legacy_sse_sessions as u64);
    }

    /// The tower layer counting and timing this server's HTTP requests.
    pub(crate) fn layer(&self, base_path: &str) -> MetricsLayer {
        let families = &self.families;
        MetricsLayer::new(
            families.requests.clone(),
            families.durations.clone(),
            self.server.clone(),
            base_path,
        )
    }
}
