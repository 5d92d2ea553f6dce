//! [`ApiTokenResolverBuilder`]: every setting of the tenant-manager resolver, its default, and
//! the checks that turn a misconfiguration into a [`ConfigError`] at startup rather than a
//! failure on the first request.

use std::{sync::Arc, time::Duration};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use super::{
    ApiTokenResolver, Inner,
    cache::{EntryExpiry, Lifetimes},
    fetch::{Fetcher, new_backoff},
    template::PathTemplate,
};
use crate::{
    config::{ConfigError, Environment},
    http_client::{build_client, check_endpoint_url},
    log_ids::UserIdLogging,
    secret::Secret,
};

/// The endpoint path used unless [`ApiTokenResolverBuilder::endpoint_path`] says otherwise.
pub const DEFAULT_ENDPOINT_PATH: &str = "/api/credentials/:userId/:resourceType";

/// Builder for [`ApiTokenResolver`], from [`ApiTokenResolver::builder`].
///
/// ```
/// use std::time::Duration;
/// use mcp_auth::ApiTokenResolver;
///
/// let resolver = ApiTokenResolver::builder("https://tenants.example.com/", "service-token")
///     .cache_ttl(Duration::from_secs(120))
///     .header("X-Client", "mcp-gateway")
///     .build()?;
/// # Ok::<(), mcp_auth::ConfigError>(())
/// ```
///
/// `Debug` redacts the service token and the custom header values.
#[derive(Debug, Clone)]
#[must_use]
pub struct ApiTokenResolverBuilder {
    tenant_manager_url: String,
    service_token: Secret,
    endpoint_path: String,
    cache_ttl: Duration,
    negative_ttl: Duration,
    stale_if_error: Duration,
    failure_cooldown: Duration,
    max_capacity: u64,
    timeout: Duration,
    max_retries: u32,
    retry_base_delay: Duration,
    default_retry_after: Duration,
    headers: Vec<(String, Secret)>,
    allow_insecure_http: bool,
    environment: Option<Environment>,
    user_ids: UserIdLogging,
}

impl ApiTokenResolverBuilder {
    pub(super) fn new(tenant_manager_url: String, service_token: Secret) -> Self {
        Self {
            tenant_manager_url,
            service_token,
            endpoint_path: DEFAULT_ENDPOINT_PATH.to_owned(),
            cache_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(600),
            failure_cooldown: Duration::from_secs(1),
            max_capacity: 10_000,
            timeout: Duration::from_secs(5),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(100),
            default_retry_after: Duration::from_secs(5),
            headers: Vec::new(),
            allow_insecure_http: false,
            environment: None,
            user_ids: UserIdLogging::default(),
        }
    }

    /// The path appended to the tenant manager URL (default [`DEFAULT_ENDPOINT_PATH`]). It must
    /// start with `/` and contain `:userId`; every `:userId` and `:resourceType` in it is
    /// replaced by the percent-encoded value.
    pub fn endpoint_path(mut self, path: impl Into<String>) -> Self {
        self.endpoint_path = path.into();
        self
    }

