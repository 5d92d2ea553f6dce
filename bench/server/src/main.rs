//! `bench-server`: the server side of `bench/load.sh`.
//!
//! Serves [`EchoServer`] over Streamable HTTP at `http://127.0.0.1:PORT/mcp` as one of:
//! - `bare`: rmcp's `StreamableHttpService` in axum, no auth, default config — the baseline;
//! - `bare-json`: the same in rmcp's fastest configuration, stateless with JSON responses
//!   (2026-07-28 only: it keeps no sessions) — the limit;
//! - `wrapped`: `mcp_auth::wrap_server` with an HS256 `JwtAuthProvider`, one instance per user
//!   (the library's default) — the contender;
//! - `wrapped-per-session`: the same with `InstanceMode::PerSession`, a fresh instance per
//!   session (per request in the stateless era);
//! - `jwt-layer`: `bare` behind a minimal axum middleware that only verifies the JWT — the
//!   floor any auth costs, which splits wrapped's overhead into "verifying" and "the rest".
//!
//! - `stdio`: [`EchoServer`] over stdin/stdout, no auth — the upstream child the gateway
//!   contender (`bench/contenders/gateway.sh stdio`) runs per user.
//!
//! All run the same handler on the same multi-thread runtime. Prints `LISTENING <url>` once
//! the socket is bound; the load script waits for that line.

mod echo;

use std::{error::Error, io::Write, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    serve::ListenerExt,
};
use clap::{Parser, ValueEnum};
use mcp_auth::{
    JwtAuthProvider, Limits,
    instances::{InstanceMode, InstanceOptions},
    middleware::RateLimitConfig,
    wrap_server,
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

use crate::echo::EchoServer;

/// Environment variable holding the HS256 secret of the authenticating modes (32+ bytes).
const SECRET_ENV_VAR: &str = "BENCH_JWT_SECRET";

/// Requests in flight the benchmark user may have (wrk's highest concurrency is 64).
const BENCH_MAX_IN_FLIGHT: usize = 1024;

#[derive(Debug, Parser)]
#[command(about = "The echo MCP server that bench/load.sh puts under load")]
struct Args {
    /// What to serve.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Leave Nagle's algorithm on, as plain `axum::serve` and `WrappedServer::serve` do.
    /// rmcp writes an SSE response in several small writes; with Nagle on, a keep-alive
    /// client's delayed ACK stalls each response by ~40 ms, which hides every other cost.
    #[arg(long)]
    no_nodelay: bool,
    /// `wrapped*`: the per-user rate limit, in requests per second (burst the same); 0 turns it
    /// off. The default keeps the limiter in the request path, as in production, at a rate
    /// the single benchmark user never reaches (the library's own default, 20/s, would
    /// answer `429` to nearly every request of a load test).
    #[arg(long, default_value_t = 1_000_000)]
    rate_limit: u32,
    /// `wrapped*`: `Limits::session_hibernate_after` in ms (default: the library's, 60 s);
    /// `bench/idle_memory.py` shortens it so that a run need not wait a minute.
    #[arg(long)]
    hibernate_after_ms: Option<u64>,
    /// Every this many ms, write the bytes of heap in use (jemalloc's `stats.allocated`: what
    /// the process holds, however fragmented the pages around it are) to `--heap-file`.
    /// `bench/idle_memory.py` reads it next to RSS. 0 (default): never.
    #[arg(long, default_value_t = 0)]
    heap_every_ms: u64,
    /// Where `--heap-every-ms` writes.
    #[arg(long)]
    heap_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// rmcp alone: `StreamableHttpService` + `LocalSessionManager`, default config.
    Bare,
    /// rmcp alone in its fastest configuration: stateless, JSON responses.
    BareJson,
    /// `wrap_server` + `JwtAuthProvider` (HS256, audience = the URL), per-user instances.
    Wrapped,
    /// `wrapped` with `InstanceMode::PerSession`: a fresh instance per session (per request
    /// in the stateless era).
    WrappedPerSession,
    /// `bare` behind a middleware that verifies the JWT with `JwtAuthProvider::verify`.
    JwtLayer,
    /// rmcp's stdio transport, no auth: the upstream of the gateway's stdio contender.
    Stdio,
}

/// jemalloc for every contender: after a burst of sessions ends, glibc keeps the pages that a few
/// long-lived blocks pin (18–25 KB per idle user in `bench/idle_memory.py`, even after
/// `malloc_trim`), while jemalloc keeps small blocks apart from large ones by size class and
/// hands emptied pages back (8 KB per user).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start: a background thread returns freed pages to the kernel
/// one second after they empty (instead of ten, on the next allocation).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

// `tokio::main` builds the multi-thread runtime, one worker per core unless
// `TOKIO_WORKER_THREADS` says otherwise.
#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if let Mode::Stdio = args.mode {
        use rmcp::ServiceExt as _;
        let service = EchoServer::new().serve(rmcp::transport::stdio()).await?;
        service.waiting().await?;
        return Ok(());
    }
    // Loopback only: the benchmark never listens on anything reachable from outside.
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    let nodelay = !args.no_nodelay;
    if let (period @ 1.., Some(heap_file)) = (args.heap_every_ms, args.heap_file.clone()) {
        tokio::spawn(report_heap(Duration::from_millis(period), heap_file));
    }
    match args.mode {
        Mode::Stdio => unreachable!("served above, without a listener"),
        Mode::Bare | Mode::BareJson => {
            let config = match args.mode {
                Mode::BareJson => StreamableHttpServerConfig::default()
                    .with_legacy_session_mode(false)
                    .with_json_response(true),
                _ => StreamableHttpServerConfig::default(),
            };
            let app = bare_router(config);
            announce(&url)?;
            if nodelay {
                axum::serve(listener.tap_io(set_nodelay), app).await?;
            } else {
                axum::serve(listener, app).await?;
            }
        }
        Mode::JwtLayer => {
            let layer = axum::middleware::from_fn_with_state(jwt_provider(&url)?, require_jwt);
            let app = bare_router(StreamableHttpServerConfig::default()).layer(layer);
            announce(&url)?;
            if nodelay {
                axum::serve(listener.tap_io(set_nodelay), app).await?;
            } else {
                axum::serve(listener, app).await?;
            }
        }
        Mode::Wrapped | Mode::WrappedPerSession => {
            let instance_mode = match args.mode {
                Mode::WrappedPerSession => InstanceMode::PerSession,
                _ => InstanceMode::PerUser,
            };
            let rate_limit = match args.rate_limit {
                0 => RateLimitConfig::disabled(),
                per_second => RateLimitConfig::per_second(per_second),
            };
            let server = wrap_server(|_token, _user_id, _extras| EchoServer::new())
                .auth_provider(jwt_provider(&url)?)
                .rate_limit(rate_limit)
                .limits(limits(args.hibernate_after_ms))
                .instances(InstanceOptions::default().with_mode(instance_mode))
                .build()?;
            announce(&url)?;
            if nodelay {
                // `serve` offers no socket options, so serve its router the way it would.
                let app = server.router().into_make_service_with_connect_info::<SocketAddr>();
                axum::serve(listener.tap_io(set_nodelay), app).await?;
            } else {
                server.serve(listener).await?;
            }
        }
    }
    Ok(())
}

