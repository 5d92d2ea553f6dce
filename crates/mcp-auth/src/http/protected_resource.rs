//! OAuth 2.0 Protected Resource Metadata (RFC 9728): how an MCP client finds where to get a
//! token for this server.
//!
//! The 2025-11-25 authorization spec: "MCP servers MUST implement OAuth 2.0 Protected Resource
//! Metadata (RFC9728)", naming at least one authorization server. A client learns the
//! document's URL from the `resource_metadata` parameter of a `401`'s challenge, or tries the
//! well-known URLs: the path form `/.well-known/oauth-protected-resource{mcp path}` first, then
//! the root form `/.well-known/oauth-protected-resource`. Both are served, without auth,
//! readable by any origin (the document is public) and cacheable.
//!
//! `resource` is the mount's canonical URL: [`HttpOptions::public_url`] (or, without one, the
//! scheme and `Host` of the request, which the `Host` guard has already accepted) followed by the
//! base path, without a trailing slash. RFC 9728 §3.3: a client must refuse a document whose
//! `resource` differs from the URL it built the metadata URL from.

use std::{borrow::Cow, sync::Arc};

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Map, Value, json};
use url::Url;

use super::HttpOptions;
use crate::config::ConfigError;

/// The well-known path prefix of RFC 9728 §3.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What this server's Protected Resource Metadata says: where to get a token, and for which
/// scopes. Give it to [`WrapServerBuilder::protected_resource`](crate::WrapServerBuilder::protected_resource).
///
/// ```
/// use mcp_auth::ProtectedResource;
/// let metadata = ProtectedResource::new("https://auth.example.com")
///     .with_scopes_supported(["mcp:tools"])
///     .with_resource_name("GitHub tools");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtectedResource {
    /// Issuer URLs of the authorization servers that mint tokens for this server (at least
    /// one): clients fetch their metadata (RFC 8414) from these.
    pub authorization_servers: Vec<String>,
    /// Scopes a client may ask for (`scopes_supported`). Not `offline_access`: the 2026-07-28
    /// spec says a resource SHOULD NOT list it.
    pub scopes_supported: Vec<String>,
    /// A human-readable name (`resource_name`).
    pub resource_name: Option<String>,
    /// A page about this server for developers (`resource_documentation`).
    pub resource_documentation: Option<String>,
}

impl ProtectedResource {
    /// Metadata naming one authorization server (its issuer URL).
    pub fn new(authorization_server: impl Into<String>) -> Self {
        Self {
            authorization_servers: vec![authorization_server.into()],
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
        }
    }