    /// How long a fetched credential is served without asking again (default 5 min). Always cut
    /// short by the credential's own expiry. Zero disables caching (concurrent misses still share
    /// one call).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long a `404` (or an already-expired credential) is remembered (default 30 s), so that
    /// requests for a user without a credential do not each reach the tenant manager. Zero
    /// disables negative caching.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How long after [`cache_ttl`](Self::cache_ttl) a credential may still stand in when a
    /// refresh fails with an outage (default 10 min; zero disables). Never past the
    /// credential's own expiry.
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = window;
        self
    }

    /// How long a failed fetch is reused — serving the stale credential or the same
    /// `TenantManagerUnavailable` — before the next request tries again (default 1 s, never longer
    /// than the failure's `retry_after`). Callers that were waiting on the failed fetch share its
    /// result regardless.
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.failure_cooldown = cooldown;
        self
    }

    /// Most `(user, resource type)` entries kept (default 10 000; at least 1). The least
    /// recently used go first.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.max_capacity = entries;
        self
    }

    /// Timeout of one attempt, reading the body included (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries after a `5xx`, a connection failure or a timeout (default 2, so at most 3
    /// attempts). `4xx` answers are never retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// First backoff delay (default 100 ms); it doubles per retry, up to 2 s, with up to 100 %
    /// random jitter added.
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// The `retry_after` reported when the tenant manager gave none (default 5 s; at least 1 s,
    /// since `Retry-After` counts whole seconds).
    pub fn default_retry_after(mut self, retry_after: Duration) -> Self {
        self.default_retry_after = retry_after;
        self
    }

    /// Sends an extra header with every call (a later call with the same name replaces the
    /// value). `Authorization` is refused at [`build`](Self::build): it carries the service token.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Secret>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Allows a plain-`http` tenant manager on a non-loopback host (default false). Refused in
    /// [`Environment::Production`]: the service token and credentials would cross the network in
    /// clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The deployment environment (default: read from `MCP_AUTH_ENV`).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// How the resolver's log lines name users (default: a keyed tag under the process's random
    /// key). Give it the same value as the server it resolves for
    /// ([`WrapServerBuilder::user_id_logging`](crate::WrapServerBuilder::user_id_logging)), so
    /// that a user has one tag on every line; see [`crate::log_ids`].
    pub fn user_id_logging(mut self, user_ids: UserIdLogging) -> Self {
        self.user_ids = user_ids;
        self
    }

    /// Validates the configuration and builds the resolver.
    pub fn build(self) -> Result<ApiTokenResolver, ConfigError> {
        let environment = self.environment.unwrap_or_else(Environment::from_env);
        if self.allow_insecure_http && environment.is_production() {
            return Err(ConfigError::invalid(
                "tenant_api.allow_insecure_http",
                true,
                "false in production (plain http is allowed only to loopback hosts)",
            ));
        }
        let base_url = self.checked_base_url()?;
        let template = PathTemplate::parse(&self.endpoint_path)?;
        let headers = self.headers()?;
        self.check_numbers()?;
        let fetcher = Fetcher {
            client: build_client(self.timeout)?,
            base_url,
            template,
            headers,
            max_retries: self.max_retries,
            retry_base_delay: self.retry_base_delay,
            default_retry_after: self.default_retry_after,
            user_ids: self.user_ids,
        };
        let cache = moka::future::Cache::builder()
            .name("mcp-auth.tenant_api")
            .max_capacity(self.max_capacity)
            .expire_after(EntryExpiry)
            .build();
        Ok(ApiTokenResolver {
            inner: Arc::new(Inner {
                fetcher,
                cache,
                lifetimes: Lifetimes {
                    cache_ttl: self.cache_ttl,
                    stale_if_error: self.stale_if_error,
                },
                negative_ttl: self.negative_ttl,
                failure_cooldown: self.failure_cooldown,
                counts: Default::default(),
            }),
        })
    }

    /// The URL without trailing `/`, checked for scheme and shape.
    fn checked_base_url(&self) -> Result<String, ConfigError> {
        const KEY: &str = "tenant_api.tenant_manager_url";
        let base = self.tenant_manager_url.trim().trim_end_matches('/');
        let url = check_endpoint_url(KEY, base, self.allow_insecure_http)?;
        if !url.username().is_empty() || url.password().is_some() {
            // The value holds a password: not shown.
            return Err(ConfigError::invalid_secret(KEY, "a URL without `user:password@`"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::invalid(KEY, base, "a URL without `?query` or `#fragment`"));
        }
        if url.scheme() == "http" {
            tracing::warn!(
                url = base,
                "tenant manager over plain http: credentials are not encrypted"
            );
        }
        Ok(base.to_owned())
    }

    /// `Authorization: Bearer …` (sensitive), `Accept: application/json`, then custom headers.
    fn headers(&self) -> Result<HeaderMap, ConfigError> {
        const TOKEN_KEY: &str = "tenant_api.service_token";
        if self.service_token.expose().trim().is_empty() {
            return Err(ConfigError::invalid_secret(TOKEN_KEY, "a non-empty service token"));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", self.service_token.expose())).map_err(
                |_| ConfigError::invalid_secret(TOKEN_KEY, "a token of visible ASCII characters"),
            )?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            let key = format!("tenant_api.headers.{name}");
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::invalid("tenant_api.headers", name, "an HTTP header name")
            })?;
            if name == AUTHORIZATION {
                return Err(ConfigError::invalid(
                    "tenant_api.headers",
                    name,
                    "any header but Authorization, which carries the service token",
                ));
            }
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| ConfigError::invalid_secret(key, "visible ASCII characters"))?;
            // Custom headers often hold API keys: keep them out of `Debug` output and HPACK tables.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers.insert(AUTHORIZATION, authorization);
        Ok(headers)
    }

    fn check_numbers(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::invalid("tenant_api.timeout", "0s", "a positive duration"));
        }
        if self.max_capacity == 0 {
            return Err(ConfigError::invalid("tenant_api.max_capacity", 0, "at least 1 entry"));
        }
        if self.default_retry_after < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "tenant_api.default_retry_after",
                format!("{:?}", self.default_retry_after),
                "at least 1 s (Retry-After counts whole seconds)",
            ));
        }
        new_backoff(self.retry_base_delay).map(drop).map_err(|e| {
            ConfigError::invalid(
                "tenant_api.retry_base_delay",
                format!("{:?}", self.retry_base_delay),
                e.to_string(),
            )
        })
    }
}
