//! The proxy: a `ServerHandler` per user (or session) that forwards the whole MCP protocol to
//! that user's upstream server, both ways.
//!
//! [`ProxyServer`] is what the gateway's instance factory builds for each user, so everything
//! the library does — authentication, rate limits, credential resolution, per-user instances,
//! session binding, eviction — applies to it unchanged. Downstream requests are forwarded
//! ([`forward`]); what the upstream sends on its own is routed back by [`UpstreamClient`] to
//! this instance's clients only. The upstream is reached through a [`Connector`]: a supervised
//! child over stdio ([`StdioConnector`]) or a Streamable HTTP server ([`HttpConnector`]).

// Sampling, roots, logging and resource subscriptions are deprecated by SEP-2577 and legacy in
// 2026-07-28, but clients and servers of the 2025 era still use them: the proxy forwards them.
#![allow(deprecated)]

mod client;
mod connectors;
mod counted;
mod forward;
mod link;
mod listen;
mod passthrough;
mod routes;
mod tools;

use std::{sync::Arc, time::Duration};

use axum::body::Bytes;
use axum::response::IntoResponse as _;
use mcp_auth::http::{SessionAnswer, SessionChange, SessionFuture, Stateless, StatelessFuture};
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, ClientRequest, CompleteRequest,
        CompleteRequestParams, CompleteResult, DiscoverResult, GetPromptRequest,
        GetPromptRequestParams, GetPromptResponse, Implementation, InitializeRequestParams,
        InitializeResult, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
        ListToolsResult, PaginatedRequestParams, PingRequest, ProtocolVersion, ReadResourceRequest,
        ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
        ServerPeerInfo, ServerResult, SetLevelRequest, SetLevelRequestParams, SubscribeRequest,
        SubscribeRequestParams, SubscriptionFilter, SubscriptionsListenRequestMethod, Tool,
        UnsubscribeRequest, UnsubscribeRequestParams,
    },
    service::{RequestContext, SubscriptionContext},
};
use tokio_util::task::TaskTracker;

pub use self::{
    client::UpstreamClient,
    connectors::{HttpConnector, StdioConnector},
    link::{BoxFuture, ConnectError, Connection, Connector},
    passthrough::{Passthrough, SharedRoute},
};
use self::{forward::forward, link::UpstreamLink, tools::ToolCache};

/// Forwards one instance's MCP traffic to its upstream.
pub struct ProxyServer {
    name: Arc<str>,
    link: UpstreamLink,
    request_timeout: Duration,
    tools: ToolCache,
    /// The fast path for stateless-era requests, for an http upstream.
    passthrough: Option<Passthrough>,
    /// A second upstream session, opened with `server/discover`, for 2026-07-28 callers of a
    /// stdio server (an http upstream of that era gets them through `passthrough`). What only
    /// that era carries (input-required results, per-request client capabilities,
    /// `subscriptions/listen`) cannot cross the session-era link.
    modern: Option<UpstreamLink>,
}

impl ProxyServer {
    /// A proxy to the upstream `connector` reaches, for the server called `name`. It connects on
    /// first use; graceful closes of its upstream run on `closer`, which the gateway waits for
    /// at exit.
    pub fn new(
        name: impl Into<Arc<str>>,
        connector: impl Connector,
        request_timeout: Duration,
        closer: TaskTracker,
    ) -> Self {
        Self {
            name: name.into(),
            link: UpstreamLink::new(Box::new(connector), request_timeout, closer),
            request_timeout,
            tools: ToolCache::default(),
            passthrough: None,
            modern: None,
        }
    }

    /// Serves 2026-07-28 callers through an upstream session of their own era, made through
    /// `connector` on their first request (for a server of the session era only it falls back
    /// to `initialize`). A user calling in both eras then has two upstream sessions.
    pub fn with_modern_link(mut self, connector: impl Connector) -> Self {
        let mut link =
            UpstreamLink::new(Box::new(connector), self.request_timeout, self.link.closer());
        link.forward_roots = self.link.forward_roots;
        link.modern = true;
        self.modern = Some(link);
        self
    }

    /// The link that serves the caller of `context`: its era's.
    fn link_for(&self, context: &RequestContext<RoleServer>) -> &UpstreamLink {
        match &self.modern {
            Some(modern) if is_modern_caller(context) => modern,
            _ => &self.link,
        }
    }

