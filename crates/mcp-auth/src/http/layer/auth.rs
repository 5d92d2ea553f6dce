//! [`AuthLayer`]: authenticate, check the required scopes, put the [`Principal`] in the
//! request's extensions; or answer with the challenge.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{HeaderMap, request::Parts},
    response::Response,
};
use rmcp::ServerHandler;
use tower::{Layer, Service};

use crate::{
    ProtectedResource,
    admission::{FailedAuthLimiter, Identify, SecurityLog},
    auth::{AuthProvider, Principal, TransportKind},
    config::ConfigError,
    http::Shared,
    http::{Challenges, CredentialHeaders, HttpOptions, ResourceMetadata, challenge},
    limits::Limits,
    middleware::RateLimitConfig,
};

type PassFuture<'a> = Pin<Box<dyn Future<Output = Result<Principal, Response>> + Send + 'a>>;

/// Who may pass, and what to strip once they have.
pub(crate) trait Gate: Send + Sync + 'static {
    /// The caller, or the response that refuses them.
    fn pass<'a>(&'a self, parts: &'a Parts) -> PassFuture<'a>;
    /// Removes the credential headers.
    fn strip(&self, headers: &mut HeaderMap);
}

/// A wrapped server's own gate: exactly its MCP routes' checks, rate limit included.
impl<H: ServerHandler> Gate for Shared<H> {
    fn pass<'a>(&'a self, parts: &'a Parts) -> PassFuture<'a> {
        Box::pin(crate::http::authenticate(self, parts, TransportKind::StreamableHttp))
    }

    fn strip(&self, headers: &mut HeaderMap) {
        self.credential_headers.strip(headers);
    }
}

/// The gate of an [`AuthLayer`] built on its own.
struct Standalone {
    auth: Arc<dyn AuthProvider>,
    failed_auth: Option<FailedAuthLimiter>,
    challenges: Challenges,
    security_log: SecurityLog,
    credential_headers: CredentialHeaders,
}

impl Gate for Standalone {
    fn pass<'a>(&'a self, parts: &'a Parts) -> PassFuture<'a> {
        Box::pin(async move {
            if challenge::has_query_token(parts.uri.query()) {
                return Err(self.challenges.query_token(&parts.headers));
            }
            let ctx = crate::http::request_context(parts, TransportKind::StreamableHttp);
            let identify = Identify {
                auth: &*self.auth,
                failed_auth: self.failed_auth.as_ref(),
                required_scopes: &self.challenges.required_scopes,
                security_log: &self.security_log,
            };
            identify.run(&ctx).await.map_err(|r| self.challenges.refusal(&r, &parts.headers))
        })
    }

    fn strip(&self, headers: &mut HeaderMap) {
        self.credential_headers.strip(headers);
    }
}

/// Authenticates every request (see [the module](super) for an example); the handler finds the caller as an
/// `Extension<Principal>`.
#[derive(Clone)]
pub struct AuthLayer {
    gate: Arc<dyn Gate>,
    /// The Protected Resource Metadata the challenges name, when built with one.
    metadata: Option<Arc<ResourceMetadata>>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer").finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// Authenticates with `provider`, with the default failed-auth budget and no required
    /// scopes.
    pub fn new(provider: impl AuthProvider) -> Self {
        Self::builder(provider).build().expect("the defaults are valid")
    }

    /// Starts an [`AuthLayer`] with more settings.
    pub fn builder(provider: impl AuthProvider) -> AuthLayerBuilder {
        AuthLayerBuilder {
            auth: Arc::new(provider),
            required_scopes: Vec::new(),
            metadata: None,
            failed_auth_per_peer: Limits::default().failed_auth_per_peer,
        }
    }

    pub(crate) fn from_gate(gate: Arc<dyn Gate>) -> Self {
        Self { gate, metadata: None }
    }

    /// The routes serving the Protected Resource Metadata document named by the challenges
    /// (at `/.well-known/oauth-protected-resource{path}` and the root form), when the layer
    /// was built with [`AuthLayerBuilder::protected_resource`]. Merge them into your router
    /// outside the layer: the document needs no token.
    pub fn metadata_router(&self) -> Option<axum::Router> {
        self.metadata.as_ref().map(|metadata| metadata.routes(true))
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { gate: self.gate.clone(), inner }
    }
}

/// Settings of an [`AuthLayer`].
#[must_use]
pub struct AuthLayerBuilder {
    auth: Arc<dyn AuthProvider>,
    required_scopes: Vec<String>,
    metadata: Option<(ProtectedResource, String)>,
    failed_auth_per_peer: RateLimitConfig,
}

impl AuthLayerBuilder {
    /// Scopes every request needs; a token without them gets `403 insufficient_scope` naming
    /// them all.
    pub fn required_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The Protected Resource Metadata (RFC 9728) of the resource at `resource_url` (its
    /// canonical URL, such as `https://api.example.com/mcp`): the `401`/`403` challenges name
    /// its document, which [`AuthLayer::metadata_router`] serves.
    pub fn protected_resource(
        mut self,
        metadata: ProtectedResource,
        resource_url: impl Into<String>,
    ) -> Self {
        self.metadata = Some((metadata, resource_url.into()));
        self
    }

    /// Failed authentications allowed per peer address (default 20 per second, bursts of 100);
    /// over it, `429` before any token is parsed.
    pub fn failed_auth_per_peer(mut self, config: RateLimitConfig) -> Self {
        self.failed_auth_per_peer = config;
        self
    }

    /// Validates the settings.
    pub fn build(self) -> Result<AuthLayer, ConfigError> {
        let mut http = HttpOptions::default();
        let metadata = match self.metadata {
            Some((metadata, url)) => {
                let (origin, path) =
                    crate::http::protected_resource::public_url(&url).map_err(|e| ConfigError {
                        key: "protected_resource.resource_url".into(),
                        ..e
                    })?;
                http.public_url = Some(origin);
                http.base_path = path;
                Some(metadata)
            }
            None => None,
        };
        let challenges = Challenges::configure(
            metadata,
            self.required_scopes,
            None,
            (Default::default(), false),
            &http,
        )?;
        let metadata = challenges.metadata.clone();
        let gate = Standalone {
            failed_auth: FailedAuthLimiter::new(&self.failed_auth_per_peer)?,
            credential_headers: CredentialHeaders::new(&*self.auth),
            auth: self.auth,
            challenges,
            security_log: SecurityLog::default(),
        };
        Ok(AuthLayer { gate: Arc::new(gate), metadata })
    }
}

/// The service of an [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    gate: Arc<dyn Gate>,
    inner: S,
}

impl<S> std::fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service goes with this call; its clone waits for the next (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let principal = match gate.pass(&parts).await {
                Ok(principal) => principal,
                Err(refused) => return Ok(refused),
            };
            gate.strip(&mut parts.headers);
            parts.extensions.insert(principal);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
