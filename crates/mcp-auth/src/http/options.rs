//! [`HttpOptions`]: base path, CORS origins, allowed hosts and limits of the HTTP transports.

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
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            base_path: "/mcp".to_owned(),
            name: "mcp-auth-wrapped-server".to_owned(),
            version: "1.0.0".to_owned(),
            cors_origins: Vec::new(),
            cors_allowed_headers: Vec::new(),
            allowed_hosts: AllowedHosts::Loopback,
            environment: Environment::from_env(),
            max_request_body_bytes: 4 * 1024 * 1024,
            sse_keep_alive: Duration::from_secs(15),
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

    /// Sets [`Self::sse_keep_alive`].
    pub fn with_sse_keep_alive(mut self, interval: Duration) -> Self {
        self.sse_keep_alive = interval;
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
        Ok(self)
    }

    /// rmcp's own Host check is off: ours ([`super::guard`]) covers every route, the legacy SSE
    /// ones included, with the same rules.
    pub(crate) fn rmcp_config(&self) -> StreamableHttpServerConfig {
        StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .with_sse_keep_alive(Some(self.sse_keep_alive))
            .with_max_request_body_bytes(self.max_request_body_bytes)
    }
}
