//! The accept loop of [`WrappedServer::serve`](crate::WrappedServer::serve): the first thing a
//! connection meets, before any HTTP is parsed.
//!
//! `axum::serve` sets no header-read timeout and no connection cap, so a few thousand half-open
//! connections could use up the process's file descriptors and take the service down for
//! everyone, unauthenticated. Here each connection is served by hyper-util's HTTP/1.1 + HTTP/2
//! builder, and:
//!
//! - at most [`max_connections`](super::HttpOptions::max_connections) are served at once; over
//!   the cap a new connection displaces the connection idle longest ([`idle`]) — never one with
//!   a request in flight — and when every connection is busy it is closed at once, so it holds
//!   no descriptor and the open ones keep working;
//! - headers must arrive within [`header_read_timeout`](super::HttpOptions::header_read_timeout),
//!   a connection with nothing in flight is closed after
//!   [`keep_alive_timeout`](super::HttpOptions::keep_alive_timeout) ([`connection`]), and a body
//!   must arrive within [`request_body_timeout`](super::HttpOptions::request_body_timeout)
//!   ([`request`]);
//! - a connection whose client stopped reading for
//!   [`response_write_timeout`](super::HttpOptions::response_write_timeout) is closed
//!   ([`write_watch`]);
//! - accept errors such as `EMFILE` back off instead of spinning;
//! - on shutdown, open connections are closed gracefully and dropped after
//!   [`shutdown_grace_period`](super::HttpOptions::shutdown_grace_period).

mod connection;
mod idle;
mod request;
mod write_watch;

use std::{
    io,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{connection::Limits, idle::IdleQueue};
use super::HttpOptions;

/// The auto (HTTP/1.1 or HTTP/2) connection builder.
type Builder = hyper_util::server::conn::auto::Builder<TokioExecutor>;

/// Largest request head (request line and headers, or an HTTP/2 header list; larger gets `431`).
/// On HTTP/1.1 it is the read buffer's cap (hyper's default is ~400 KiB), so a slowloris client
/// holds at most this much of our memory per connection, for at most the header-read timeout.
/// Bearer tokens, even with many claims, stay far below it.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long the loop pauses after an accept error that is not about one connection (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`): retrying at once would spin a core while nothing can change.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection that displaced an idle one waits for its slot: the displaced one
/// closes within a scheduler tick, so reaching this means another took the slot first.
const DISPLACE_WAIT: Duration = Duration::from_secs(1);

/// Connections waiting for a displaced one's slot at most; beyond, new ones are refused.
const MAX_DISPLACING: usize = 256;

/// At most one warning per this interval for refused connections and accept errors; a flood
/// must not turn into a log flood.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets open connections
/// finish for the grace period and drops the rest.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let limits = Arc::new(Limits {
        builder: builder(options),
        router,
        header_read_timeout: options.header_read_timeout,
        keep_alive_timeout: options.keep_alive_timeout,
        request_body_timeout: options.request_body_timeout,
        response_write_timeout: options.response_write_timeout,
        shutdown: shutdown.clone(),
        hard_stop: CancellationToken::new(),
        idle: Arc::new(IdleQueue::new(options.max_connections)),
    });
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let displacing = Arc::new(Semaphore::new(MAX_DISPLACING));
    let connections = TaskTracker::new();
    let mut refused = Throttled::default();
    let mut failed = Throttled::default();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        failed.warn(|count| {
                            tracing::warn!(%error, count, "accept failed; backing off");
                        });
                        tokio::select! {
                            () = shutdown.cancelled() => break,
                            () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                        }
                    }
                    continue;
                }
            },
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Over the cap: take the slot of the connection idle longest, if one is idle
                // (and not too many already wait); else close at once, which frees the
                // descriptor and tells the client now instead of leaving it in the backlog.
                let waiting = displacing.clone().try_acquire_owned().ok();
                if let Some(waiting) = waiting.filter(|_| limits.idle.displace_one()) {
                    let (permits, limits) = (permits.clone(), limits.clone());
                    connections.spawn(async move {
                        let permit = tokio::time::timeout(DISPLACE_WAIT, permits.acquire_owned());
                        if let Ok(Ok(permit)) = permit.await {
                            drop(waiting);
                            serve_one(stream, peer, permit, limits).await;
                        }
                    });
                    continue;
                }
                drop(stream);
                refused.warn(|count| {
                    tracing::warn!(
                        count,
                        max_connections = options.max_connections,
                        "connection cap reached and every connection busy; refusing new ones"
                    );
                });
                continue;
            }
        };
        connections.spawn(serve_one(stream, peer, permit, limits.clone()));
    }
    // Stop accepting: later connection attempts are refused by the kernel.
    drop(listener);
    connections.close();
    let grace = options.shutdown_grace_period;
    if tokio::time::timeout(grace, connections.wait()).await.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace period; dropping them"
        );
        limits.hard_stop.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// Serves one connection within its slot of the cap.
async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
    limits: Arc<Limits>,
) {
    // rmcp writes an SSE response in several small writes; without TCP_NODELAY each response
    // waits ~40 ms for the client's delayed ACK (Nagle), measured in bench/.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
    connection::serve(stream, peer, permit, limits).await;
}

/// hyper-util's builder with our limits. The peer address each connection belongs to is added
/// per request (see [`request`]).
fn builder(options: &HttpOptions) -> Builder {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        // Pings find peers that vanished without closing (a NAT dropped the mapping): their
        // connection would otherwise hold a slot of the cap until the idle timeout, or forever
        // with a stream open.
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        // hyper's default is 200; one client needs a handful (its requests and a GET stream).
        // (Rapid reset, CVE-2023-44487, is bounded by h2's own default of 20 pending resets.)
        .max_concurrent_streams(100);
    builder
}

/// An accept error that concerns only the connection being accepted: retry at once.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Counts events and lets a warning through at most every [`WARN_INTERVAL`].
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    count: u64,
}

impl Throttled {
    /// Counts one event; calls `warn` with the count since the last warning when it is due.
    fn warn(&mut self, warn: impl FnOnce(u64)) {
        self.count += 1;
        let now = Instant::now();
        if self.last.is_none_or(|last| now.duration_since(last) >= WARN_INTERVAL) {
            warn(self.count);
            self.last = Some(now);
            self.count = 0;
        }
    }
}
