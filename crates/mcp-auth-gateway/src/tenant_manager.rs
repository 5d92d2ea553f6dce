//! `mcp-auth tenant-manager --config FILE`: the built-in credential store served over HTTP as
//! the original package's tenant manager (`GET /api/credentials/:userId/:resourceType`, what
//! `ApiTokenResolver` and `[credentials] mode = "api"` consume) plus its admin API
//! (`mcp_auth_store::TenantManagerService`), for deployments where the gateways and the store
//! are separate services. One box needs none of this: `[credentials] mode = "store"` uses the
//! same store in-process.
//!
//! The config file:
//!
//! ```toml
//! listen = "127.0.0.1:8090"               # default
//! service_token_env = "MCP_AUTH_SERVICE_TOKEN"   # required: what gateways send
//! admin_token_env = "MCP_AUTH_ADMIN_TOKEN"       # optional: without it, no admin API
//!
//! [store]
//! path = "credentials.db"                 # default, next to this file
//! key_env = "MCP_AUTH_STORE_KEYS"         # default; or key_file = "…"
//! audit_max_age = "90d"                   # default
//! audit_max_rows = 1000000                # default
//! ```

use std::{net::SocketAddr, path::Path};

use mcp_auth::Secret;
use mcp_auth_store::TenantManagerService;
use serde::Deserialize;

use crate::{config::StoreSection, store_cli::store_of_table};

/// Where the tenant manager listens by default: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";

/// The tenant manager's settings, checked, its tokens read.
#[derive(Debug)]
pub struct TenantManagerConfig {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The token gateways send.
    pub service_token: Secret,
    /// The admin API's token; `None`: no admin API.
    pub admin_token: Option<Secret>,
    /// The store.
    pub store: StoreSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenantManager {
    listen: Option<String>,
    service_token_env: Option<String>,
    admin_token_env: Option<String>,
    // Read by `store_of_table`; named here so that unknown keys are still refused.
    #[allow(dead_code)]
    store: Option<toml::Table>,
}

impl TenantManagerConfig {
    /// Reads and checks the config at `path`; the error is a message naming the key.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
        let raw: RawTenantManager =
            table.clone().try_into().map_err(|error| format!("{}: {error}", path.display()))?;
        let listen = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen = listen.parse().map_err(|_| {
            format!("{}: listen: expected ADDRESS:PORT, such as {DEFAULT_LISTEN}", path.display())
        })?;
        let token = |key: &str, var: &str| {
            std::env::var(var).ok().filter(|value| !value.is_empty()).map(Secret::new).ok_or_else(
                || format!("{}: {key}: environment variable {var} is not set", path.display()),
            )
        };
        let Some(service_var) = raw.service_token_env.as_deref() else {
            return Err(format!(
                "{}: service_token_env: required, the environment variable holding the token \
                 gateways send",
                path.display()
            ));
        };
        let service_token = token("service_token_env", service_var)?;
        let admin_token = match raw.admin_token_env.as_deref() {
            Some(var) => Some(token("admin_token_env", var)?),
            None => None,
        };
        let store = if raw.store.is_some() {
            store_of_table(path, &table)?
        } else {
            return Err(format!(
                "{}: [store]: required (path, key_env or key_file)",
                path.display()
            ));
        };
        Ok(Self { listen, service_token, admin_token, store })
    }
}

/// Serves the tenant manager of `config` until `stop` resolves; `listen` replaces the
/// config's address. Prints `mcp-auth: tenant manager at http://ADDR` once listening.
pub async fn serve(
    config: TenantManagerConfig,
    listen: Option<SocketAddr>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let store = config.store.open(mcp_auth::UserIdLogging::default()).await?;
    let mut service = TenantManagerService::new(store).with_service_token(config.service_token);
    if let Some(admin) = config.admin_token {
        service = service.with_admin_token(admin);
    }
    let router = service.router().map_err(|error| error.to_string())?;
    let addr = listen.unwrap_or(config.listen);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))?;
    let bound = listener.local_addr().map_err(|error| error.to_string())?;
    println!("mcp-auth: tenant manager at http://{bound}");
    tracing::info!(store = %config.store.path.display(), "tenant manager serving on {bound}");
    axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|error| format!("serving on {bound}: {error}"))
}

/// Runs `mcp-auth tenant-manager --config path` until SIGTERM or Ctrl-C.
pub fn run(path: &Path, listen: Option<SocketAddr>) -> Result<(), String> {
    let config = TenantManagerConfig::load(path)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(serve(config, listen, crate::serve::stop_signal()))
}