    /// Forwards stateless-era requests through `passthrough` when its upstream speaks that era
    /// ([`answer_stateless`](Self::answer_stateless)).
    pub fn with_passthrough(mut self, passthrough: Passthrough) -> Self {
        self.passthrough = Some(passthrough);
        self
    }

    /// The library's stateless hook: forwards the request as it came when this proxy has a
    /// passthrough to an upstream of that era, and declines it otherwise.
    pub fn answer_stateless(self: Arc<Self>, request: http::Request<Bytes>) -> StatelessFuture {
        Box::pin(async move {
            match &self.passthrough {
                Some(passthrough) => passthrough.forward(request).await,
                None => Stateless::Declined(request),
            }
        })
    }

    /// The library's session hook (registered for http upstreams only): forwards each request
    /// of a session-era caller to its own upstream session, as it came.
    pub fn answer_session(
        self: Arc<Self>,
        request: http::Request<Bytes>,
        theirs: Option<Arc<str>>,
    ) -> SessionFuture {
        Box::pin(async move {
            match &self.passthrough {
                Some(passthrough) => passthrough.forward_session(request, theirs).await,
                None => SessionAnswer {
                    response: http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    change: SessionChange::None,
                },
            }
        })
    }

    /// Passes the upstream's `roots/list` requests to the caller instead of answering them with
    /// no roots (see `client.rs` for why that is the default).
    pub fn forward_roots(mut self, on: bool) -> Self {
        self.link.forward_roots = on;
        if let Some(modern) = &mut self.modern {
            modern.forward_roots = on;
        }
        self
    }

    /// Connects to the upstream now (a warm instance), instead of on the first request.
    pub async fn connect(&self) -> Result<(), ConnectError> {
        self.link.get().await.map(drop)
    }

    /// Closes the upstream (its child is stopped gracefully) and refuses further requests.
    pub async fn close(&self) {
        self.link.close().await;
        if let Some(modern) = &self.modern {
            modern.close().await;
        }
    }

    async fn forward(
        &self,
        request: ClientRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<ServerResult, McpError> {
        forward(self.link_for(context), request, context, self.request_timeout).await
    }

    /// The downstream's view of the upstream: its identity and the capabilities the proxy
    /// forwards (tools, resources, prompts, completions, logging). Anything else the upstream
    /// offers (tasks, extensions) is not advertised, because it would not be forwarded.
    fn mirrored(&self, upstream: &ServerPeerInfo) -> ServerConfig {
        let mut capabilities = ServerCapabilities::default();
        capabilities.tools = upstream.capabilities.tools.clone();
        capabilities.resources = upstream.capabilities.resources.clone();
        capabilities.prompts = upstream.capabilities.prompts.clone();
        capabilities.completions = upstream.capabilities.completions.clone();
        capabilities.logging = upstream.capabilities.logging.clone();
        let server_info = upstream
            .server_info
            .clone()
            .unwrap_or_else(|| Implementation::new(self.name.to_string(), "unknown"));
        let mut config = ServerConfig::new(capabilities).with_server_info(server_info);
        config.instructions = upstream.instructions.clone();
        config
    }

    async fn connected_info(&self, link: &UpstreamLink) -> Result<ServerConfig, McpError> {
        let live = link.get().await.map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(self.mirrored(&live.info))
    }
}

/// The result variant a forwarded request must come back as; anything else is the upstream's
/// protocol error.
macro_rules! expect_result {
    ($result:expr, $variant:ident) => {
        match $result? {
            ServerResult::$variant(result) => Ok(result.into()),
            _ => Err(McpError::internal_error(
                concat!(
                    "the upstream server answered with a result that is not a ",
                    stringify!($variant)
                ),
                None,
            )),
        }
    };
    // A request that may be answered "input required" (2026-07-28): that answer goes to the
    // caller as it is, which retries with the input.
    ($result:expr, $variant:ident or input required) => {
        match $result? {
            ServerResult::$variant(result) => Ok(result.into()),
            ServerResult::InputRequiredResult(result) => Ok(result.into()),
            _ => Err(McpError::internal_error(
                concat!(
                    "the upstream server answered with a result that is not a ",
                    stringify!($variant)
                ),
                None,
            )),
        }
    };
}

impl ServerHandler for ProxyServer {
    fn get_info(&self) -> ServerConfig {
        let info = self.link.info().or_else(|| self.modern.as_ref().and_then(UpstreamLink::info));
        match info {
            Some(info) => self.mirrored(&info),
            // Not connected yet: nothing is advertised until the upstream says what it has.
            None => ServerConfig::new(ServerCapabilities::default())
                .with_server_info(Implementation::new(self.name.to_string(), "unknown")),
        }
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        context.peer.set_peer_info(request.clone());
        let mut info = self.connected_info(&self.link).await?;
        self.link.routes.add_peer(context.peer.clone());
        let negotiated = self.negotiate_initialize(&request)?;
        info.protocol_version = negotiated.protocol_version;
        Ok(info)
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, McpError> {
        let info = self.connected_info(self.link_for(&context)).await?;
        Ok(DiscoverResult::from_server_info(self.supported_protocol_versions().into_owned(), info))
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), McpError> {
        let request = ClientRequest::PingRequest(PingRequest::default());
        self.forward(request, &context).await.map(drop)
    }

    async fn complete(
        &self,
        params: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(params));
        expect_result!(self.forward(request, &context).await, CompleteResult)
    }

