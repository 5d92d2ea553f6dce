//! The original's `simple-stdio` example: one user per process, identity from `MCP_USER_ID`, the
//! upstream credential from an environment variable, JSON-RPC on stdout and logs on stderr.
//!
//! Run: `MOCK_API_ACCESS_TOKEN=t0ken MCP_USER_ID=alice cargo run -p mcp-auth --example simple_stdio`
//! then type `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"me","version":"1"}}}`.

use mcp_auth::{EnvAuthProvider, Secret, SimpleTokenResolver, wrap_server};
use rmcp::{
    ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};

/// A server that calls a "mock API" with the user's credential.
#[derive(Clone)]
struct MockApiServer {
    user_id: String,
    api_token: Secret,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl MockApiServer {
    fn new(api_token: Secret, user_id: String) -> Self {
        Self { user_id, api_token, tool_router: Self::tool_router() }
    }

    #[tool(description = "Fetch the user's data from the mock API")]
    async fn get_data(&self) -> String {
        // A real server would send `self.api_token.expose()` to its API here.
        let token_len = self.api_token.expose().len();
        format!("data of {} (fetched with a {token_len}-byte credential)", self.user_id)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MockApiServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // stdout is the protocol channel: logs must go to stderr.
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let server = wrap_server(|token, user, _extras| MockApiServer::new(token, user))
        .auth_provider(EnvAuthProvider::from_env()?)
        // Reads MOCK_API_ACCESS_TOKEN (hyphens become underscores).
        .token_resolver(SimpleTokenResolver::new())
        .resource_type("mock-api")
        .build()?;
    server.serve_stdio().await?;
    Ok(())
}
