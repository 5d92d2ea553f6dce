//! The config file as written: one struct per TOML table, every key optional unless noted,
//! unknown keys refused. [`super::validate`] turns these into the checked
//! [`GatewayConfig`](super::GatewayConfig); docs/config.md describes every key.

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;

use super::duration::ConfigDuration;

/// The whole file. Only used to list the top-level keys: each section is read on its own so
/// that a mistake in one does not hide the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read through introspection only
pub(crate) struct RawConfig {
    /// `[server]`: the listener and HTTP settings shared by every mount.
    server: Option<RawServer>,
    /// `[auth]`: who is calling.
    auth: Option<RawAuth>,
    /// `[credentials]`: which upstream credential each caller gets.
    credentials: Option<RawCredentials>,
    /// `[[servers]]`: the upstream servers, one mount each (required).
    servers: Option<Vec<RawServerEntry>>,
    /// `[log]`: the log's format and how it names users.
    log: Option<RawLog>,
    /// `[redis]`: state shared by the replicas (rate limits with `shared = true`).
    redis: Option<RawRedis>,
}

/// `[redis]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRedis {
    /// `redis://…`, `rediss://…` or `redis+unix:///path` (required in the section); may hold a
    /// password, so never echoed.
    pub url: Option<String>,
    /// Environment variable holding the URL instead (for a password kept in a secret store).
    pub url_env: Option<String>,
    /// Prepended to every key (default `mcp-auth:`).
    pub key_prefix: Option<String>,
    /// Longest wait for one Redis call (default 50ms).
    pub timeout: Option<ConfigDuration>,
    /// Environment variable holding the key user ids are hashed under in Redis keys (default:
    /// a fixed public key, i.e. a plain hash).
    pub user_hash_key_env: Option<String>,
    /// Environment variable holding the base64 of the 32-byte AES key that seals the
    /// credentials the replicas share (default none: nothing shared).
    pub credential_key_env: Option<String>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    /// Address to listen on (default `127.0.0.1:8080`); parsed by the check, which says what
    /// an address looks like.
    pub listen: Option<String>,
    /// The URL clients reach the gateway at, without the mount path (default
    /// `http://{listen}`); may carry a base path.
    pub public_url: Option<String>,
    /// Browser origins allowed by CORS and the `Origin` check (default none).
    pub cors_origins: Vec<String>,
    /// `Host` values accepted besides the public URL's host and loopback (default none).
    pub allowed_hosts: Vec<String>,
    /// `development` or `production` (default: `MCP_AUTH_ENV`).
    pub environment: Option<RawEnvironment>,
    /// Threads serving requests (default: one per CPU, or `TOKIO_WORKER_THREADS`).
    pub worker_threads: Option<usize>,
    /// `/metrics` (Prometheus text): `"off"` (default), `"public"` (on `listen`), or an
    /// address of its own such as `"127.0.0.1:9464"`.
    pub metrics: Option<String>,
    /// After SIGTERM, how long `/ready` answers 503 while requests are still served, before
    /// the listener closes (default 0: close at once).
    pub drain_delay: Option<ConfigDuration>,
    /// `[server.limits]`.
    pub limits: RawLimits,
    /// `[server.progress]`.
    pub progress: RawProgress,
}

/// `[server.progress]`: each key overrides one default of `mcp_auth::progress::ProgressOptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawProgress {
    /// Monitor progress streams and serve `{mount}/progress/stats` (default true).
    pub enabled: Option<bool>,
    /// The scope `{mount}/progress/metrics` requires (default: that endpoint is off).
    pub admin_scope: Option<String>,
    /// A stream without a message for this long is dropped (default 5 min).
    pub idle_timeout: Option<ConfigDuration>,
    /// Health: no message for this long is an issue (default 2 min).
    pub stale_after: Option<ConfigDuration>,
    /// Health: a stream older than this is a warning (default 1 h).
    pub very_old_after: Option<ConfigDuration>,
    /// Health: more messages per second than this is a warning (default 100).
    pub high_rate_per_second: Option<f64>,
    /// Streams monitored at once (default 10 000).
    pub max_streams: Option<usize>,
    /// Streams of one user monitored at once (default 100).
    pub max_streams_per_user: Option<usize>,
}

/// `server.environment`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawEnvironment {
    /// Local development: unsafe settings are allowed (and warned about).
    Development,
    /// A real deployment: unsafe settings are errors (`prod` is accepted too).
    #[serde(alias = "prod")]
    Production,
}