/// The library's limits, but for the benchmark user's in-flight cap and, if given, the
/// hibernation time.
fn limits(hibernate_after_ms: Option<u64>) -> Limits {
    // The single benchmark user sends up to 64 requests at once; the default per-user cap (32
    // in flight) would answer the rest with 429.
    let limits = Limits::default().with_max_in_flight_per_user(BENCH_MAX_IN_FLIGHT);
    match hibernate_after_ms {
        Some(ms) => limits.with_session_hibernate_after(Duration::from_millis(ms)),
        None => limits,
    }
}

/// Writes the heap in use to `heap_file` every `period`, forever.
async fn report_heap(period: Duration, heap_file: std::path::PathBuf) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        // jemalloc's statistics are a snapshot taken when the epoch advances.
        let Ok(in_use) = tikv_jemalloc_ctl::epoch::advance()
            .and_then(|_| tikv_jemalloc_ctl::stats::allocated::read())
        else {
            continue;
        };
        let partial = heap_file.with_extension("tmp");
        // Written whole, then renamed: a reader never sees half a number.
        if std::fs::write(&partial, in_use.to_string()).is_ok() {
            let _ = std::fs::rename(&partial, &heap_file);
        }
    }
}

/// rmcp's Streamable HTTP service at `/mcp` with `config`, as its examples set it up.
fn bare_router(config: StreamableHttpServerConfig) -> axum::Router {
    // One shared instance, as the wrapped side's per-user mode has: rmcp calls the factory on
    // every stateless POST, and building an `EchoServer` there would make the baseline pay for
    // schema derivation that the contender does not.
    let server = Arc::new(EchoServer::new());
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().nest_service("/mcp", service)
}

/// HS256 with the secret from [`SECRET_ENV_VAR`]; tokens must name this server as their
/// audience (RFC 8707), as in production.
fn jwt_provider(url: &str) -> Result<JwtAuthProvider, Box<dyn Error>> {
    let secret = std::env::var(SECRET_ENV_VAR)
        .map_err(|_| format!("{SECRET_ENV_VAR} must hold the HS256 secret"))?;
    Ok(JwtAuthProvider::builder().secret(secret).audience(url).build()?)
}

/// The least an authenticating server does: verify the bearer JWT and hand the principal on.
async fn require_jwt(
    State(provider): State<JwtAuthProvider>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match provider.verify(token).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// Sends each write at once (`TCP_NODELAY`), as hyper-based servers usually configure.
fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
    // Best effort: a socket that refuses the option still serves, only slower.
    let _ = tcp.set_nodelay(true);
}

/// Tells the load script the server is ready, and where.
fn announce(url: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "LISTENING {url}")?;
    stdout.flush()
}
