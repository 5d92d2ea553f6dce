//! The `serve` command's life: load, bind, announce, serve until SIGTERM or Ctrl-C, drain
//! (`drain.rs`).

use std::{net::SocketAddr, path::Path};

use super::Gateway;
use crate::{
    child::Launcher,
    config::{self, ConfigReport, MetricsAt, Overrides},
};

/// Why `mcp-auth serve` stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration was refused (printed one problem per line).
    #[error("{0}")]
    Config(ConfigReport),
    /// The listener could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The async runtime could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The supervisor (this binary) could not be located.
    #[error("cannot locate the mcp-auth binary to supervise children: {0}")]
    Launcher(std::io::Error),
}

/// Runs `mcp-auth serve --config path` on a runtime of `server.worker_threads` workers until
/// SIGTERM or Ctrl-C, then drains (`serve/drain.rs`): `/ready` answers `503`, requests are
/// still served for `server.drain_delay`, then connections finish (within the grace period),
/// every upstream child is stopped, and only then does it return.
pub fn run(path: &Path, overrides: Overrides) -> Result<(), ServeError> {
    let config = config::load(path, &overrides).map_err(ServeError::Config)?;
    run_loaded(path, overrides, config)
}

/// [`run`] with the config already loaded from `path` with `overrides` (the binary reads it
/// first: its `[log]` says how to log).
pub fn run_loaded(
    path: &Path,
    overrides: Overrides,
    config: config::GatewayConfig,
) -> Result<(), ServeError> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.server.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build().map_err(ServeError::Runtime)?;
    runtime.block_on(serve(path, overrides, config))
}

async fn serve(
    path: &Path,
    overrides: Overrides,
    config: config::GatewayConfig,
) -> Result<(), ServeError> {
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Io { addr, source })?;
    // Loaded again with the bound address when it differs (port 0), so that
    // `--listen 127.0.0.1:0` gets URLs (and JWT audiences) with the real port.
    let config = if bound == addr {
        config
    } else {
        let overrides = Overrides { listen: Some(bound), ..overrides };
        config::load(path, &overrides).map_err(ServeError::Config)?
    };
    let store = match &config.credentials {
        config::CredentialsSection::Store(section) => {
            let opened = super::OpenedStore::open(section, &config).await;
            Some(opened.map_err(|message| {
                ServeError::Config(ConfigReport::single("credentials.store", None, message))
            })?)
        }
        _ => None,
    };
    let launcher = Launcher::current_exe().map_err(ServeError::Launcher)?;
    let gateway =
        Gateway::build_with_store(&config, launcher, store.as_ref()).map_err(ServeError::Config)?;
    let connect = match (&config.credentials, &store) {
        (config::CredentialsSection::Store(section), Some(store)) => {
            store.routes(section, &gateway)
        }
        _ => axum::Router::new(),
    };
    // Listening before the banner: a SIGTERM sent as soon as it is printed drains, not kills.
    let signals = super::drain::StopSignals::new();
    let worker_threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(worker_threads, "serving on {bound}");
    for (name, url) in gateway.mounts() {
        println!("mcp-auth: serving {name} at {url}");
    }
    let gateway = std::sync::Arc::new(gateway);
    let delay = config.server.drain_delay;
    tokio::spawn(super::drain::drain_on_signal(gateway.clone(), delay, signals));
    let extra = connect.merge(match (config.server.metrics, gateway.metrics()) {
        (MetricsAt::Public, Some(metrics)) => metrics.router(METRICS_PATH),
        (MetricsAt::Listen(addr), Some(metrics)) => {
            serve_metrics(addr, metrics.router(METRICS_PATH), &gateway).await?;
            axum::Router::new()
        }
        _ => axum::Router::new(),
    });
    gateway
        .serve_with(listener, extra)
        .await
        .map_err(|source| ServeError::Io { addr: bound, source })
}

/// Where `/metrics` is served.
const METRICS_PATH: &str = "/metrics";

/// Serves `router` on `addr` of its own until the gateway stops.
async fn serve_metrics(
    addr: SocketAddr,
    router: axum::Router,
    gateway: &std::sync::Arc<Gateway>,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Io { addr, source })?;
    println!("mcp-auth: metrics at http://{bound}{METRICS_PATH}");
    let stopped = gateway.stopped();
    tokio::spawn(async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(stopped);
        if let Err(error) = serving.await {
            tracing::warn!(%error, "the metrics listener failed");
        }
    });
    Ok(())
}

/// Resolves on SIGTERM (what service managers and `docker stop` send) or Ctrl-C.
pub(crate) async fn stop_signal() {
    super::drain::StopSignals::new().next().await;
}

/// Runs `mcp-auth check --config path`: the summary on success, every problem otherwise.
pub fn check(path: &Path) -> Result<String, ConfigReport> {
    let config = config::load(path, &Overrides::default())?;
    let mut summary = format!("{}: OK\n", path.display());
    for entry in &config.servers {
        summary.push_str(&format!("  {} at {}\n", entry.name, config.mount_url(entry)));
    }
    Ok(summary)
}
