//! [`AuthenticatedServer`]: the original's second pattern — a server built from tools whose
//! handlers receive `(args, access_token, user_id)` — served over stdio and every HTTP
//! transport of [`wrap_server`](crate::wrap_server), with per-request auth.

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
        PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
    },
    service::RequestContext,
};
use serde_json::{Map, Value};
use tower::{Layer, ServiceExt};

use super::{
    ToolCall, ToolContext, ToolError, ToolOutput, ToolService, call::CredentialSource,
    extract::principal_of, with_auth,
};
use crate::{
    auth::AuthProvider,
    config::ConfigError,
    credentials::TokenResolver,
    http::HttpOptions,
    log_ids::UserIdLogging,
    middleware::RateLimitConfig,
    secret::Secret,
    wrap::{WrappedServer, wrap_server},
};

type LayerFn = Arc<dyn Fn(ToolService) -> ToolService + Send + Sync>;

struct RegisteredTool {
    tool: Tool,
    service: ToolService,
    idempotent: bool,
}

/// Builder for [`AuthenticatedServer`].
pub struct AuthenticatedServerBuilder {
    name: String,
    version: String,
    instructions: Option<String>,
    auth: Option<Arc<dyn AuthProvider>>,
    resolver: Option<Arc<dyn TokenResolver>>,
    resource_type: String,
    tools: Vec<RegisteredTool>,
    layers: Vec<LayerFn>,
    http: HttpOptions,
    rate_limit: Option<RateLimitConfig>,
    user_ids: UserIdLogging,
}

/// A server of registered tools behind per-request authentication.
///
/// ```no_run
/// use mcp_auth::{EnvAuthProvider, tool::{AuthenticatedServer, ToolError}};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let server = AuthenticatedServer::builder("notes", "1.0.0")
///     .auth_provider(EnvAuthProvider::from_env()?)
///     .register_tool("hello", "Greets the caller", serde_json::json!({"type": "object"}),
///         |_args, _access_token, user_id| async move { Ok::<_, ToolError>(format!("hi {user_id}")) })
///     .build()?;
/// server.serve_stdio().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthenticatedServer {
    wrapped: WrappedServer<ToolServer>,
}

impl AuthenticatedServer {
    /// Starts a builder.
    pub fn builder(
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> AuthenticatedServerBuilder {
        AuthenticatedServerBuilder {
            name: name.into(),
            version: version.into(),
            instructions: None,
            auth: None,
            resolver: None,
            resource_type: "default".to_owned(),
            tools: Vec::new(),
            layers: Vec::new(),
            http: HttpOptions::default(),
            rate_limit: None,
            user_ids: UserIdLogging::default(),
        }
    }

    /// Serves over stdio (identity from the auth provider, e.g. `EnvAuthProvider`).
    pub async fn serve_stdio(&self) -> Result<(), crate::stdio::StdioError> {
        self.wrapped.serve_stdio().await
    }

    /// Serves over any pair of byte streams, like stdio.
    pub async fn serve_io<R, W>(&self, read: R, write: W) -> Result<(), crate::stdio::StdioError>
    where
        R: tokio::io::AsyncRead + Send + Unpin + 'static,
        W: tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        self.wrapped.serve_io(read, write).await
    }

    /// Serves every HTTP transport on `listener` (JWT or other per-request auth).
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.wrapped.serve(listener).await
    }

    /// The axum router, to mount or serve yourself.
    pub fn router(&self) -> axum::Router {
        self.wrapped.router()
    }

    /// Stops [`serve`](Self::serve).
    pub fn shutdown(&self) {
        self.wrapped.shutdown();
    }
}

impl AuthenticatedServerBuilder {
    /// Who is calling (required).
    pub fn auth_provider(mut self, provider: impl AuthProvider) -> Self {
        self.auth = Some(Arc::new(provider));
        self
    }

