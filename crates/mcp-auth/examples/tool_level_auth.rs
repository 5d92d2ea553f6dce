//! The original's `tool-level-auth` pattern, over HTTP with JWT: tools whose handlers receive
//! `(args, access_token, user_id)`, each call authenticated and its credential resolved for the
//! caller (here from the JWT's `tokens.github` claim).
//!
//! Run: `cargo run -p mcp-auth --example tool_level_auth`, then mint a token carrying a GitHub
//! credential, e.g. with the `jsonwebtoken` claims `{"sub":"alice","tokens":{"github":"ghp_x"}}`,
//! or run `cargo run -p mcp-auth-gateway -- token --user alice --secret <SECRET>` for a token
//! without one (its calls are refused with "no `github` credential").

use std::time::Duration;

use mcp_auth::{
    JwtAuthProvider, JwtTokenResolver,
    tool::{AuthenticatedServer, ToolError},
};
use serde_json::json;

const SECRET: &str = "example-secret-that-is-at-least-32-bytes";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let server = AuthenticatedServer::builder("github-tools", "1.0.0")
        .auth_provider(JwtAuthProvider::builder().secret(SECRET).build()?)
        .token_resolver(JwtTokenResolver::new())
        .resource_type("github")
        .register_tool(
            "list_repos",
            "List the caller's repositories",
            json!({ "type": "object", "properties": { "org": { "type": "string" } } }),
            |args, access_token, user_id| async move {
                let org = args.get("org").and_then(|v| v.as_str()).unwrap_or("(personal)");
                // A real tool would call the GitHub API with `access_token.expose()`.
                let _ = access_token;
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok::<_, ToolError>(format!("repositories of {user_id} in {org}: mcp-auth, notes"))
            },
        )
        .idempotent("list_repos")
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!("serving http://127.0.0.1:3002/mcp (JWT secret: the example's constant)");
    server.serve(listener).await?;
    Ok(())
}
