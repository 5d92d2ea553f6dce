//! One accepted connection: hyper serves it, and a watchdog closes it once it has stayed too long
//! without a request in flight.
//!
//! hyper bounds the time to read HTTP/1.1 headers itself (`header_read_timeout`; its timer runs
//! from the moment the connection waits for a request, so it also closes idle keep-alive
//! connections). It bounds nothing before it knows the protocol, though: hyper-util's auto
//! builder first reads until it can tell an HTTP/2 preface from HTTP/1.1, without a timeout, and
//! an HTTP/2 connection has no idle timeout at all. The watchdog covers both: the first request
//! must start within the header-read timeout of connecting, and a connection with nothing in
//! flight for the keep-alive timeout is closed (gracefully: `GOAWAY` on HTTP/2).
//!
//! The watchdog also drops a busy connection whose writes have been blocked for the response
//! write timeout ([`super::write_watch`]: the client stopped reading), and the connection
//! closes at once when a newcomer over the cap displaces it while idle ([`super::idle`]).

use std::{
    net::SocketAddr,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::{
    net::TcpStream,
    sync::{Notify, OwnedSemaphorePermit},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    Builder,
    idle::IdleQueue,
    request,
    write_watch::{Watched, WriteStall},
};

/// What every connection of one `serve` call shares.
pub(super) struct Limits {
    pub(super) builder: Builder,
    pub(super) router: Router,
    pub(super) header_read_timeout: Duration,
    pub(super) keep_alive_timeout: Duration,
    pub(super) request_body_timeout: Duration,
    pub(super) response_write_timeout: Duration,
    /// The server's shutdown: close gracefully.
    pub(super) shutdown: CancellationToken,
    /// The shutdown grace period is over: drop the connection.
    pub(super) hard_stop: CancellationToken,
    /// The idle connections, for a new one to displace when the cap is full.
    pub(super) idle: Arc<IdleQueue>,
}

/// Serves one connection until it ends, is closed by the watchdog, or the server stops. The
/// permit (one slot of the connection cap) is released when this returns.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    limits: Arc<Limits>,
) {
    let _permit = permit;
    let activity = Activity::new(limits.idle.clone());
    let service = {
        let (limits, activity) = (limits.clone(), activity.clone());
        hyper::service::service_fn(move |req| {
            request::handle(limits.clone(), peer, activity.begin(), req)
        })
    };
    let stall = WriteStall::new();
    let io = TokioIo::new(Watched::new(stream, stall.clone()));
    let mut conn = pin!(limits.builder.serve_connection(io, service));
    // The watchdog must look no later than any deadline can fall: the first request's
    // (`header_read_timeout` after connecting) or the idle one (at least `keep_alive_timeout`
    // after connecting). After that it looks at each deadline, or every `keep_alive_timeout`
    // while busy, which is never later than `keep_alive_timeout` after the last request ends.
    let first_look = limits.header_read_timeout.min(limits.keep_alive_timeout);
    let mut watchdog = pin!(tokio::time::sleep(first_look));
    let mut closing = false;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = limits.hard_stop.cancelled() => return,
            // Only an idle connection is displaced, and no request can start while this arm
            // runs (starting one takes polling `conn`), so nothing in flight is cut.
            () = activity.displaced.notified() => {
                if activity.in_flight.load(Ordering::Acquire) == 0 {
                    tracing::debug!(%peer, "closing the longest-idle connection for a new one");
                    return;
                }
            }
            () = limits.shutdown.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = watchdog.as_mut() => {
                let now = Instant::now();
                match activity.idle_until(&limits) {
                    // Busy: a client that stopped reading gets the write timeout, and then the
                    // connection is dropped (a graceful close would wait for the response).
                    None => match stall.blocked_since() {
                        Some(since) if now >= since + limits.response_write_timeout => {
                            tracing::debug!(%peer, "closing a connection whose client stopped reading");
                            return;
                        }
                        Some(since) => watchdog.as_mut().reset(
                            (since + limits.response_write_timeout)
                                .min(now + limits.keep_alive_timeout),
                        ),
                        // Look again later; a request ending resets the idle clock.
                        None => watchdog.as_mut().reset(
                            now + limits.keep_alive_timeout.min(limits.response_write_timeout / 2),
                        ),
                    },
                    Some(deadline) if deadline > now => watchdog.as_mut().reset(deadline),
                    // Asked to close, nothing in flight, and still open (an HTTP/2 peer that
                    // does not answer GOAWAY's ping): drop it.
                    Some(_) if closing => return,
                    Some(_) => {
                        tracing::debug!(%peer, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                        watchdog.as_mut().reset(now + limits.header_read_timeout);
                    }
                }
            }
        }
    }
}

/// `idle_since_ms` before the first request.
const NEVER: u64 = u64::MAX;

/// The requests of one connection, as the watchdog and the idle queue need them: how many are
/// in flight (a response body still streaming counts), since when the connection has been idle,
/// and a generation that changes whenever it goes busy or idle.
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` at which the last request ended; [`NEVER`] before the first.
    idle_since_ms: AtomicU64,
    generation: AtomicU64,
    idle: Arc<IdleQueue>,
    /// Notified when a new connection needs this one's slot.
    displaced: Notify,
}

impl Activity {
    /// A new connection's activity, queued as idle: nothing is in flight yet.
    pub(super) fn new(idle: Arc<IdleQueue>) -> Arc<Self> {
        let activity = Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(NEVER),
            generation: AtomicU64::new(0),
            idle,
            displaced: Notify::new(),
        });
        activity.idle.push(&activity, 0);
        activity
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Whether the connection is idle, and has been since it was queued at `generation`.
    pub(super) fn is_idle_at(&self, generation: u64) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.generation.load(Ordering::Acquire) == generation
    }

    /// Asks the connection to close (if it is still idle when it looks).
    pub(super) fn displace(&self) {
        self.displaced.notify_one();
    }

    /// Whether [`displace`](Self::displace) was called since the last look.
    #[cfg(test)]
    pub(super) fn is_displaced(&self) -> bool {
        use futures::FutureExt as _;
        self.displaced.notified().now_or_never().is_some()
    }

    /// When the connection is due to close if nothing starts before; `None` while busy.
    fn idle_until(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.idle_since_ms.load(Ordering::Acquire) {
            // Nothing yet: the first request's headers are due within the header-read timeout.
            NEVER => self.opened + limits.header_read_timeout,
            ms => self.opened + Duration::from_millis(ms) + limits.keep_alive_timeout,
        })
    }
}

/// One request in flight on its connection; dropped with the response body.
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let ms = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(NEVER - 1);
        activity.idle_since_ms.store(ms, Ordering::Release);
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let generation = activity.generation.fetch_add(1, Ordering::AcqRel) + 1;
            activity.idle.push(activity, generation);
        }
    }
}
