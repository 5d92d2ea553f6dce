//! [`UpstreamClient`]: the client side of the proxy. It receives what the upstream server sends
//! on its own (progress, notifications, and requests for sampling and elicitation) and delivers
//! it to the right downstream client — never to another user's.
//!
//! Roots are the exception: by default `roots/list` is answered here with no roots, and never
//! asked of the caller. A root names a directory the server may use, and a server behind the
//! gateway runs on the gateway's host: servers such as `@modelcontextprotocol/server-filesystem`
//! replace their configured directories with the client's roots, so a forwarded answer would let
//! any caller swap the operator's per-user directory (`args = ["/srv/files/{user_id_hash}"]`)
//! for another user's, or for `/` (tests/e2e `gw-filesystem`). A server whose callers may choose
//! what it touches (the config's `forward_roots = true`) gets the caller's answer instead.

use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient, ServiceExt as _,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequest, CreateMessageRequestParams,
        CreateMessageResult, ElicitRequest, ElicitRequestParams, ElicitResult, Implementation,
        ListRootsRequest, ListRootsResult, LoggingMessageNotificationParam,
        ProgressNotificationParam, ProtocolVersion, ResourceUpdatedNotificationParam,
        ServerRequest,
    },
    service::{
        ClientInitializeError, ClientLifecycleMode, ClientServiceExt as _, NotificationContext,
        OriginatingRequestId, RequestContext, RunningService,
    },
    transport::IntoTransport,
};

use tokio_util::task::AbortOnDropHandle;

use super::routes::Routes;

/// Handles the upstream's messages for one instance.
#[derive(Clone)]
pub struct UpstreamClient {
    pub(crate) routes: Routes,
    /// Ask the caller for roots instead of answering none.
    pub(crate) forward_roots: bool,
    /// Open the upstream session with `server/discover` (2026-07-28), falling back to
    /// `initialize` for a server of the session era only; `false`: `initialize`.
    pub(crate) modern: bool,
}

/// How the gateway introduces itself to upstream servers.
fn client_info() -> Implementation {
    Implementation::new("mcp-auth-gateway", env!("CARGO_PKG_VERSION"))
}

