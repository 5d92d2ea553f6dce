//! [`EchoServer`]: the handler every contender serves, one tool `echo {text}` → `text`.
//!
//! The tool does no work on purpose: what the benchmark measures is the cost of the layers
//! around it (HTTP, rmcp's JSON-RPC and session machinery, and, when wrapped, mcp-auth).

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

/// The benchmark's MCP server: stateless, so one instance can serve every request.
#[derive(Clone)]
pub struct EchoServer {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl EchoServer {
    /// A new instance. Building the tool router derives the input schemas, so callers build
    /// one instance and share it rather than building one per request.
    pub fn new() -> Self {
        Self { tool_router: Self::tool_router() }
    }

    #[tool(description = "Returns the text it is given.")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

impl Default for EchoServer {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-auth-bench", env!("CARGO_PKG_VERSION")))
    }
}