    /// Where each caller's credential comes from; without one, handlers get an empty token.
    pub fn token_resolver(mut self, resolver: impl TokenResolver) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// The resource type handed to the resolver (default `default`).
    pub fn resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.resource_type = resource_type.into();
        self
    }

    /// Instructions shown to clients.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// HTTP options (base path, CORS, hosts).
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// The per-user limit on whole HTTP requests (default: `wrap_server`'s). Per-tool limits are
    /// a [`layer`](Self::layer): `with_rate_limit(..)`.
    pub fn rate_limit(mut self, config: RateLimitConfig) -> Self {
        self.rate_limit = Some(config);
        self
    }

    /// How log lines name users: the transport's (see
    /// [`WrapServerBuilder::user_id_logging`](crate::WrapServerBuilder::user_id_logging)) and
    /// the tools' [`with_logging`](crate::middleware::with_logging) layers, through each call's
    /// [`ToolContext`].
    pub fn user_id_logging(mut self, user_ids: UserIdLogging) -> Self {
        self.user_ids = user_ids;
        self
    }

    /// Registers a tool whose handler gets `(args, access_token, user_id)`; the credential is
    /// resolved for the caller on each call ([`with_auth`]). `input_schema` is the tool's JSON
    /// Schema (an object).
    pub fn register_tool<F, Fut, R>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        handler: F,
    ) -> Self
    where
        F: Fn(Map<String, Value>, Secret, String) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ToolError>> + Send + 'static,
        R: ToolOutput,
    {
        let tool = Tool::new(name.into(), description.into(), schema_object(input_schema));
        self.register_service(tool, with_auth(handler))
    }

    /// Registers any tool service (e.g. from [`tool_fn`](super::tool_fn) or your own tower
    /// stack) under `tool`'s metadata. A tool annotated `idempotentHint: true` may be retried
    /// by retry layers.
    pub fn register_service(mut self, tool: Tool, service: ToolService) -> Self {
        let idempotent = tool.annotations.as_ref().and_then(|a| a.idempotent_hint).unwrap_or(false);
        self.tools.push(RegisteredTool { tool, service, idempotent });
        self
    }

    /// Marks the already registered tool `name` idempotent (safe to retry).
    pub fn idempotent(mut self, name: &str) -> Self {
        for registered in self.tools.iter_mut().filter(|t| t.tool.name == name) {
            registered.idempotent = true;
            let annotations =
                registered.tool.annotations.take().unwrap_or_else(ToolAnnotations::new);
            registered.tool.annotations = Some(annotations.idempotent(true));
        }
        self
    }

    /// Wraps every tool in `layer`. Layers added later sit *outside* earlier ones; for a
    /// documented outermost-first order, pass one `tower::ServiceBuilder` stack.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<ToolService> + Send + Sync + 'static,
        L::Service: tower::Service<ToolCall, Response = rmcp::model::CallToolResult, Error = ToolError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<ToolCall>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |inner| ToolService::new(layer.layer(inner))));
        self
    }

    /// Validates and builds.
    pub fn build(self) -> Result<AuthenticatedServer, ConfigError> {
        let auth = crate::auth::required(self.auth)?;
        let mut tools = HashMap::new();
        for RegisteredTool { tool, service, idempotent } in self.tools {
            let service = self.layers.iter().fold(service, |service, layer| layer(service));
            let name = tool.name.to_string();
            if tools.insert(name.clone(), RegisteredTool { tool, service, idempotent }).is_some() {
                return Err(ConfigError::invalid("tools", name, "unique tool names"));
            }
        }
        let mut listing: Vec<Tool> = tools.values().map(|t| t.tool.clone()).collect();
        // MCP 2026-07-28: tools/list order SHOULD be deterministic.
        listing.sort_by(|a, b| a.name.cmp(&b.name));
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(self.name.clone(), self.version.clone()));
        if let Some(instructions) = self.instructions {
            info = info.with_instructions(instructions);
        }
        let credentials = self.resolver.map(|resolver| CredentialSource {
            resolver,
            resource_type: self.resource_type.as_str().into(),
        });
        let user_ids = self.user_ids;
        let registry =
            Arc::new(Registry { tools, listing, info, credentials, user_ids: user_ids.clone() });
        // Credentials are resolved per tool call (with_auth), not per HTTP request, so the
        // transport runs in static mode: a user without a credential can still list tools.
        let http = HttpOptions { name: self.name, version: self.version, ..self.http };
        let mut wrapped =
            wrap_server(move |_token, _user, _extras| ToolServer { registry: registry.clone() })
                .auth_provider(auth)
                .http(http)
                .user_id_logging(user_ids);
        if let Some(rate_limit) = self.rate_limit {
            wrapped = wrapped.rate_limit(rate_limit);
        }
        let wrapped = wrapped.build()?;
        Ok(AuthenticatedServer { wrapped })
    }
}

fn schema_object(schema: Value) -> Arc<Map<String, Value>> {
    match schema {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::from_iter([("type".to_owned(), Value::from("object"))])),
    }
}

struct Registry {
    tools: HashMap<String, RegisteredTool>,
    listing: Vec<Tool>,
    info: ServerConfig,
    credentials: Option<CredentialSource>,
    user_ids: UserIdLogging,
}

/// The `ServerHandler` serving a registry of tools; one per user (it is two pointers).
#[derive(Clone)]
pub struct ToolServer {
    registry: Arc<Registry>,
}

impl ServerHandler for ToolServer {
    fn get_info(&self) -> ServerConfig {
        self.registry.info.clone()
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry.tools.get(name).map(|t| t.tool.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.registry.listing.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(registered) = self.registry.tools.get(request.name.as_ref()) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let principal = principal_of(&context.extensions).ok_or_else(|| {
            ErrorData::invalid_request("the request carries no authenticated caller", None)
        })?;
        let mut tool_context = ToolContext::new(principal)
            .with_cancellation(context.ct.clone())
            .with_idempotent(registered.idempotent)
            .with_user_id_logging(self.registry.user_ids.clone());
        if let Some(source) = &self.registry.credentials {
            tool_context =
                tool_context.with_resolver(source.resolver.clone(), source.resource_type.clone());
        }
        if let Some(token) = context.meta.get_progress_token() {
            tool_context = tool_context.with_progress(context.peer.clone(), token);
        }
        let call = ToolCall::new(
            request.name.to_string(),
            request.arguments.unwrap_or_default(),
            tool_context,
        );
        let result = registered.service.clone().oneshot(call).await;
        match result {
            Ok(result) => Ok(result.into()),
            Err(err) => err.into_mcp().map(Into::into),
        }
    }
}
