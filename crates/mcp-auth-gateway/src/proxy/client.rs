//! [`UpstreamClient`]: the client side of the proxy. It receives what the upstream server sends
//! on its own (progress, notifications, and requests for sampling, elicitation and roots) and
//! delivers it to the right downstream client — never to another user's.

use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequest, CreateMessageRequestParams,
        CreateMessageResult, ElicitRequest, ElicitRequestParams, ElicitResult, Implementation,
        ListRootsRequest, ListRootsResult, LoggingMessageNotificationParam,
        ProgressNotificationParam, ResourceUpdatedNotificationParam, ServerRequest,
    },
    service::{NotificationContext, OriginatingRequestId, RequestContext},
};

use super::routes::Routes;

/// Handles the upstream's messages for one instance.
#[derive(Clone)]
pub struct UpstreamClient {
    pub(crate) routes: Routes,
}

/// How the gateway introduces itself to upstream servers.
fn client_info() -> Implementation {
    Implementation::new("mcp-auth-gateway", env!("CARGO_PKG_VERSION"))
}

impl UpstreamClient {
    /// Sends `request` to the downstream client the upstream is serving, on that call's stream.
    async fn ask_downstream(
        &self,
        mut request: ServerRequest,
        what: &str,
    ) -> Result<rmcp::model::ClientResult, McpError> {
        let Some((peer, originating)) = self.routes.requester() else {
            return Err(McpError::internal_error(
                format!("no client is connected to answer the {what} request"),
                None,
            ));
        };
        if let Some(id) = originating {
            use rmcp::model::GetExtensions as _;
            request.extensions_mut().insert(OriginatingRequestId(id));
        }
        peer.send_request(request).await.map_err(|error| match error {
            rmcp::ServiceError::McpError(error) => error,
            other => McpError::internal_error(
                format!("the client did not answer the {what} request: {other}"),
                None,
            ),
        })
    }
}

/// The upstream gets a result of the wrong type only from a broken client.
fn unexpected(what: &str) -> McpError {
    McpError::internal_error(
        format!("the client answered the {what} request with another result type"),
        None,
    )
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        // Everything a downstream client may offer; whether the one asked does is its answer.
        let capabilities = ClientCapabilities::builder()
            .enable_sampling()
            .enable_elicitation()
            .enable_roots()
            .enable_roots_list_changed()
            .build();
        ClientConfig::new(capabilities, client_info())
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match self.ask_downstream(request, "sampling").await? {
            rmcp::model::ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(unexpected("sampling")),
        }
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        match self.ask_downstream(request, "elicitation").await? {
            rmcp::model::ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(unexpected("elicitation")),
        }
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        let request = ServerRequest::ListRootsRequest(ListRootsRequest::default());
        match self.ask_downstream(request, "roots").await? {
            rmcp::model::ClientResult::ListRootsResult(result) => Ok(result),
            _ => Err(unexpected("roots")),
        }
    }

    async fn on_progress(
        &self,
        mut params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        // rmcp gave the upstream call its own token: report with the caller's.
        let Some(call) = self.routes.by_upstream_progress(&params.progress_token) else {
            return;
        };
        if let Some((_, downstream_token)) = call.progress {
            params.progress_token = downstream_token;
            let _ = call.peer.notify_progress(params).await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        for peer in self.routes.peers() {
            let _ = peer.notify_logging_message(params.clone()).await;
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        for peer in self.routes.peers() {
            let _ = peer.notify_resource_updated(params.clone()).await;
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        for peer in self.routes.peers() {
            let _ = peer.notify_resource_list_changed().await;
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        for peer in self.routes.peers() {
            let _ = peer.notify_tool_list_changed().await;
        }
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        for peer in self.routes.peers() {
            let _ = peer.notify_prompt_list_changed().await;
        }
    }
}