    /// Names one more authorization server.
    #[must_use]
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Sets `scopes_supported`.
    #[must_use]
    pub fn with_scopes_supported<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `resource_name`.
    #[must_use]
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation` (an absolute URL).
    #[must_use]
    pub fn with_resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Checks every field (what [`WrapServerBuilder::build`](crate::WrapServerBuilder::build)
    /// does); `Err` names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const KEY: &str = "protected_resource.authorization_servers";
        if self.authorization_servers.is_empty() {
            return Err(ConfigError::invalid(KEY, "[]", "at least one issuer URL"));
        }
        for issuer in &self.authorization_servers {
            absolute_url(KEY, issuer, false)?;
        }
        for scope in &self.scopes_supported {
            const KEY: &str = "protected_resource.scopes_supported";
            crate::auth::check_scope(KEY, scope)?;
            if scope == "offline_access" {
                // 2026-07-28: refresh tokens are the authorization server's business.
                return Err(ConfigError::invalid(
                    KEY,
                    scope,
                    "resource scopes, not offline_access",
                ));
            }
        }
        if let Some(url) = &self.resource_documentation {
            absolute_url("protected_resource.resource_documentation", url, true)?;
        }
        Ok(())
    }
}

/// An absolute http(s) URL without credentials or fragment (nor a query, for an issuer: RFC
/// 8414 §2).
fn absolute_url(key: &str, text: &str, query_allowed: bool) -> Result<Url, ConfigError> {
    const EXPECTED: &str = "an absolute http(s) URL without credentials, query or fragment";
    let url = Url::parse(text).map_err(|_| ConfigError::invalid(key, text, EXPECTED))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && (query_allowed || url.query().is_none());
    if ok { Ok(url) } else { Err(ConfigError::invalid(key, text, EXPECTED)) }
}

/// The public URL of [`HttpOptions::public_url`], split into origin and path prefix.
pub(crate) fn public_url(text: &str) -> Result<(String, String), ConfigError> {
    let url = absolute_url("transport.public_url", text, false)?;
    let origin = url.origin().ascii_serialization();
    Ok((origin, url.path().trim_end_matches('/').to_owned()))
}

/// A mount's metadata document and the URLs naming it, precomputed.
#[derive(Debug)]
pub(crate) struct ResourceMetadata {
    /// The document without `resource`, which depends on the origin.
    fields: Map<String, Value>,
    /// `HttpOptions::public_url`, split: its origin, and its path without a trailing slash.
    public: Option<(String, String)>,
    /// The mount's path below the origin: the public URL's path, then the base path.
    path: String,
    /// Local paths the document is served at (path form; the root form is added by the router
    /// when this server is the only one on its listener).
    paths: Vec<String>,
}

impl ResourceMetadata {
    pub(crate) fn new(config: ProtectedResource, http: &HttpOptions) -> Self {
        let public = http.public_url.as_deref().and_then(|url| public_url(url).ok());
        let prefix = public.as_ref().map_or("", |(_, prefix)| prefix.as_str());
        let path = format!("{prefix}{}", http.base_path).trim_end_matches('/').to_owned();
        // A proxy in front that strips the public prefix may forward the well-known request
        // with or without it: answer both.
        let mut paths = vec![format!("{WELL_KNOWN}{path}")];
        let local = format!("{WELL_KNOWN}{}", http.base_path.trim_end_matches('/'));
        if !paths.contains(&local) {
            paths.push(local);
        }
        let mut fields = Map::new();
        fields.insert("authorization_servers".into(), json!(config.authorization_servers));
        if !config.scopes_supported.is_empty() {
            fields.insert("scopes_supported".into(), json!(config.scopes_supported));
        }
        fields.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = config.resource_name {
            fields.insert("resource_name".into(), json!(name));
        }
        if let Some(url) = config.resource_documentation {
            fields.insert("resource_documentation".into(), json!(url));
        }
        Self { fields, public, path, paths }
    }

    /// The origin clients reach this server at: the public URL's, else the request's.
    fn origin<'a>(&'a self, headers: &HeaderMap) -> Option<Cow<'a, str>> {
        if let Some((origin, _)) = &self.public {
            return Some(Cow::Borrowed(origin));
        }
        let host = headers.get(header::HOST)?.to_str().ok()?;
        let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
        let scheme = if forwarded.is_some_and(|p| p.eq_ignore_ascii_case("https")) {
            "https"
        } else {
            "http"
        };
        Some(Cow::Owned(format!("{scheme}://{}", host.to_ascii_lowercase())))
    }

    /// The mount's canonical URL: the document's `resource`.
    pub(crate) fn resource(&self, headers: &HeaderMap) -> Option<String> {
        Some(format!("{}{}", self.origin(headers)?, self.path))
    }

    /// The path-form URL of the document: what a challenge's `resource_metadata` names.
    pub(crate) fn url(&self, headers: &HeaderMap) -> Option<String> {
        Some(format!("{}{WELL_KNOWN}{}", self.origin(headers)?, self.path))
    }

    fn document(&self, headers: &HeaderMap) -> Response {
        let Some(resource) = self.resource(headers) else {
            return super::errors::jsonrpc_error(
                axum::http::StatusCode::BAD_REQUEST,
                -32600,
                "Bad Request: no Host",
            );
        };
        let mut body = Map::with_capacity(self.fields.len() + 1);
        body.insert("resource".into(), Value::String(resource));
        body.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut response = axum::Json(Value::Object(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
        if self.public.is_none() {
            // The document depends on these when it is built from the request.
            headers.insert(header::VARY, HeaderValue::from_static("host, x-forwarded-proto"));
        }
        response
    }

    /// The routes serving the document: the path form, and the root form when `root`.
    pub(crate) fn routes(self: &Arc<Self>, root: bool) -> Router {
        let mut paths: Vec<&str> = self.paths.iter().map(String::as_str).collect();
        if root && !paths.contains(&WELL_KNOWN) {
            paths.push(WELL_KNOWN);
        }
        let mut router = Router::new();
        for path in paths {
            let this = self.clone();
            router = router
                .route(path, get(move |headers: HeaderMap| async move { this.document(&headers) }));
        }
        router
    }
}
