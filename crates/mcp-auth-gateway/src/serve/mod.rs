//! `mcp-auth serve --config FILE`: every `[[servers]]` entry mounted at its path, each user
//! with their own upstream, behind the library's admission (auth → rate limit → credential →
//! instance).
//!
//! Each entry becomes a [`WrappedServer`] whose instances are [`ProxyServer`]s; all of them are
//! served on one listener ([`WrappedServer::serve_all`]) and share one [`Readiness`], so that
//! [`Gateway::begin_draining`] turns every mount's `/ready` to `503` at once (`drain.rs`: the
//! order of a graceful stop). On shutdown the library drains the connections and drops the
//! instances; each dropped proxy closes its upstream gracefully on the
//! [`TaskTracker`] that [`Gateway::serve`] waits for before it returns, so no child outlives
//! the gateway's exit (and the supervisor kills any that would, even on `kill -9`).

mod connect;
mod drain;
mod factory;
mod revoke;
mod run;

pub use self::connect::OpenedStore;
pub use self::revoke::invalidate_command;
pub(crate) use self::run::stop_signal;
pub use self::run::{ServeError, check, run, run_loaded};

use std::{sync::Arc, time::Duration};

use mcp_auth::{Metrics, Readiness, WrappedServer, wrap_server};
use mcp_auth_redis::{
    FailMode, RedisConnection, RedisRateLimiter, RedisReadiness, RedisSetupError,
    RevocationListener,
};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::factory::Factory;
use crate::{
    child::Launcher,
    config::{self, ConfigReport, GatewayConfig, MetricsAt, Upstream},
    proxy::ProxyServer,
};

/// How long [`Gateway::serve`] waits for upstreams to close after the listener stopped; the
/// children's own SIGTERM→SIGKILL grace fits within it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The gateway: one wrapped server per configured mount.
pub struct Gateway {
    servers: Vec<WrappedServer<ProxyServer>>,
    /// Where every mount reports, when `server.metrics` is not off.
    metrics: Option<Metrics>,
    /// Cancelled by [`shutdown`](Self::shutdown): ends what serves beside the mounts.
    stop: CancellationToken,
    mounts: Vec<(String, String)>,
    /// Each mount's resource type, in mount order.
    resource_types: Vec<String>,
    /// Each mount's factory, kept for its warm pool (closed at shutdown).
    factories: Vec<Arc<Factory>>,
    /// Every mount's readiness (one handle, shared).
    readiness: Readiness,
    closer: TaskTracker,
    /// With `[redis]`: applies the revocations recorded by any process (stops when dropped).
    _revocations: Option<RevocationListener>,
}

impl Gateway {
    /// Builds every mount of `config`; children are started through `launcher`. With
    /// `credentials.mode = "store"`, use [`build_with_store`](Self::build_with_store).
    pub fn build(config: &GatewayConfig, launcher: Launcher) -> Result<Self, ConfigReport> {
        Self::build_with_store(config, launcher, None)
    }

