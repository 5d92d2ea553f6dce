//! The original's `jwt-multi-tenant` example: users authenticate with a JWT; each user's GitHub
//! token comes from a tenant manager; each user gets an instance built with *their* token.
//!
//! Run: `cargo run -p mcp-auth --example jwt_multi_tenant` — it starts a toy tenant manager on
//! loopback (alice has a token, bob has none), serves the MCP server, and prints tokens to try.
//! Set `TENANT_MANAGER_URL` and `SERVICE_TOKEN` to use a real tenant manager instead.

use axum::{Json, Router, extract::Path, http::StatusCode, routing::get};
use mcp_auth::{ApiTokenResolver, JwtAuthProvider, Secret, extras::ExtrasAllowList, wrap_server};
use rmcp::{
    ServerHandler,
    handler::server::router::tool::ToolRouter,
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use serde_json::json;

const JWT_SECRET: &str = "example-secret-that-is-at-least-32-bytes";

#[derive(Clone)]
struct GitHubServer {
    user_id: String,
    github_token: Secret,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl GitHubServer {
    #[tool(description = "Which GitHub credential this instance holds (never the token itself)")]
    async fn github_identity(&self) -> String {
        let token = self.github_token.expose();
        format!(
            "{} uses a GitHub token ending in …{}",
            self.user_id,
            &token[token.len().saturating_sub(4)..]
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for GitHubServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A toy tenant manager: `GET /api/credentials/:user/:resource` with a service token.
async fn toy_tenant_manager() -> std::io::Result<String> {
    let app = Router::new().route(
        "/api/credentials/{user}/{resource}",
        get(|Path((user, resource)): Path<(String, String)>| async move {
            match (user.as_str(), resource.as_str()) {
                ("alice", "github") => {
                    (StatusCode::OK, Json(json!({ "accessToken": "ghp_alice_example_1234" })))
                }
                _ => (StatusCode::NOT_FOUND, Json(json!({ "error": "Not Found" }))),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let tenant_manager = match std::env::var("TENANT_MANAGER_URL") {
        Ok(url) => url,
        Err(_) => toy_tenant_manager().await?,
    };
    let service_token =
        std::env::var("SERVICE_TOKEN").unwrap_or_else(|_| "toy-service-token".into());
    let server = wrap_server(|github_token, user_id, _extras| GitHubServer {
        user_id,
        github_token,
        tool_router: GitHubServer::tool_router(),
    })
    .auth_provider(JwtAuthProvider::builder().secret(JWT_SECRET).build()?)
    .token_resolver(ApiTokenResolver::builder(tenant_manager, service_token).build()?)
    .resource_type("github")
    .extras(ExtrasAllowList::new().header("X-Workspace"))
    .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("serving http://127.0.0.1:3001/mcp; mint tokens with");
    println!("  cargo run -p mcp-auth-gateway -- token --user alice --secret {JWT_SECRET}");
    println!("alice gets her instance; bob gets 403 (no GitHub credential on file)");
    server.serve(listener).await?;
    Ok(())
}
