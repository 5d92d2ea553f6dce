//! [`HttpOptions`]: base path, CORS origins, allowed hosts and limits of the HTTP transports,
//! and the connection limits of [`WrappedServer::serve`](crate::WrappedServer::serve).

use std::time::Duration;

use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;

use crate::config::{ConfigError, Environment};

/// Which `Host` values are served. Anything else gets `403` (DNS-rebinding protection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowedHosts {
    /// `localhost`, `127.0.0.1` and `[::1]`, any port (the default, as in rmcp).
    #[default]
    Loopback,
    /// These host names (without port), plus the loopback ones. Set this behind a reverse proxy
    /// or on a public name.
    List(Vec<String>),
    /// Any host: only when something in front already validates `Host`.
    Any,
}

/// Options of the HTTP transports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Where the MCP endpoint lives (default `/mcp`); the legacy SSE endpoints, the
    /// `/message` alias and `/health` hang below it.
    pub base_path: String,
    /// The URL clients reach this server at, without the base path (say
    /// `https://mcp.example.com`, or `https://example.com/tools` behind a proxy that strips
    /// `/tools`). It makes the canonical resource URL of the Protected Resource Metadata and of
    /// the challenges: this plus [`Self::base_path`]. Without it, they are built from each
    /// request's `Host` (and `X-Forwarded-Proto: https`), which is right for local use; a
    /// [`ProtectedResource`](crate::ProtectedResource) in production requires it. Its host is
    /// not added to [`Self::allowed_hosts`] by itself.
    pub public_url: Option<String>,
    /// Name shown by the info document (default `mcp-auth-wrapped-server`, as the original).
    pub name: String,
    /// Version shown by the info document (default `1.0.0`).
    pub version: String,
    /// Browser origins allowed by CORS and by the `Origin` check (default none). `*` is refused
    /// in production and warned about elsewhere.
    pub cors_origins: Vec<String>,
    /// Extra request headers CORS allows beyond the MCP ones.
    pub cors_allowed_headers: Vec<String>,
    /// Accepted `Host` values.
    pub allowed_hosts: AllowedHosts,
    /// The deployment environment (default: from `MCP_AUTH_ENV`).
    pub environment: Environment,
    /// Largest accepted request body (default 4 MiB); larger gets `413`.
    pub max_request_body_bytes: usize,
    /// Interval of SSE keep-alive comments (default 15 s).
    pub sse_keep_alive: Duration,
    /// Answer a 2026-07-28 request whose answer needs no stream with a plain JSON body
    /// (default on). When the handler's first message is the result, the response is
    /// `application/json`; when it sends a notification or request first (progress, a log
    /// message, sampling), the response is an SSE stream as always, and nothing is lost. Off,
    /// every answer is an SSE stream (rmcp's default), which costs ~20 µs more per request.
    /// Session-era (2025-11-25) answers stream either way: rmcp serves every request of a
    /// session through its session manager's stream.
    pub json_response: bool,
    /// Time a client has to send a request's headers (default 10 s): from connecting for the
    /// first request, from the end of the previous response after that. Slower, and the
    /// connection is closed without an answer — a slowloris client holds a connection this long
    /// at most.
    ///
    /// On HTTP/1.1 hyper starts this timer as soon as a keep-alive connection waits for its next
    /// request, so it also closes HTTP/1.1 connections idle that long (see
    /// [`Self::keep_alive_timeout`]). Applies to [`WrappedServer::serve`](crate::WrappedServer::serve).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight (default 60 s); an open
    /// response stream (SSE) counts as in flight. HTTP/2 connections are then closed with
    /// `GOAWAY`. An idle HTTP/1.1 connection is already closed after
    /// [`Self::header_read_timeout`] when that is shorter, as it is by default. Applies to
    /// [`WrappedServer::serve`](crate::WrappedServer::serve).
    pub keep_alive_timeout: Duration,
    /// Time a client has to send a request's whole body, counted from when its headers arrived
    /// (default 30 s). A body still incomplete then gets `408 Request Timeout` and the
    /// connection is closed (RFC 9110 §15.5.9). Applies to
    /// [`WrappedServer::serve`](crate::WrappedServer::serve).
    pub request_body_timeout: Duration,
    /// How long a response may wait for the client to take any of it (default 30 s): when
    /// nothing could be written to a connection for this long while a response is pending (a
    /// client that stopped reading, with the socket's buffers full), the connection is closed,
    /// and with it the response and its hold on the user's caps. A client that reads, however
    /// slowly, is never cut. Applies to [`WrappedServer::serve`](crate::WrappedServer::serve).
    pub response_write_timeout: Duration,
    /// Most connections served at once (default: 10 000, or half the process's open-file limit
    /// when that is lower). A connection over the cap takes the slot of the connection idle
    /// longest (a request head never finished, a keep-alive connection between requests);
    /// when every connection has a request in flight it is accepted and closed at once, so
    /// that it costs no file descriptor and the open connections keep working, and a warning
    /// is logged at most every 10 s. Applies to [`WrappedServer::serve`](crate::WrappedServer::serve).
    pub max_connections: usize,
    /// How long [`WrappedServer::serve`](crate::WrappedServer::serve) lets open connections
    /// finish after [`shutdown`](crate::WrappedServer::shutdown) before dropping them
    /// (default 10 s).
    pub shutdown_grace_period: Duration,
}