    /// [`build`](Self::build) with the credential store every mount resolves from, opened
    /// once ([`OpenedStore::open`]).
    pub fn build_with_store(
        config: &GatewayConfig,
        launcher: Launcher,
        store: Option<&OpenedStore>,
    ) -> Result<Self, ConfigReport> {
        let launcher = Arc::new(launcher);
        let closer = TaskTracker::new();
        // One client for every HTTP upstream: connection pools are shared, headers are not
        // (each request carries its own user's headers).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
            ConfigReport::single("servers", None, format!("HTTP client: {error}"))
        })?;
        let metrics = (config.server.metrics != MetricsAt::Off).then(gateway_metrics);
        let mut servers = Vec::with_capacity(config.servers.len());
        let mut mounts = Vec::with_capacity(config.servers.len());
        let mut factories = Vec::with_capacity(config.servers.len());
        let mut resource_types = Vec::with_capacity(config.servers.len());
        let readiness = Readiness::new();
        // One connection for every mount's shared limit and credential cache, the revocations
        // and readiness.
        let redis = match &config.redis {
            Some(section) => {
                let connection = RedisConnection::new(&section.connection_config())
                    .map_err(|error| redis_problem(error, "redis"))?;
                if needs_redis_to_serve(config) {
                    readiness.add_check(RedisReadiness::new(&connection));
                }
                Some(connection)
            }
            None => None,
        };
        for entry in &config.servers {
            let entry = Arc::new(entry.clone());
            let factory = Arc::new(Factory::new(
                entry.clone(),
                launcher.clone(),
                http.clone(),
                closer.clone(),
                config.log.user_ids.clone(),
            ));
            factories.push(factory.clone());
            let mut builder =
                wrap_server(move |token, user_id, extras| factory.build(&token, &user_id, &extras))
                    .stateless_handler(ProxyServer::answer_stateless);
            // An http upstream gets each session-era caller session as a session of its own,
            // forwarded as it came; a stdio child has one session, which the proxy shares.
            if matches!(entry.upstream, Upstream::Http(_)) {
                builder = builder.session_handler(ProxyServer::answer_session);
            }
            let mut builder = config::wrap_builder_with_shared(
                builder,
                &entry,
                config,
                store.map(|s| &s.resolver),
                redis.as_ref(),
            )?;
            if let Some(metrics) = &metrics {
                builder = builder.metrics(metrics);
            }
            if let (Some(fail_mode), Some(redis)) = (entry.shared_rate_limit, &redis) {
                // Keys scoped by the mount's name: each mount keeps its own budget, as
                // per-process limits do.
                let mut limiter =
                    RedisRateLimiter::new(redis, &entry.name, &entry.rate_limit, fail_mode)
                        .map_err(|error| redis_problem(error, "servers.rate_limit"))?;
                if let Some(key) = config.redis.as_ref().and_then(|r| r.user_hash_key.as_ref()) {
                    limiter = limiter.with_hash_key(key.expose().as_bytes());
                }
                builder = builder.shared_rate_limit(limiter);
            }
            builder = builder.readiness(readiness.clone());
            let server = builder.build().map_err(ConfigReport::from_library)?;
            mounts.push((entry.name.clone(), config.mount_url(&entry)));
            resource_types.push(entry.resource_type.clone());
            servers.push(server);
        }
        let stop = CancellationToken::new();
        let _revocations = redis.as_ref().map(|redis| revoke::listen(redis, &servers));
        Ok(Self {
            servers,
            metrics,
            stop,
            mounts,
            resource_types,
            factories,
            readiness,
            closer,
            _revocations,
        })
    }

    /// Resolves once [`shutdown`](Self::shutdown) is called.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.stop.clone().cancelled_owned()
    }

    /// The metrics every mount reports to, when `server.metrics` is not off.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// An auth layer checking requests as the first mount serving `resource_type` does (its
    /// provider, audience, scopes and rate limit), for routes of the gateway's own.
    pub fn auth_layer_for(&self, resource_type: &str) -> Option<mcp_auth::http::AuthLayer> {
        let index = self.resource_types.iter().position(|r| r == resource_type)?;
        Some(self.servers[index].auth_layer())
    }

    /// `(name, URL)` of every mount, for the startup banner.
    pub fn mounts(&self) -> &[(String, String)] {
        &self.mounts
    }

    /// Serves until [`shutdown`](Self::shutdown), then waits (bounded) for every upstream to
    /// close.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_with(listener, axum::Router::new()).await
    }

    /// [`serve`](Self::serve) with `extra` routes on the same listener (`/metrics`).
    pub async fn serve_with(
        &self,
        listener: tokio::net::TcpListener,
        extra: axum::Router,
    ) -> std::io::Result<()> {
        let result = WrappedServer::serve_all_with(&self.servers, listener, extra).await;
        self.wait_closed().await;
        result
    }

    /// Once serving has stopped: stops the warm children and waits (bounded) for every upstream
    /// to close.
    pub async fn wait_closed(&self) {
        for child in self.factories.iter().flat_map(|factory| factory.close_warm_pool()) {
            self.closer.spawn(child.shutdown());
        }
        self.closer.close();
        if tokio::time::timeout(CLOSE_WAIT, self.closer.wait()).await.is_err() {
            tracing::warn!("some upstream servers did not close in time; they are killed at exit");
        }
    }

    /// The first step of a graceful stop: every mount's `GET {mount}/ready` answers `503`
    /// from now on, while everything else is still served until [`shutdown`](Self::shutdown).
    pub fn begin_draining(&self) {
        self.readiness.set_draining();
    }

    /// Every mount's readiness (one handle): where a readiness check of the gateway's would
    /// be added.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Stops serving: readiness turns draining (if it was not already), the listener closes,
    /// requests in flight get the grace period, instances and their upstreams close.
    pub fn shutdown(&self) {
        self.stop.cancel();
        for server in &self.servers {
            server.shutdown();
        }
    }

    /// The wrapped server of each mount (stats, tests).
    pub fn servers(&self) -> &[WrappedServer<ProxyServer>] {
        &self.servers
    }
}

/// Whether a replica cut off from Redis should leave the balancer's rotation (`/ready` `503`
/// while Redis does not answer; `/health` stays `200`): when some mount's shared limit fails
/// closed, and so refuses every request meanwhile. Everything else that uses Redis fails open —
/// a limit that fails open counts locally, revocations are applied once Redis answers again —
/// and there a `503` from every replica at once would turn a Redis outage into a full one.
fn needs_redis_to_serve(config: &GatewayConfig) -> bool {
    config.servers.iter().any(|entry| entry.shared_rate_limit == Some(FailMode::Closed))
}

/// A Redis setting the config check could not judge (a URL redis-rs refuses), at its key.
fn redis_problem(error: RedisSetupError, section: &str) -> ConfigReport {
    let key = match error.key.split_once('.') {
        Some((_, rest)) => format!("{section}.{rest}"),
        None => section.to_owned(),
    };
    ConfigReport::single(key, None, error.reason)
}

/// The library's metrics plus the gateway's own: its upstream child processes.
fn gateway_metrics() -> Metrics {
    let mut registry = Registry::default();
    let children = Gauge::<i64>::default();
    registry.register(
        "mcp_auth_child_processes",
        "Upstream server processes running",
        children.clone(),
    );
    let metrics = Metrics::new(registry);
    metrics.on_scrape(move || {
        let live = i64::try_from(crate::child::live_children()).unwrap_or(i64::MAX);
        children.set(live);
        async {}
    });
    metrics
}