/// `[server.limits]`: each key overrides one default of `mcp_auth::Limits` or `HttpOptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLimits {
    /// Largest request body in bytes (default 4 MiB).
    pub max_request_body_bytes: Option<usize>,
    /// Most connections at once (default 10 000, or half the open-file limit).
    pub max_connections: Option<usize>,
    /// Requests of one user served at once (default 32).
    pub max_in_flight_per_user: Option<usize>,
    /// Response bytes one user has not read yet (default 32 MiB).
    pub max_unread_response_bytes_per_user: Option<usize>,
    /// Streamable HTTP sessions per user (default 32).
    pub max_sessions_per_user: Option<usize>,
    /// Legacy HTTP+SSE sessions per user (default 32).
    pub max_sse_sessions_per_user: Option<usize>,
    /// Sessions of all users together (default 20 000).
    pub max_sessions_total: Option<usize>,
    /// Idle time after which a Streamable HTTP session hibernates (default 60 s).
    pub session_hibernate_after: Option<ConfigDuration>,
    /// Idle time after which a Streamable HTTP session is forgotten (default 30 min).
    pub session_idle_timeout: Option<ConfigDuration>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAuth {
    /// `jwt` (default), `env` or `none`.
    pub mode: RawAuthMode,
    /// jwt: the environment variable holding the shared secret (default
    /// `MCP_AUTH_JWT_SECRET` when no other key source is given).
    pub secret_env: Option<String>,
    /// jwt: a file holding the shared secret (trailing newlines ignored).
    pub secret_file: Option<PathBuf>,
    /// jwt: a PEM file holding the public key.
    pub public_key_file: Option<PathBuf>,
    /// jwt: the identity provider's JWKS URL.
    pub jwks_url: Option<String>,
    /// jwt: the signing algorithm (default HS256 for a secret, RS256 for a public key).
    pub algorithm: Option<String>,
    /// jwt: the required `iss`.
    pub issuer: Option<String>,
    /// jwt: the required `aud` (default: each mount's URL).
    pub audience: Option<String>,
    /// jwt: the claim holding the user id (default `sub`).
    pub user_claim: Option<String>,
    /// jwt: the claim holding embedded upstream tokens (default `tokens`).
    pub tokens_claim: Option<String>,
    /// jwt: the authorization servers named by each mount's Protected Resource Metadata
    /// (default: `issuer`, when it is a URL).
    pub authorization_servers: Vec<String>,
    /// jwt: the metadata's `scopes_supported` (default: each mount's `scopes`).
    pub scopes_supported: Vec<String>,
}

/// `auth.mode`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawAuthMode {
    /// A verified bearer JWT.
    #[default]
    Jwt,
    /// One fixed user from `MCP_USER_ID`.
    Env,
    /// Anonymous, loopback only.
    None,
}

/// `[credentials]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCredentials {
    /// `none` (default), `env`, `jwt`, `api` or `store`.
    pub mode: RawCredentialsMode,
    /// env: the variable holding the token (default `{RESOURCE_TYPE}_ACCESS_TOKEN`).
    pub var: Option<String>,
    /// api: the tenant manager's base URL.
    pub url: Option<String>,
    /// api: the environment variable holding the service token (required).
    pub service_token_env: Option<String>,
    /// api: the endpoint path (default `/api/credentials/:userId/:resourceType`).
    pub endpoint: Option<String>,
    /// api, store: how long a fetched credential is reused (default 5m with api, 30s with
    /// store; 0 disables caching).
    pub cache_ttl: Option<ConfigDuration>,
    /// api: allow a plain-http tenant manager on a non-loopback host (default false).
    pub allow_insecure_http: bool,
    /// store: the SQLite file (default `credentials.db` next to the config file).
    pub store: Option<std::path::PathBuf>,
    /// store: the environment variable holding the keyring (default `MCP_AUTH_STORE_KEYS`).
    pub key_env: Option<String>,
    /// store: a file holding the keyring, instead of `key_env`.
    pub key_file: Option<std::path::PathBuf>,
    /// store: how long before its expiry a token is refreshed (default 60s).
    pub refresh_margin: Option<ConfigDuration>,
    /// store: the oldest audit row the store keeps (default 90d).
    pub audit_max_age: Option<ConfigDuration>,
    /// store: the most audit rows the store keeps (default 1,000,000).
    pub audit_max_rows: Option<u64>,
    /// store: OAuth providers users connect their accounts with, by resource type.
    pub providers: std::collections::BTreeMap<String, super::connect::RawConnectProvider>,
}

