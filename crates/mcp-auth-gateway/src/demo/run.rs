//! `mcp-auth demo`: the demo server behind `wrap_server` and `JwtAuthProvider` (HS256), over
//! Streamable HTTP and legacy SSE, or over stdio.

use std::{net::SocketAddr, time::Duration};

use mcp_auth::{
    EnvAuthProvider, JwtAuthProvider, Secret, WrappedServer, http::HttpOptions, wrap_server,
};

use super::DemoServer;
use crate::token::{self, SECRET_ENV_VAR};

/// The user the printed token is minted for.
pub const DEMO_USER: &str = "demo-user";
/// Lifetime of the printed token.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where and how to serve the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Address to bind (HTTP mode).
    pub addr: SocketAddr,
    /// Serve one user over stdin/stdout instead of HTTP.
    pub stdio: bool,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A configuration value was refused.
    #[error(transparent)]
    Config(#[from] mcp_auth::ConfigError),
    /// The socket could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The printed token could not be minted.
    #[error(transparent)]
    Token(#[from] token::TokenError),
    /// The stdio session failed.
    #[error(transparent)]
    Stdio(#[from] mcp_auth::stdio::StdioError),
}

fn demo_factory(_token: Secret, user_id: String, _extras: mcp_auth::extras::Extras) -> DemoServer {
    DemoServer::new(user_id)
}

/// Runs the demo until Ctrl-C (HTTP) or end of input (stdio).
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let http = HttpOptions::default().with_name(super::SERVER_NAME, env!("CARGO_PKG_VERSION"));
    if options.stdio {
        let server =
            wrap_server(demo_factory).auth_provider(EnvAuthProvider::from_env()?).build()?;
        server.serve_stdio().await?;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| DemoError::Io { addr: options.addr, source })?;
    let addr =
        listener.local_addr().map_err(|source| DemoError::Io { addr: options.addr, source })?;
    let url = format!("http://{addr}/mcp");
    let (secret, generated) = match std::env::var(SECRET_ENV_VAR) {
        Ok(secret) if !secret.is_empty() => (Secret::new(secret), false),
        _ => (generate_secret(), true),
    };
    // Tokens must name this server as their audience (MCP authorization spec, RFC 8707).
    let provider = JwtAuthProvider::builder().secret(secret.clone()).audience(&url).build()?;
    let jwt = token::mint(secret.expose(), DEMO_USER, DEMO_TOKEN_TTL, None, Some(&url), None)?;
    let server: WrappedServer<DemoServer> =
        wrap_server(demo_factory).auth_provider(provider).http(http).build()?;
    print!("{}", banner(&url, &jwt, generated));
    let stopper = server.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stopper.shutdown();
    });
    server.serve(listener).await.map_err(|source| DemoError::Io { addr, source })
}

/// A fresh 256-bit secret for this run only.
fn generate_secret() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn banner(url: &str, jwt: &str, generated: bool) -> String {
    let secret_note = if generated {
        format!(
            "The signing secret was generated for this run. To mint more tokens, restart with\n\
             {SECRET_ENV_VAR} set (32+ bytes) and run:\n  \
             cargo run -p mcp-auth-gateway -- token --user alice --aud {url}"
        )
    } else {
        format!(
            "Mint more tokens with the same {SECRET_ENV_VAR}:\n  \
             cargo run -p mcp-auth-gateway -- token --user alice --aud {url}"
        )
    };
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    format!(
        "mcp-auth demo: the demo MCP server, one instance per user, behind JWT auth.

MCP endpoint: {url}
  legacy SSE: {url}/sse   health: {url}/health
  tools: whoami, notes_add, notes_list, slow, echo

Token for user `{DEMO_USER}` (HS256, 24 h, audience {url}):
  {jwt}

Try it (a 2026-07-28 stateless call):
  curl -s {url} \\
    -H 'Authorization: Bearer {jwt}' \\
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
    -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: whoami' \\
    -d '{call}'

{secret_note}

Press Ctrl-C to stop.
"
    )
}
