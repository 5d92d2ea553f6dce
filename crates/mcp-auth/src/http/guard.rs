//! `Host` and `Origin` checks (DNS-rebinding protection), and CORS.
//!
//! MCP transports spec (2025-11-25, 2026-07-28): "Servers MUST validate the `Origin` header on all
//! incoming connections"; "If the `Origin` header is present and invalid, servers MUST respond
//! with HTTP 403 Forbidden". The `Host` check stops a rebinding attack before the `Origin` check
//! is even needed. Both run before authentication, on every route.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{AllowedHosts, HttpOptions, errors::jsonrpc_error};

const LOOPBACK_HOSTS: [&str; 4] = ["localhost", "127.0.0.1", "[::1]", "::1"];

/// What the guard needs, precomputed once.
pub(crate) struct Guard {
    hosts: AllowedHosts,
    origins: Vec<String>,
    any_origin: bool,
}

impl Guard {
    pub(crate) fn new(options: &HttpOptions) -> Arc<Self> {
        let any_origin = options.cors_origins.iter().any(|o| o.trim() == "*");
        let origins = options
            .cors_origins
            .iter()
            .filter(|o| o.trim() != "*")
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect();
        let hosts = match &options.allowed_hosts {
            AllowedHosts::List(list) => {
                AllowedHosts::List(list.iter().map(|h| h.to_ascii_lowercase()).collect())
            }
            other => other.clone(),
        };
        Arc::new(Self { hosts, origins, any_origin })
    }

    fn host_allowed(&self, host: Option<&str>) -> bool {
        let name = match host {
            Some(host) => host_name(host),
            None => return self.hosts == AllowedHosts::Any,
        };
        match &self.hosts {
            AllowedHosts::Any => true,
            AllowedHosts::Loopback => LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(name)),
            AllowedHosts::List(list) => {
                LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(name))
                    || list.iter().any(|h| h.eq_ignore_ascii_case(name))
            }
        }
    }

    /// An origin is allowed when configured, or when it is the server's own (same-origin: the
    /// `Host` it names was already accepted).
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.any_origin || self.origins.contains(&origin) {
            return true;
        }
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
    }
}

/// Middleware: `403` for a foreign `Host` or a disallowed `Origin`.
pub(crate) async fn check_host_and_origin(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !guard.host_allowed(host) {
        return jsonrpc_error(
            StatusCode::FORBIDDEN,
            -32000,
            "Forbidden: Host header is not allowed",
        );
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| guard.origin_allowed(o, host));
        if !allowed {
            return jsonrpc_error(
                StatusCode::FORBIDDEN,
                -32000,
                "Forbidden: Origin is not allowed",
            );
        }
    }
    next.run(request).await
}

/// The host name of a `Host` value, without its port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// CORS for the configured origins, with the original's methods, headers and max age, plus the
/// MCP headers clients send today. `None` when no origin is configured.
pub(crate) fn cors(options: &HttpOptions) -> Option<CorsLayer> {
    if options.cors_origins.is_empty() {
        return None;
    }
    let mut allow_headers: Vec<HeaderName> = [
        "content-type",
        "authorization",
        "x-request-id",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "last-event-id",
    ]
    .into_iter()
    .map(HeaderName::from_static)
    .collect();
    allow_headers.extend(
        options.cors_allowed_headers.iter().filter_map(|h| HeaderName::try_from(h.as_str()).ok()),
    );
    let expose = ["mcp-session-id", "x-request-id", "www-authenticate", "retry-after"]
        .map(HeaderName::from_static);
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers(allow_headers)
        .expose_headers(expose)
        .max_age(std::time::Duration::from_secs(86_400));
    let layer = if options.cors_origins.iter().any(|o| o.trim() == "*") {
        // Browsers refuse credentials with a wildcard origin, so none are allowed then.
        layer.allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> =
            options.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        layer.allow_origin(origins).allow_credentials(true)
    };
    Some(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("example.com"), "example.com");
    }

    #[test]
    fn loopback_hosts_only_by_default() {
        let guard = Guard::new(&HttpOptions::default());
        assert!(guard.host_allowed(Some("127.0.0.1:3000")));
        assert!(guard.host_allowed(Some("[::1]:3000")));
        assert!(!guard.host_allowed(Some("evil.example.com")));
        assert!(!guard.host_allowed(None));
    }

    #[test]
    fn origins_must_be_configured_or_same_origin() {
        let options = HttpOptions::default().with_cors_origins(["https://app.example.com"]);
        let guard = Guard::new(&options);
        assert!(guard.origin_allowed("https://app.example.com", Some("127.0.0.1:1")));
        assert!(guard.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(!guard.origin_allowed("http://evil.example.com", Some("127.0.0.1:8080")));
    }
}