/// The default of [`HttpOptions::max_connections`] where the open-file limit is unknown.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The largest accepted timeout: hyper adds timeouts to `Instant::now()`, which overflows (and
/// panics) for `Duration::MAX`.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// `min(10 000, RLIMIT_NOFILE / 2)`: every connection holds a file descriptor, and the other
/// half is left for the listener, the tenant manager, JWKS, logs and child processes.
fn default_max_connections() -> usize {
    open_file_limit().map_or(DEFAULT_MAX_CONNECTIONS, |limit| {
        DEFAULT_MAX_CONNECTIONS.min(usize::try_from(limit / 2).unwrap_or(usize::MAX)).max(1)
    })
}

/// The soft `RLIMIT_NOFILE` of this process, when it has one.
#[cfg(unix)]
pub(crate) fn open_file_limit() -> Option<u64> {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _hard)) if soft != RLIM_INFINITY => Some(soft),
        _ => None,
    }
}

#[cfg(not(unix))]
pub(crate) fn open_file_limit() -> Option<u64> {
    None
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            base_path: "/mcp".to_owned(),
            public_url: None,
            name: "mcp-auth-wrapped-server".to_owned(),
            version: "1.0.0".to_owned(),
            cors_origins: Vec::new(),
            cors_allowed_headers: Vec::new(),
            allowed_hosts: AllowedHosts::Loopback,
            environment: Environment::from_env(),
            max_request_body_bytes: 4 * 1024 * 1024,
            sse_keep_alive: Duration::from_secs(15),
            json_response: true,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            request_body_timeout: Duration::from_secs(30),
            response_write_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
            shutdown_grace_period: Duration::from_secs(10),
        }
    }
}

