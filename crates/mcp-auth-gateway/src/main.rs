//! `mcp-auth`: the gateway binary. It wraps any MCP server with per-user authentication.
//!
//! Commands: `demo` describes what the `mcp-auth` library offers (the demo server and
//! `serve --config` arrive with the transports); `token` mints an HS256 JWT that a gateway
//! configured with the same secret accepts. The work is done in the `mcp_auth_gateway` library;
//! this file is the command line only.

use std::{process, time::Duration};

use clap::{Args, Parser, Subcommand};
use mcp_auth::Secret;
use mcp_auth_gateway::token::{self, SECRET_ENV_VAR, TokenError};

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
    /// Mint an HS256 JWT for a user and print it, alone, on stdout.
    Token(TokenArgs),
}

/// Arguments of `mcp-auth token`. Deliberately not `Debug`: it holds the secret.
#[derive(Args)]
struct TokenArgs {
    /// User id, written to the `sub` claim.
    #[arg(long)]
    user: String,
    /// HS256 signing secret, at least 32 bytes. Prefer the environment variable: a value given
    /// on the command line is visible to other local users (ps, shell history).
    // hide_env_values: without it `--help` would print the secret read from the environment.
    #[arg(long, env = SECRET_ENV_VAR, hide_env_values = true)]
    secret: Option<String>,
    /// Lifetime: whole seconds or a number followed by s, m, h or d.
    #[arg(long, default_value = "1h", value_parser = token::parse_ttl)]
    ttl: Duration,
    /// Space-separated scopes, written to the `scope` claim.
    #[arg(long)]
    scope: Option<String>,
    /// Audience, written to the `aud` claim (the gateway's resource URI).
    #[arg(long)]
    aud: Option<String>,
    /// Issuer, written to the `iss` claim.
    #[arg(long)]
    iss: Option<String>,
}

fn main() {
    match Cli::parse().command {
        Command::Demo => print!("{}", overview()),
        Command::Token(args) => {
            if let Err(code) = token_command(args) {
                process::exit(code);
            }
        }
    }
}

/// Exit code for a usage or configuration mistake (clap uses the same for its own errors).
const EXIT_USAGE: i32 = 2;
/// Exit code for a failure that is not the caller's mistake.
const EXIT_FAILURE: i32 = 1;

/// Runs `mcp-auth token`: prints the token on stdout, or a message on stderr and returns the
/// exit code. No message includes the secret.
fn token_command(args: TokenArgs) -> Result<(), i32> {
    // Wrapped at once so that no later `{:?}` can print it.
    let Some(secret) = args.secret.filter(|s| !s.is_empty()).map(Secret::new) else {
        eprintln!(
            "mcp-auth token: no signing secret: set {SECRET_ENV_VAR} or pass --secret \
             (at least {} bytes)",
            token::MIN_SECRET_BYTES
        );
        return Err(EXIT_USAGE);
    };
    let minted = token::mint(
        secret.expose(),
        &args.user,
        args.ttl,
        args.scope.as_deref(),
        args.aud.as_deref(),
        args.iss.as_deref(),
    );
    match minted {
        Ok(jwt) => {
            println!("{jwt}");
            Ok(())
        }
        Err(err) => {
            eprintln!("mcp-auth token: {err}");
            Err(match err {
                TokenError::Sign(_) | TokenError::Clock => EXIT_FAILURE,
                _ => EXIT_USAGE,
            })
        }
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