/// `credentials.mode`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawCredentialsMode {
    /// No credential: `{access_token}` is empty.
    #[default]
    None,
    /// From an environment variable of the gateway.
    Env,
    /// Embedded in the caller's JWT.
    Jwt,
    /// From a tenant manager over HTTP.
    Api,
    /// From the built-in credential store, in-process.
    Store,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    /// `pretty` (default) or `json`.
    pub format: RawLogFormat,
    /// Log user ids as they are instead of their keyed tags (default false).
    pub log_user_ids: bool,
    /// The environment variable holding the key of the users' tags (default: a random key
    /// per process).
    pub user_hash_key_env: Option<String>,
    /// A file holding that key (trailing newlines ignored).
    pub user_hash_key_file: Option<PathBuf>,
}

/// `log.format`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawLogFormat {
    /// Human-readable lines, coloured on a terminal.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// One `[[servers]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServerEntry {
    /// Unique name, `[a-z0-9_-]+` (required).
    pub name: String,
    /// Unique mount path (default `/{name}`).
    #[serde(default)]
    pub path: Option<String>,
    /// The resource type passed to the token resolver (default `default`).
    #[serde(default)]
    pub resource_type: Option<String>,
    /// stdio: the program to run.
    #[serde(default)]
    pub command: Option<String>,
    /// stdio: its arguments (templates).
    #[serde(default)]
    pub args: Vec<String>,
    /// stdio: environment variables set for it (template values).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// stdio: gateway environment variables it inherits besides PATH, HOME and LANG.
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// stdio: its working directory (template).
    #[serde(default)]
    pub cwd: Option<String>,
    /// http: the Streamable HTTP URL of the upstream.
    #[serde(default)]
    pub url: Option<String>,
    /// http: headers sent with every request (template values).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// http: allow plain http to a non-loopback host (default false).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Request headers usable as `{extra.NAME}` (default none).
    #[serde(default)]
    pub extras: Vec<String>,
    /// Pass the upstream's `roots/list` to the caller (default false: answered with no roots).
    #[serde(default)]
    pub forward_roots: bool,
    /// Scopes every request's token must hold (default none).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A page about this server, named by its Protected Resource Metadata.
    #[serde(default)]
    pub resource_documentation: Option<String>,
    /// Where a user without an upstream credential connects one (named by the 403).
    #[serde(default)]
    pub connect_url: Option<String>,
    /// `[servers.tool_scopes]`: tool name → scopes a call of it needs beyond `scopes`.
    #[serde(default)]
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// List tools the caller may not call too (default false: they are left out).
    #[serde(default)]
    pub show_all_tools: bool,
    /// `[servers.instances]`.
    #[serde(default)]
    pub instances: RawInstances,
    /// `[servers.rate_limit]`.
    #[serde(default)]
    pub rate_limit: RawRateLimit,
}

/// `[servers.instances]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawInstances {
    /// `per_user` (default) or `per_session`.
    pub mode: Option<RawInstanceMode>,
    /// Most instances held at once (default 10 000).
    pub max_instances: Option<u64>,
    /// Instances one user may hold at once (default 8).
    pub max_instances_per_user: Option<usize>,
    /// An instance unused this long is dropped (default 15m).
    pub idle_timeout: Option<ConfigDuration>,
    /// An instance is rebuilt after this long (default 12h).
    pub max_lifetime: Option<ConfigDuration>,
    /// stdio: children started ahead of demand (default 0).
    pub warm_pool: usize,
    /// Longest wait for the upstream's answer to one request (default 60s).
    pub request_timeout: Option<ConfigDuration>,
}

/// `servers.instances.mode`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawInstanceMode {
    /// One instance per user.
    PerUser,
    /// One instance per session.
    PerSession,
}

/// `[servers.rate_limit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRateLimit {
    /// Sustained requests per second per user (default 20).
    pub per_second: Option<u32>,
    /// Requests accepted back to back (default 100).
    pub burst: Option<u32>,
    /// Whether the limit applies (default true).
    pub enabled: Option<bool>,
    /// One budget per user across every replica, kept in `[redis]` (default false: per
    /// process).
    pub shared: Option<bool>,
    /// With `shared`: what a check does while Redis is down (default `open`).
    pub fail_mode: Option<RawFailMode>,
}

/// `servers.rate_limit.fail_mode`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawFailMode {
    /// Limit per replica, with the same quota, until Redis is back.
    Open,
    /// Refuse requests (503) until Redis is back.
    Closed,
}