impl HttpOptions {
    /// Sets [`Self::base_path`].
    pub fn with_base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = path.into();
        self
    }

    /// Sets [`Self::name`] and [`Self::version`].
    pub fn with_name(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.name = name.into();
        self.version = version.into();
        self
    }

    /// Sets [`Self::cors_origins`].
    pub fn with_cors_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Self {
        self.cors_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`Self::cors_allowed_headers`].
    pub fn with_cors_allowed_headers<S: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = S>,
    ) -> Self {
        self.cors_allowed_headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`Self::allowed_hosts`].
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.allowed_hosts = hosts;
        self
    }

    /// Sets [`Self::environment`].
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Sets [`Self::max_request_body_bytes`].
    pub fn with_max_request_body_bytes(mut self, bytes: usize) -> Self {
        self.max_request_body_bytes = bytes;
        self
    }

    /// Sets [`Self::json_response`].
    pub fn with_json_response(mut self, on: bool) -> Self {
        self.json_response = on;
        self
    }

    /// Sets [`Self::sse_keep_alive`].
    pub fn with_sse_keep_alive(mut self, interval: Duration) -> Self {
        self.sse_keep_alive = interval;
        self
    }

    /// Sets [`Self::header_read_timeout`].
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`Self::keep_alive_timeout`].
    pub fn with_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive_timeout = timeout;
        self
    }

    /// Sets [`Self::response_write_timeout`].
    pub fn with_response_write_timeout(mut self, timeout: Duration) -> Self {
        self.response_write_timeout = timeout;
        self
    }

    /// Sets [`Self::request_body_timeout`].
    pub fn with_request_body_timeout(mut self, timeout: Duration) -> Self {
        self.request_body_timeout = timeout;
        self
    }

    /// Sets [`Self::max_connections`].
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`Self::public_url`].
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Sets [`Self::shutdown_grace_period`].
    pub fn with_shutdown_grace_period(mut self, grace: Duration) -> Self {
        self.shutdown_grace_period = grace;
        self
    }

    pub(crate) fn validated(mut self) -> Result<Self, ConfigError> {
        let path = self.base_path.trim_end_matches('/').to_owned();
        if !path.starts_with('/') || path.contains(['?', '#', '{', '}', '*']) {
            return Err(ConfigError::invalid(
                "transport.base_path",
                &self.base_path,
                "an absolute path such as `/mcp`",
            ));
        }
        self.base_path = path;
        if let Some(url) = &self.public_url {
            super::protected_resource::public_url(url)?;
        }
        if self.cors_origins.iter().any(|o| o.trim() == "*") {
            if self.environment.is_production() {
                return Err(ConfigError::invalid(
                    "transport.cors_origins",
                    "*",
                    "explicit origins such as `https://app.example.com`: a wildcard is refused \
                     in production (MCP_AUTH_ENV=production)",
                ));
            }
            tracing::warn!("CORS allows any origin (`*`); this is refused in production");
        }
        for origin in self.cors_origins.iter().filter(|o| o.trim() != "*") {
            if http::HeaderValue::from_str(origin).is_err() || !origin.contains("://") {
                return Err(ConfigError::invalid(
                    "transport.cors_origins",
                    origin,
                    "an origin such as `https://app.example.com`",
                ));
            }
        }
        for header in &self.cors_allowed_headers {
            if http::HeaderName::try_from(header.as_str()).is_err() {
                return Err(ConfigError::invalid(
                    "transport.cors_allowed_headers",
                    header,
                    "HTTP header names",
                ));
            }
        }
        if self.max_request_body_bytes == 0 {
            return Err(ConfigError::invalid("transport.max_request_body_bytes", 0, "at least 1"));
        }
        for (key, timeout) in [
            ("transport.header_read_timeout", self.header_read_timeout),
            ("transport.keep_alive_timeout", self.keep_alive_timeout),
            ("transport.request_body_timeout", self.request_body_timeout),
            ("transport.response_write_timeout", self.response_write_timeout),
        ] {
            if timeout.is_zero() || timeout > MAX_TIMEOUT {
                return Err(ConfigError::invalid(
                    key,
                    format!("{timeout:?}"),
                    "a duration above zero and at most 24 h",
                ));
            }
        }
        if self.shutdown_grace_period > MAX_TIMEOUT {
            return Err(ConfigError::invalid(
                "transport.shutdown_grace_period",
                format!("{:?}", self.shutdown_grace_period),
                "at most 24 h",
            ));
        }
        // tokio's semaphore panics above `usize::MAX >> 3` permits; a cap that high is a
        // mistake anyway, since each connection needs a file descriptor.
        if self.max_connections == 0 || u32::try_from(self.max_connections).is_err() {
            return Err(ConfigError::invalid(
                "transport.max_connections",
                self.max_connections,
                "at least 1, and below the open-file limit (`ulimit -n`)",
            ));
        }
        if let Some(limit) = open_file_limit()
            && self.max_connections as u64 >= limit
        {
            tracing::warn!(
                max_connections = self.max_connections,
                open_file_limit = limit,
                "max_connections is not below the open-file limit: connections beyond the limit \
                 fail to be accepted (EMFILE) instead of being refused"
            );
        }
        Ok(self)
    }

    /// rmcp's own Host check is off: ours ([`super::guard`]) covers every route, the legacy SSE
    /// ones included, with the same rules.
    pub(crate) fn rmcp_config(&self) -> StreamableHttpServerConfig {
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_sse_keep_alive(Some(self.sse_keep_alive))
            .with_max_request_body_bytes(self.max_request_body_bytes)
            .with_json_response(self.json_response)
    }
}
