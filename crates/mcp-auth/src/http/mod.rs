//! The HTTP transports of [`wrap_server`](crate::wrap_server), as one axum router:
//!
//! | route | what |
//! |---|---|
//! | `POST/GET/DELETE {base}` | Streamable HTTP, both eras ([`streamable`]) |
//! | `POST {base}/message` | the original package's alias of the above |
//! | `GET {base}/sse`, `POST {base}/messages` | legacy HTTP+SSE ([`sse`]) |
//! | `GET {base}/health` | `{"status":"ok"}`, no auth: liveness, `200` for as long as the process answers |
//! | `GET {base}/ready` | `{"status":"ready"}`; `503` `{"status":"draining"}` once shutdown has begun, `503` `{"status":"not_ready"}` while a [readiness check](crate::readiness) fails; no auth |
//! | `GET {base}` (no SSE `Accept`) | the info document, no auth |
//!
//! Every request gets an id first ([`RequestIdLayer`]: the `X-Request-ID` of the request, its
//! response and its log lines; see [`crate::log_ids`]); every route passes the `Host`/`Origin` guard and CORS next;
//! every MCP route authenticates.

mod body;
pub(crate) mod challenge;
pub(crate) mod errors;
mod guard;
mod hooked;
mod info;
pub mod layer;
mod list_filter;
mod message;
mod options;
mod progress;
pub(crate) mod protected_resource;
mod request_id;
pub(crate) mod serve;
mod shared;
mod sse;
mod sse_events;
mod sse_ids;
mod sse_progress;
mod sse_queue;
mod stateless;
mod streamable;
mod tool_scopes;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit},
    http::request::Parts,
    routing::{any, get, post},
};
use rmcp::ServerHandler;
use tower::ServiceBuilder;

pub use self::challenge::CREDENTIAL_REQUIRED_CODE;
pub(crate) use self::challenge::Challenges;
pub(crate) use self::hooked::SessionHandler;
pub use self::hooked::{SessionAnswer, SessionChange, SessionFuture};
#[doc(inline)]
pub use self::layer::{
    AuthLayer, AuthLayerBuilder, AuthService, UserRateLimitLayer, UserRateLimitService,
};
#[doc(inline)]
pub use self::options::{AllowedHosts, HttpOptions};
pub use self::protected_resource::ProtectedResource;
pub(crate) use self::protected_resource::ResourceMetadata;
#[doc(inline)]
pub use self::request_id::{RequestIdFuture, RequestIdLayer, RequestIdService};
pub(crate) use self::shared::Shared;
pub(crate) use self::sse::SseSessions;
pub(crate) use self::stateless::StatelessHandler;
pub use self::stateless::{Stateless, StatelessFuture};

use crate::{
    admission::{Admission, Refusal},
    auth::{RequestContext, TransportKind},
};

/// The router of one wrapped server; `root_metadata`: also serve the Protected Resource
/// Metadata at the root well-known path (when this is the only server on its listener).
pub(crate) fn router<H: ServerHandler>(shared: Arc<Shared<H>>, root_metadata: bool) -> Router {
    let base = shared.http.base_path.clone();
    let metadata = shared.challenges.metadata.clone();
    let metrics = shared.admission.metrics.clone();
    let (http, log) = (shared.http.clone(), shared.admission.security_log.clone());
    let guard = guard::Guard::new(&shared.http, shared.admission.security_log.clone());
    let cors = guard::cors(&shared.http);
    let body_limit = shared.http.max_request_body_bytes;
    let router = Router::new()
        .route(&base, any(streamable::handle::<H>))
        .route(&format!("{base}/message"), any(streamable::handle::<H>))
        .route(&format!("{base}/sse"), get(sse::connect::<H>))
        .route(&format!("{base}/messages"), post(sse::post_message::<H>))
        .route(&format!("{base}/health"), get(info::health))
        .route(&format!("{base}/ready"), get(info::ready::<H>));
    // Only the caller is needed there: the server's own `AuthLayer`, no credential or instance.
    let router = match &shared.progress {
        Some(_) => router.merge(
            Router::new()
                .route(&format!("{base}/progress/stats"), get(progress::stats::<H>))
                .route(&format!("{base}/progress/metrics"), get(progress::metrics::<H>))
                .route_layer(AuthLayer::from_gate(shared.clone())),
        ),
        None => router,
    };
    // One stack, applied once: each `Router::layer` call boxes every route again (a clone and
    // a boxed future per request per call), so the layers every request passes are composed
    // here first, outermost first.
    let front = ServiceBuilder::new()
        .layer(RequestIdLayer)
        .option_layer(metrics.as_ref().map(|metrics| metrics.layer(&base)))
        .layer(guard::GuardLayer(guard))
        .option_layer(cors)
        .layer(DefaultBodyLimit::max(body_limit));
    let router = router.with_state(shared).layer(front);
    match metadata {
        Some(metadata) => {
            let metrics = metrics.as_ref().map(|metrics| metrics.layer(&base));
            router.merge(metadata_routes(&metadata, root_metadata, &http, &log, metrics))
        }
        None => router,
    }
}

