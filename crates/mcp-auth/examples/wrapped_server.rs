//! The original's `wrapped-server` example: an existing MCP server, unchanged, served to many
//! users over HTTP behind JWT auth, one instance per user (static mode: no upstream credential).
//!
//! Run: `JWT_SECRET=$(openssl rand -hex 32) cargo run -p mcp-auth --example wrapped_server`
//! and mint a token with `cargo run -p mcp-auth-gateway -- token --user alice --secret $JWT_SECRET`.

use std::sync::{Arc, Mutex};

use mcp_auth::{
    JwtAuthProvider,
    instances::{InstanceMode, InstanceOptions},
    wrap_server,
};
use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};

/// "Your existing server": a counter, per instance.
#[derive(Clone)]
struct Counter {
    count: Arc<Mutex<i64>>,
    tool_router: ToolRouter<Self>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Add {
    by: i64,
}

#[tool_router]
impl Counter {
    fn new() -> Self {
        Self { count: Arc::default(), tool_router: Self::tool_router() }
    }

    #[tool(description = "Add to this user's counter and return it")]
    async fn add(&self, Parameters(Add { by }): Parameters<Add>) -> String {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *count += by;
        count.to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Counter {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET (32+ bytes)")?;
    let server = wrap_server(|_token, _user, _extras| Counter::new())
        .auth_provider(JwtAuthProvider::builder().secret(secret).build()?)
        .instances(InstanceOptions::default().with_mode(InstanceMode::PerUser))
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("serving http://127.0.0.1:3000/mcp (each user has their own counter)");
    server.serve(listener).await?;
    Ok(())
}
