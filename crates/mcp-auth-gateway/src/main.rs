//! `mcp-auth`: the gateway binary. It wraps any MCP server with per-user authentication.
//!
//! Commands: `serve --config FILE` runs the gateway a config file describes; `check --config
//! FILE` validates that file without starting anything; `demo` serves the demo MCP server
//! behind `wrap_server` and JWT auth; `token` mints an HS256 JWT that a gateway configured with
//! the same secret accepts; `credentials …` manages the built-in credential store and
//! `tenant-manager --config FILE` serves it over HTTP; `invalidate --config FILE USER…` revokes
//! users on every replica through the config's `[redis]`. The work is done in the `mcp_auth_gateway` library;
//! this file is the command line only.

use std::{process, time::Duration};

use clap::{Args, Parser, Subcommand};
use mcp_auth::Secret;
use mcp_auth_gateway::{
    child,
    config::{self, LogFormat, Overrides},
    demo, logging, memory, serve, store_cli, tenant_manager,
    token::{self, SECRET_ENV_VAR, TokenError},
};

#[derive(Parser)]
#[command(name = "mcp-auth", version, about = "Authentication and multi-tenancy for MCP servers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the MCP servers a config file describes, one instance per user, behind auth.
    Serve(ServeArgs),
    /// Validate a config file without starting anything; explains every problem found.
    Check(CheckArgs),
    /// Serve the demo MCP server through the gateway, one child per user, behind JWT auth
    /// (prints the URL, a token and a command to try).
    Demo(DemoArgs),
    /// Mint an HS256 JWT for a user and print it, alone, on stdout.
    Token(TokenArgs),
    /// Manage the built-in credential store: gen-key, put, list, delete, revoke, rotate-key.
    Credentials {
        #[command(subcommand)]
        command: store_cli::CredentialsCommand,
    },
    /// Revoke users on every replica: drop their cached credentials, verified tokens and
    /// instances within a second (needs the config's `[redis]`, which the replicas share).
    Invalidate(InvalidateArgs),
    /// Serve the credential store as a tenant manager (the API `[credentials] mode = "api"`
    /// and `ApiTokenResolver` consume, plus an admin API).
    TenantManager(TenantManagerArgs),
    /// Internal: run a server under the supervisor that ends its whole process tree with it
    /// (started by the gateway itself; see `child::supervisor`).
    #[command(name = "__supervise", hide = true)]
    Supervise(SuperviseArgs),
}

/// Arguments of `mcp-auth __supervise -- PROGRAM ARGS...`.
#[derive(Args)]
struct SuperviseArgs {
    /// The server's program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    command: Vec<std::ffi::OsString>,
}