/// The Protected Resource Metadata routes: no auth, readable from any origin (the document is
/// public, and browser-based clients fetch it cross-origin), `Host` still checked.
fn metadata_routes(
    metadata: &Arc<ResourceMetadata>,
    root: bool,
    http: &HttpOptions,
    log: &Arc<crate::admission::SecurityLog>,
    metrics: Option<crate::metrics::MetricsLayer>,
) -> Router {
    let guard = guard::Guard::for_public_documents(http, log.clone());
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([http::Method::GET]);
    let front = ServiceBuilder::new()
        .layer(RequestIdLayer)
        .option_layer(metrics)
        .layer(guard::GuardLayer(guard))
        .layer(cors);
    metadata.routes(root).layer(front)
}

/// The headers that carry a caller's credentials. They are removed once the request is admitted,
/// before rmcp sees it: rmcp hands the request `Parts` to every handler, and the MCP spec forbids
/// passing the client's token through to the server.
pub(crate) struct CredentialHeaders(Vec<http::HeaderName>);

impl CredentialHeaders {
    pub(crate) fn new(provider: &dyn crate::auth::AuthProvider) -> Self {
        use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
        let mut names = vec![AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];
        for name in provider.credential_headers() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Self(names)
    }

    /// Removes every credential header (all values of each).
    pub(crate) fn strip(&self, headers: &mut http::HeaderMap) {
        for name in &self.0 {
            headers.remove(name);
        }
    }
}

/// Admits an HTTP request, or answers why not with the challenges due. A token in the query
/// string is refused before anything else is looked at: the spec forbids it there.
pub(crate) async fn admit<H: ServerHandler>(
    shared: &Shared<H>,
    parts: &Parts,
    transport: TransportKind,
) -> Result<Admission<H>, axum::response::Response> {
    if let Some(refused) = query_token_refused(shared, parts) {
        return Err(refused);
    }
    let ctx = request_context(parts, transport);
    shared.admission.admit(&ctx).await.map_err(|refusal| refused(shared, &refusal, parts))
}

/// Authenticates an HTTP request (scopes and rate limit included) without resolving a
/// credential or finding an instance: for the endpoints that only need to know the caller.
pub(crate) async fn authenticate<H: ServerHandler>(
    shared: &Shared<H>,
    parts: &Parts,
    transport: TransportKind,
) -> Result<crate::auth::Principal, axum::response::Response> {
    if let Some(refused) = query_token_refused(shared, parts) {
        return Err(refused);
    }
    let ctx = request_context(parts, transport);
    match shared.admission.authenticate(&ctx).await {
        Ok((principal, _)) => Ok(principal),
        Err(refusal) => Err(refused(shared, &refusal, parts)),
    }
}

/// The `400` for a token in the URL query, which the spec forbids there.
fn query_token_refused<H>(shared: &Shared<H>, parts: &Parts) -> Option<axum::response::Response> {
    if !challenge::has_query_token(parts.uri.query()) {
        return None;
    }
    if let Some(metrics) = &shared.admission.metrics {
        metrics.refused("query_token");
    }
    Some(shared.challenges.query_token(&parts.headers))
}

fn refused<H: ServerHandler>(
    shared: &Shared<H>,
    refusal: &Refusal,
    parts: &Parts,
) -> axum::response::Response {
    shared.admission.count_refusal(refusal);
    shared.challenges.refusal(refusal, &parts.headers)
}

/// Checks a POSTed body against the tool scopes (see [`Challenges::check_tools`]); a refusal
/// is logged and counted like the other scope refusals.
pub(crate) fn check_tools<H>(
    shared: &Shared<H>,
    body: &[u8],
    principal: &crate::auth::Principal,
    headers: &http::HeaderMap,
) -> Result<Option<list_filter::ListFilter>, Box<axum::response::Response>> {
    shared.challenges.check_tools(body, principal.scopes(), headers).inspect_err(|_| {
        shared.admission.security_log.refused("tool_scope", principal.user_id(), None);
        if let Some(metrics) = &shared.admission.metrics {
            metrics.refused("insufficient_scope");
        }
    })
}

/// The auth provider's view of an HTTP request.
pub(crate) fn request_context(parts: &Parts, transport: TransportKind) -> RequestContext<'_> {
    let mut ctx = RequestContext::new(transport, &parts.headers);
    if let Some(query) = parts.uri.query() {
        ctx = ctx.with_query(query);
    }
    if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        ctx = ctx.with_peer_addr(*addr);
    }
    ctx
}
