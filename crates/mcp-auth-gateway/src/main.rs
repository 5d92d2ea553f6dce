//! `mcp-auth`: the gateway binary. It wraps any MCP server with per-user authentication.
//!
//! For now it has one command, `demo`, which describes what the `mcp-auth` library offers; the
//! demo server, `token` and `serve --config` arrive with the transports.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "mcp-auth", version, about = "Authentication and multi-tenancy for MCP servers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what mcp-auth offers (the demo server arrives with the HTTP transports).
    Demo,
}

fn main() {
    match Cli::parse().command {
        Command::Demo => print!("{}", overview()),
    }
}

fn overview() -> String {
    format!(
        "mcp-auth {version}: authentication and multi-tenancy for MCP servers

Auth providers (who is calling):
  EnvAuthProvider   user id from {env_var} (default `{default_user}`), for stdio servers
  JwtAuthProvider   bearer JWTs: HS256/384/512 secret, RS/PS/ES/EdDSA PEM key, or a JWKS URL
                    (cached, refreshed on unknown kid); checks exp/nbf, iss, aud; refuses alg none
  your own          implement the AuthProvider trait

Token resolvers (which upstream credential they get):
  (none)            static mode: the server factory gets an empty token
  SimpleTokenResolver  from an environment variable
  JwtTokenResolver     from the caller's JWT (tokens.<resourceType>), never outliving it
  ApiTokenResolver     from a tenant manager: GET /api/credentials/:userId/:resourceType,
                       cached, single-flight, retried, stale-if-error

The demo MCP server (wrap_server with per-user instances over Streamable HTTP, SSE and stdio)
is the next milestone. Run the test suite with ./scripts/test.sh.
",
        version = env!("CARGO_PKG_VERSION"),
        env_var = mcp_auth::auth::DEFAULT_USER_ID_VAR,
        default_user = mcp_auth::auth::DEFAULT_USER_ID,
    )
}