/// Arguments of `mcp-auth serve`.
#[derive(Args)]
struct ServeArgs {
    /// The gateway's config file (TOML; see docs/config.md).
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
    /// Listen on ADDR:PORT instead of the config's `server.listen` (port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// The public URL clients reach the gateway at, instead of the config's `server.public_url`.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

/// Arguments of `mcp-auth tenant-manager`.
#[derive(Args)]
struct TenantManagerArgs {
    /// The tenant manager's config file (TOML; see docs/config.md).
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
    /// Listen on ADDR:PORT instead of the config's `listen` (port 0 picks a free one).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<std::net::SocketAddr>,
}

/// Arguments of `mcp-auth invalidate`.
#[derive(Args)]
struct InvalidateArgs {
    /// The gateways' config file (its `[redis]` section is used).
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
    /// The users to revoke, as the JWT's user claim names them.
    #[arg(required = true, value_name = "USER_ID")]
    users: Vec<String>,
}

/// Arguments of `mcp-auth check`.
#[derive(Args)]
struct CheckArgs {
    /// The config file to validate.
    #[arg(long, value_name = "FILE")]
    config: std::path::PathBuf,
}

/// Arguments of `mcp-auth demo`.
#[derive(Args)]
struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Serve one user (MCP_USER_ID, default `local-user`) over stdin/stdout instead of HTTP.
    #[arg(long)]
    stdio: bool,
    /// The URL clients use to reach the MCP endpoint (behind a proxy, under a DNS name, or with
    /// --host 0.0.0.0), e.g. https://mcp.example.com/mcp: the printed token's audience; its
    /// host is accepted in `Host`.
    #[arg(long, env = demo::PUBLIC_URL_ENV_VAR)]
    public_url: Option<String>,
    /// Log a line of runtime figures (live tasks, instances, sessions, unread response bytes)
    /// every SECS seconds, for soak and load runs (`scripts/soak.sh`).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    stats_interval: Option<u64>,
    /// Serve the demo server in-process through the library's `wrap_server` alone, instead of
    /// through the gateway with one `mcp-auth demo --stdio` child per user (what the soak and
    /// hostile-load runs measure).
    #[arg(long, conflicts_with = "stdio")]
    in_process: bool,
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
    memory::return_large_blocks_to_the_system();
    match Cli::parse().command {
        Command::Serve(args) => {
            if let Err(code) = serve_command(args) {
                process::exit(code);
            }
        }
        Command::Check(args) => match serve::check(&args.config) {
            Ok(summary) => print!("{summary}"),
            Err(report) => {
                eprintln!("{report}");
                process::exit(EXIT_USAGE);
            }
        },
        Command::Demo(args) => {
            if let Err(code) = demo_command(args) {
                process::exit(code);
            }
        }
        Command::Token(args) => {
            if let Err(code) = token_command(args) {
                process::exit(code);
            }
        }
        Command::Credentials { command } => {
            if let Err(message) = store_cli::run_blocking(command) {
                eprintln!("mcp-auth credentials: {message}");
                process::exit(EXIT_FAILURE);
            }
        }
        Command::Invalidate(args) => match serve::invalidate_command(&args.config, &args.users) {
            Ok(epoch) => println!(
                "recorded: every replica drops what it holds of {} user(s) within a second                  (revocation epoch {epoch})",
                args.users.len()
            ),
            Err(message) => {
                eprintln!("mcp-auth invalidate: {message}");
                process::exit(EXIT_FAILURE);
            }
        },
        Command::TenantManager(args) => {
            logging::init(LogFormat::Pretty);
            if let Err(message) = tenant_manager::run(&args.config, args.listen) {
                eprintln!("mcp-auth tenant-manager: {message}");
                process::exit(EXIT_FAILURE);
            }
        }
        // Synchronous, with no runtime and no thread: it blocks signals and waits for them.
        Command::Supervise(args) => process::exit(child::supervisor::run(&args.command)),
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

/// Runs `mcp-auth demo`. Logs go to stderr (stdout is the JSON-RPC channel in stdio mode).
fn demo_command(args: DemoArgs) -> Result<(), i32> {
    logging::init(LogFormat::Pretty);
    let runtime = tokio::runtime::Runtime::new().map_err(|err| {
        eprintln!("mcp-auth demo: cannot start the runtime: {err}");
        EXIT_FAILURE
    })?;
    let options = demo::DemoOptions {
        addr: std::net::SocketAddr::new(args.host, args.port),
        stdio: args.stdio,
        public_url: args.public_url,
        stats_interval: args.stats_interval.map(Duration::from_secs),
        in_process: args.in_process,
    };
    runtime.block_on(demo::run(options)).map_err(|err| {
        eprintln!("mcp-auth demo: {err}");
        match err {
            demo::DemoError::Config(_) | demo::DemoError::Gateway(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    })
}

/// Runs `mcp-auth serve`. Logs go to stderr, in the config's `[log] format`; stdout carries only
/// the "serving … at URL" lines. A config refused is reported before logging starts.
fn serve_command(args: ServeArgs) -> Result<(), i32> {
    let overrides = Overrides { listen: args.listen, public_url: args.public_url };
    let config = config::load(&args.config, &overrides).map_err(|report| {
        eprintln!("mcp-auth serve: {report}");
        EXIT_USAGE
    })?;
    logging::init(config.log.format);
    serve::run_loaded(&args.config, overrides, config).map_err(|err| {
        eprintln!("mcp-auth serve: {err}");
        match err {
            serve::ServeError::Config(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    })
}
