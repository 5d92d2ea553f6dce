//! The gateway's config file: `mcp-auth serve --config FILE` and `mcp-auth check --config FILE`.
//!
//! A TOML file names the upstream MCP servers to mount (`[[servers]]`, each a stdio command or a
//! Streamable HTTP URL), how callers are authenticated (`[auth]`) and given their upstream
//! credential (`[credentials]`), how the gateway logs (`[log]`), and where replicas share state
//! (`[redis]`); docs/config.md describes every key. [`load`] reads and checks
//! it — every problem found, not just the first, each naming its key ([`ConfigReport`]) — into
//! a [`GatewayConfig`]; [`wrap_builder`] applies one mount of it to the library's
//! [`wrap_server`](mcp_auth::wrap_server) builder.
//!
//! | file | holds |
//! |---|---|
//! | `raw.rs` | the file as written: serde structs, unknown keys refused |
//! | `document.rs` | TOML → raw sections, serde's errors turned into key paths, "did you mean" |
//! | `server.rs` | `[server]`: listen address, public URL, CORS, hosts, environment, limits |
//! | `auth.rs` | `[auth]`: the mode, the JWT key source and its secret |
//! | `authorization.rs` | the OAuth resource-server keys: authorization servers, scopes, links |
//! | `credentials.rs` | `[credentials]`: the resolver mode, the tenant manager and its token |
//! | `connect.rs` | `[credentials.providers.*]`: the OAuth providers users connect accounts with |
//! | `store.rs` | the built-in credential store's file and keys (`mode = "store"`) |
//! | `entry.rs` | `[[servers]]`: names, paths, instances, rate limits |
//! | `log.rs` | `[log]`: the format, and how log lines name users (the tags' key) |
//! | `redis.rs` | `[redis]`: where the replicas' shared state lives (shared rate limits) |
//! | `upstream.rs` | a server's stdio command or http URL, its templates and their rules |
//! | `command.rs` | finding a stdio server's program on `PATH` |
//! | `urls.rs` | the rules of outbound URLs (http(s), plain http only to loopback) |
//! | `duration.rs` | durations such as `"30s"` and `"12h"` |
//! | `wrap.rs` | [`wrap_builder`]: a mount as `wrap_server` settings |
//! | `env.rs` | [`EnvSource`]: where environment variables are read from |
//! | `report.rs` | [`ConfigReport`], [`ConfigProblem`] |

mod auth;
mod authorization;
mod command;
mod connect;
mod credentials;
mod document;
mod duration;
mod entry;
mod env;
mod log;
mod progress;
mod raw;
mod redis;
mod report;
mod server;
mod store;
mod upstream;
mod urls;
mod wrap;

#[cfg(test)]
mod tests;

use std::{net::SocketAddr, path::Path};

#[doc(inline)]
pub use self::{
    auth::{AuthSection, JwtAuth, JwtKey},
    authorization::{Metadata, MountAuthorization},
    connect::{CALLBACK_PATH, ConnectProvider},
    credentials::{ApiCredentials, CredentialsSection, StoreCredentials},
    entry::{DEFAULT_REQUEST_TIMEOUT, InstancePolicy, ServerEntry},
    env::{EnvSource, ProcessEnv},
    log::{LogFormat, LogSection, MIN_USER_HASH_KEY_BYTES},
    redis::{MAX_REDIS_TIMEOUT, RedisSection},
    report::{ConfigProblem, ConfigReport, did_you_mean},
    server::{DEFAULT_LISTEN, MetricsAt, ServerSection},
    store::{DEFAULT_KEY_ENV, DEFAULT_STORE_FILE, StoreKeys, StoreSection},
    upstream::{HttpUpstream, StdioUpstream, Upstream},
    wrap::{wrap_builder, wrap_builder_with_shared, wrap_builder_with_store},
};

pub(crate) use self::{
    duration::ConfigDuration,
    store::{RawStore, validate_store},
};

/// Command-line values that win over the file's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`: replaces `server.listen`.
    pub listen: Option<SocketAddr>,
    /// `--public-url`: replaces `server.public_url`.
    pub public_url: Option<String>,
}

/// A checked config: every mount, and the settings they share.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `[server]`, with the command-line overrides applied.
    pub server: ServerSection,
    /// `[auth]`, its secret already read.
    pub auth: AuthSection,
    /// `[credentials]`, its service token already read.
    pub credentials: CredentialsSection,
    /// `[[servers]]`, at least one, names and paths unique.
    pub servers: Vec<ServerEntry>,
    /// `[log]`, the key of the users' tags already read.
    pub log: LogSection,
    /// `[redis]`, when the file has one.
    pub redis: Option<RedisSection>,
}

impl GatewayConfig {
    /// The URL clients reach the gateway at, without a mount path (`server.public_url`, else
    /// `http://{listen}`).
    pub fn public_url(&self) -> url::Url {
        self.server.public_url.clone()
    }