    async fn set_level(
        &self,
        params: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let request = ClientRequest::SetLevelRequest(SetLevelRequest::new(params));
        self.forward(request, &context).await.map(drop)
    }

    async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
        expect_result!(self.forward(request, &context).await, GetPromptResult or input required)
    }

    async fn list_prompts(
        &self,
        params: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let request = ClientRequest::ListPromptsRequest(paginated(params));
        expect_result!(self.forward(request, &context).await, ListPromptsResult)
    }

    async fn list_resources(
        &self,
        params: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let request = ClientRequest::ListResourcesRequest(paginated(params));
        expect_result!(self.forward(request, &context).await, ListResourcesResult)
    }

    async fn list_resource_templates(
        &self,
        params: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let request = ClientRequest::ListResourceTemplatesRequest(paginated(params));
        expect_result!(self.forward(request, &context).await, ListResourceTemplatesResult)
    }

    async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
        expect_result!(self.forward(request, &context).await, ReadResourceResult or input required)
    }

    async fn subscribe(
        &self,
        params: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let request = ClientRequest::SubscribeRequest(SubscribeRequest::new(params));
        self.forward(request, &context).await.map(drop)
    }

    async fn unsubscribe(
        &self,
        params: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let request = ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(params));
        self.forward(request, &context).await.map(drop)
    }

    async fn call_tool(
        &self,
        params: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        expect_result!(self.forward(request, &context).await, CallToolResult or input required)
    }

    async fn list_tools(
        &self,
        params: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let request = ClientRequest::ListToolsRequest(paginated(params));
        let result: Result<ListToolsResult, McpError> =
            expect_result!(self.forward(request, &context).await, ListToolsResult);
        if let Ok(list) = &result {
            self.tools.remember(&list.tools);
        }
        result
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name)
    }

    // `subscriptions/listen` is of the 2026-07-28 era only: relayed through that era's upstream
    // session (stdio; an http upstream of the era gets it through the passthrough). rmcp narrows
    // the filter to what `get_info` advertises, which is what the upstream advertised.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.modern.as_ref().map(|_| requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        match &self.modern {
            Some(link) => listen::relay(link, context).await,
            None => Err(McpError::method_not_found::<SubscriptionsListenRequestMethod>()),
        }
    }

    // `notifications/roots/list_changed` from the caller is not passed on: by default the
    // upstream's roots are the gateway's empty list (`client.rs`), which never changes; with
    // `forward_roots` the gateway offers roots without `listChanged`, and the upstream asks
    // again when it needs them (one upstream serves all of the user's sessions, whose roots
    // may differ).
}

/// True for a caller of the 2026-07-28 era: its request says its version in `_meta` (a
/// session-era caller's does not; its version is the session's).
fn is_modern_caller(context: &RequestContext<RoleServer>) -> bool {
    context.meta.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

/// A list request with the client's pagination parameters, if any (rmcp's `with_param` takes
/// them only when present).
fn paginated<M: Default>(
    params: Option<PaginatedRequestParams>,
) -> rmcp::model::RequestOptionalParam<M, PaginatedRequestParams> {
    rmcp::model::RequestOptionalParam {
        method: M::default(),
        params,
        extensions: Default::default(),
    }
}