impl UpstreamClient {
    /// Completes the handshake over `transport`, in this client's era.
    pub(crate) async fn start<T, E, A>(
        self,
        transport: T,
    ) -> Result<RunningService<RoleClient, Self>, ClientInitializeError>
    where
        T: IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        if !self.modern {
            return self.serve(transport).await;
        }
        let lifecycle = ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            legacy_version: Some(ProtocolVersion::V_2025_11_25),
        };
        self.serve_with_lifecycle(transport, lifecycle).await
    }

    /// Sends `request` to the downstream client the upstream is serving, on that call's stream.
    async fn ask_downstream(
        &self,
        mut request: ServerRequest,
        what: &str,
    ) -> Result<rmcp::model::ClientResult, McpError> {
        // Not before the call that caused it is registered (`routes.rs`).
        drop(self.routes.registering.read().await);
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
        // Sent from a task of its own: this handler runs in rmcp's task-local scope of the
        // upstream's request, and rmcp would replace our originating id with that one (an id the
        // caller never sent), so the request would leave on the caller's standalone stream
        // instead of their call's (tests/e2e gw-everything, without a GET stream).
        let sent =
            AbortOnDropHandle::new(tokio::spawn(async move { peer.send_request(request).await }));
        let answer = sent.await.map_err(|_| {
            McpError::internal_error(format!("the {what} request to the client failed"), None)
        })?;
        answer.map_err(|error| match error {
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
        // Roots are offered (servers that require the capability keep working) but always empty,
        // and never change (see the module docs).
        let capabilities = ClientCapabilities::builder()
            .enable_sampling()
            .enable_elicitation()
            .enable_roots()
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

    /// No roots, without asking the caller: a caller's roots would widen what a server on the
    /// gateway's host may touch (see the module docs). With `forward_roots`, the caller's.
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        if !self.forward_roots {
            return Ok(ListRootsResult::new(Vec::new()));
        }
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
        let upstream_token = params.progress_token.clone();
        // Not before the call is registered (the upstream may report progress at once).
        drop(self.routes.registering.read().await);
        // rmcp gave the upstream call its own token: report with the caller's.
        if let Some(call) = self.routes.by_upstream_progress(&upstream_token)
            && let Some((_, downstream_token)) = call.progress
        {
            params.progress_token = downstream_token;
            let _ = call.peer.notify_progress(params).await;
        }
        // Passed on (or dropped): the call's answer may now follow it (`counted.rs`).
        self.routes.progress_handled(&upstream_token);
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

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use rmcp::{
        ServerHandler, ServiceExt as _,
        model::{ProgressToken, Root},
        service::RunningService,
    };

    use super::*;

    /// A caller whose client would hand out `/` as its root.
    #[derive(Clone, Default)]
    struct GreedyCaller {
        asked: Arc<AtomicUsize>,
    }

    impl ClientHandler for GreedyCaller {
        async fn list_roots(
            &self,
            _context: RequestContext<RoleClient>,
        ) -> Result<ListRootsResult, McpError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            Ok(ListRootsResult::new(vec![Root::new("file:///")]))
        }
    }

    #[derive(Clone)]
    struct AnyServer;
    impl ServerHandler for AnyServer {}

    /// Regression (tests/e2e gw-filesystem): server-filesystem replaced its per-user directory
    /// with whatever roots the caller announced, so any caller could read any file of the host.
    /// A caller's session with the gateway, in the instance's routes, and the upstream server
    /// talking to the proxy's client: the upstream and everything that must stay alive.
    async fn caller_and_upstream(
        caller: GreedyCaller,
        forward_roots: bool,
    ) -> (RunningService<rmcp::RoleServer, AnyServer>, impl Sized) {
        let (gateway_io, caller_io) = tokio::io::duplex(64 * 1024);
        let (gateway_side, caller_side) =
            tokio::join!(AnyServer.serve(gateway_io), caller.serve(caller_io));
        let (gateway_side, caller_side) = (gateway_side.unwrap(), caller_side.unwrap());
        let routes = Routes::default();
        routes.add_peer(gateway_side.peer().clone());
        let (upstream_io, proxy_io) = tokio::io::duplex(64 * 1024);
        let client = UpstreamClient { routes, forward_roots, modern: false };
        let (upstream, proxy) = tokio::join!(AnyServer.serve(upstream_io), client.serve(proxy_io));
        (upstream.unwrap(), (gateway_side, caller_side, proxy.unwrap()))
    }

    #[tokio::test]
    async fn an_upstreams_roots_request_gets_no_roots_and_never_reaches_the_caller() {
        let caller = GreedyCaller::default();
        let (upstream, _alive) = caller_and_upstream(caller.clone(), false).await;

        let offered = upstream.peer().peer_info().expect("the proxy introduced itself");
        let roots = offered.capabilities.roots.clone().expect("roots are offered");
        assert_ne!(roots.list_changed, Some(true), "the roots never change");
        let answer = upstream.peer().list_roots().await.expect("roots/list is answered");
        assert!(answer.roots.is_empty(), "the caller's roots reached the upstream: {answer:?}");
        assert_eq!(caller.asked.load(Ordering::SeqCst), 0, "the caller was asked for roots");
    }

    /// `forward_roots = true`: the upstream's request reaches the caller, and its answer the
    /// upstream.
    #[tokio::test]
    async fn with_forward_roots_the_callers_roots_reach_the_upstream() {
        let caller = GreedyCaller::default();
        let (upstream, _alive) = caller_and_upstream(caller.clone(), true).await;

        let answer = upstream.peer().list_roots().await.expect("roots/list is answered");
        assert_eq!(answer.roots, vec![Root::new("file:///")]);
        assert_eq!(caller.asked.load(Ordering::SeqCst), 1, "the caller was asked once");
    }

    /// Regression (tests/e2e gw-everything): rmcp handles each notification in a task of its
    /// own, so the upstream's answer could overtake its last progress notification, which was
    /// then dropped. A call now waits for the progress read before its answer to be handled.
    // Paused time: the late handler's 100 ms and the bounds below are virtual, so the test
    // neither waits nor depends on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn an_answer_waits_for_the_progress_read_before_it() {
        let (gateway_io, caller_io) = tokio::io::duplex(64 * 1024);
        let (gateway_side, caller_side) =
            tokio::join!(AnyServer.serve(gateway_io), GreedyCaller::default().serve(caller_io));
        let (gateway_side, _caller_side) = (gateway_side.unwrap(), caller_side.unwrap());
        let routes = Routes::default();
        let upstream_token = ProgressToken(rmcp::model::NumberOrString::Number(7));
        let caller_token = ProgressToken(rmcp::model::NumberOrString::Number(1));
        let call = routes.start(
            rmcp::model::RequestId::Number(1),
            gateway_side.peer().clone(),
            Some((upstream_token.clone(), caller_token)),
        );
        // Two notifications read; one handled at once, one late.
        routes.progress_received(&upstream_token);
        routes.progress_received(&upstream_token);
        routes.progress_handled(&upstream_token);
        let late = routes.clone();
        let token = upstream_token.clone();
        let handler = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            late.progress_handled(&token);
        });
        let started = tokio::time::Instant::now();
        call.progress_passed_on(std::time::Duration::from_secs(10)).await;
        let waited = started.elapsed();
        handler.await.unwrap();
        assert!(waited >= std::time::Duration::from_millis(90), "returned after {waited:?}");
        assert!(waited < std::time::Duration::from_secs(5), "returned after {waited:?}");
        // Nothing pending: at once. A handler that never comes: bounded.
        let started = tokio::time::Instant::now();
        call.progress_passed_on(std::time::Duration::from_secs(10)).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        routes.progress_received(&upstream_token);
        let started = tokio::time::Instant::now();
        call.progress_passed_on(std::time::Duration::from_millis(200)).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