    /// The public URL without its trailing `/`: what mount paths and `/connect/…` follow.
    pub fn public_base(&self) -> &str {
        self.server.public_url.as_str().trim_end_matches('/')
    }

    /// The URL of one mount: the public URL followed by the mount path, e.g.
    /// `http://127.0.0.1:8080/mcp`. It is also the default JWT audience of that mount.
    pub fn mount_url(&self, entry: &ServerEntry) -> String {
        format!("{}{}", self.public_base(), entry.path)
    }
}

/// Reads and checks the config file at `path`, with the process environment.
pub fn load(path: &Path, overrides: &Overrides) -> Result<GatewayConfig, ConfigReport> {
    let (text, origin) = read_file(path)?;
    let config = parse(&text, &origin, overrides)?;
    // The store's files are next to the config file, not wherever the gateway was started.
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(GatewayConfig {
        credentials: match config.credentials {
            CredentialsSection::Store(section) => CredentialsSection::Store(StoreCredentials {
                store: section.store.relative_to(dir),
                ..section
            }),
            other => other,
        },
        ..config
    })
}

/// Reads the config file at `path` and checks its `[redis]` section alone, with the process
/// environment: for commands that only talk to the replicas' Redis (`mcp-auth invalidate`),
/// which need none of the serving secrets.
pub fn load_redis(path: &Path) -> Result<Option<RedisSection>, ConfigReport> {
    let (text, origin) = read_file(path)?;
    let mut report = ConfigReport::new(&origin);
    let Some(sections) = document::read(&text, &mut report) else { return Err(report) };
    let redis = match sections.redis {
        Some(Some(raw)) => redis::validate_redis(raw, &ProcessEnv, &mut report),
        _ => None,
    };
    if report.is_empty() { Ok(redis) } else { Err(report) }
}

/// The text of the config file at `path`, and the origin its reports name.
fn read_file(path: &Path) -> Result<(String, String), ConfigReport> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, origin)),
        Err(error) => Err(ConfigReport::single(
            "(file)",
            None,
            format!("cannot read the config file: {error}"),
        )
        .with_origin(&origin)),
    }
}

/// Checks config `text` (from `origin`, a path or label used in the report) with the process
/// environment.
pub fn parse(
    text: &str,
    origin: &str,
    overrides: &Overrides,
) -> Result<GatewayConfig, ConfigReport> {
    parse_with_env(text, origin, overrides, &ProcessEnv)
}

/// Checks config `text` reading environment variables (secrets, `PATH`, `MCP_AUTH_ENV`,
/// `MCP_USER_ID`) from `env` instead of the process: tests pass a closure.
///
/// ```
/// use mcp_auth_gateway::config::{Overrides, parse_with_env};
/// let text = r#"
/// [[servers]]
/// name = "memory"
/// command = "/bin/sh"
/// "#;
/// let secret = "0123456789abcdef0123456789abcdef";
/// let env = |name: &str| (name == "MCP_AUTH_JWT_SECRET").then(|| secret.to_owned());
/// let config = parse_with_env(text, "inline", &Overrides::default(), &env).unwrap();
/// assert_eq!(config.mount_url(&config.servers[0]), "http://127.0.0.1:8080/memory");
/// ```
pub fn parse_with_env(
    text: &str,
    origin: &str,
    overrides: &Overrides,
    env: &dyn EnvSource,
) -> Result<GatewayConfig, ConfigReport> {
    let mut report = ConfigReport::new(origin);
    let Some(sections) = document::read(text, &mut report) else { return Err(report) };
    let basics = sections.server.as_ref().map(|raw| server::basics(raw, overrides, env));
    let server = sections.server.and_then(|raw| server::validate(raw, overrides, env, &mut report));
    let auth = sections.auth.and_then(|raw| auth::validate_auth(raw, basics, env, &mut report));
    let credentials = sections.credentials.and_then(|raw| {
        credentials::validate_credentials(raw, auth.as_ref(), basics, env, &mut report)
    });
    let has_redis = !matches!(sections.redis, Some(None));
    let redis = match sections.redis {
        Some(Some(raw)) => redis::validate_redis(raw, env, &mut report).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    let context =
        entry::Context { server: basics, credentials: credentials.as_ref(), env, redis: has_redis };
    let servers = sections.servers.and_then(|raw| entry::validate_all(raw, &context, &mut report));
    let log = sections.log.and_then(|raw| log::validate_log(raw, env, &mut report));
    match (server, auth, credentials, servers, log, redis) {
        (Some(server), Some(auth), Some(credentials), Some(servers), Some(log), Some(redis))
            if report.is_empty() =>
        {
            Ok(GatewayConfig { server, auth, credentials, servers, log, redis })
        }
        _ => Err(report),
    }
}
