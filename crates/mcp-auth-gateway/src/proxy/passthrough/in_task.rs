//! An HTTP/1.1 client to one plain-`http` upstream whose connections are driven by the task
//! that uses them.
//!
//! Why not reqwest (hyper-util's pooled client) here: it runs each connection in a task of its
//! own, so one forwarded request crosses tasks four times (request → connection task, the
//! answer's head back, each body chunk back, the connection back to the pool). On a
//! multi-threaded runtime those tasks land on different workers and every crossing is a
//! futex wake-up — most of the hop's latency, measured in `docs/benchmarks.md`. Here the
//! request's own task (the caller's connection task in the server) polls the upstream
//! connection while it waits for the head, and the answer's body polls it while it is read,
//! so the only wake-ups left are the sockets' own — what a proxy like nginx pays.
//!
//! Idle connections wait in a bounded pool; one found closed (the socket itself is asked) is
//! dropped, and a request handed back unsent because its connection closed first (a race with
//! the upstream's keep-alive timeout) is sent once more on a new connection, as hyper-util
//! does; a request that may have been written is never sent twice, and one refused unsent by a
//! new connection is not sent again. TLS, proxies and HTTP/2 are reqwest's: this client is used
//! only for `http://` upstreams with no proxy set in the environment.

use std::{
    future::{Future, poll_fn},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::body::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::{
    body::Incoming,
    client::conn::http1::{Connection, SendRequest},
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per upstream: enough for the concurrency of a busy gateway, and a
/// bound on the sockets held when traffic drops.
const MAX_IDLE: usize = 256;

/// An idle connection older than this is closed instead of reused (reqwest's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub(super) struct InTaskClient {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header and the request target of every request.
    host: HeaderValue,
    target: Uri,
    idle: Arc<IdlePool>,
}

type IdlePool = Mutex<Idle>;

struct Idle {
    conns: Vec<(Conn, Instant)>,
    max: usize,
}

type Driver = Connection<TokioIo<TcpStream>, Full<Bytes>>;

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once the connection has closed: dropping the driver drops what it had not sent
    /// yet, so a request still waiting resolves (handed back unsent) instead of hanging.
    driver: Option<Pin<Box<Driver>>>,
    /// The socket, for [`peer_closed_or_spoke`].
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    #[cfg(not(unix))]
    fd: (),
}

impl Conn {
    /// Drives the connection's I/O; returns true once it has closed.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(driver) = &mut self.driver
            && driver.as_mut().poll(cx).is_ready()
        {
            self.driver = None;
        }
        self.driver.is_none()
    }

    /// Open, idle and ready for a request. The socket is asked directly whether the upstream
    /// has closed it (or sent something unasked): the runtime learns of a close only when its
    /// reactor next runs, which may be after this connection is written to.
    fn reusable(&mut self) -> bool {
        let waker = std::task::Waker::noop();
        !self.drive(&mut Context::from_waker(waker))
            && self.sender.is_ready()
            && !peer_closed_or_spoke(self.fd)
    }
}

/// True when `fd` (an open, non-blocking socket) has reached its end, failed, or holds bytes
/// nobody asked for; false when it is quietly waiting.
#[cfg(unix)]
fn peer_closed_or_spoke(fd: std::os::fd::RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: `fd` belongs to the connection's socket, which the caller's `Conn` keeps open
    // (its driver is `Some`); recv with MSG_PEEK reads nothing and writes at most one byte into
    // `byte`.
    let n =
        unsafe { libc::recv(fd, (&raw mut byte).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
}

#[cfg(not(unix))]
fn peer_closed_or_spoke(_: ()) -> bool {
    false
}

impl InTaskClient {
    /// `None` when `url` is not plain `http` (TLS is reqwest's) or names no host.
    pub(super) fn for_url(url: &url::Url) -> Option<Self> {
        Self::with_max_idle(url, MAX_IDLE)
    }

    fn with_max_idle(url: &url::Url, max_idle: usize) -> Option<Self> {
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        // `url` keeps an IPv6 host in brackets, as both the Host header and connect want it.
        Some(Self {
            address: format!("{host}:{port}"),
            host: HeaderValue::from_str(&authority).ok()?,
            target: target.parse().ok()?,
            idle: Arc::new(Mutex::new(Idle { conns: Vec::new(), max: max_idle })),
        })
    }

    /// Sends `body` with `headers`; the answer's body drives its connection as it is read.
    pub(super) async fn send(
        &self,
        method: Method,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Response<InTaskBody>, Unreachable> {
        let mut request = Request::builder()
            .method(method)
            .uri(self.target.clone())
            .body(Full::new(body.clone()))
            .map_err(|_| Unreachable)?;
        request.headers_mut().clone_from(headers);
        request.headers_mut().insert(header::HOST, self.host.clone());
        loop {
            let (mut conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                None => (self.connect().await?, false),
            };
            let sent = std::pin::pin!(conn.sender.try_send_request(request));
            match drive_until(&mut conn, sent).await {
                Ok(answer) => {
                    let idle = self.idle.clone();
                    let conn = Some(conn);
                    return Ok(answer.map(|incoming| InTaskBody { incoming, conn, idle }));
                }
                // Handed back unsent by a pooled connection: it had closed (the upstream's
                // keep-alive timeout, say) before the request was written. Safe to send on
                // another; the pool is finite, so this ends at a new connection, whose refusal
                // is final.
                Err(mut error) => match error.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(Unreachable),
                },
            }
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some((mut conn, since)) = idle.conns.pop() {
            if since.elapsed() < IDLE_TIMEOUT && conn.reusable() {
                return Some(conn);
            }
        }
        None
    }

    async fn connect(&self) -> Result<Conn, Unreachable> {
        let stream = TcpStream::connect(&self.address).await.map_err(|_| Unreachable)?;
        stream.set_nodelay(true).map_err(|_| Unreachable)?;
        #[cfg(unix)]
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        #[cfg(not(unix))]
        let fd = ();
        let io = TokioIo::new(stream);
        let (sender, driver) =
            hyper::client::conn::http1::handshake(io).await.map_err(|_| Unreachable)?;
        Ok(Conn { sender, driver: Some(Box::pin(driver)), fd })
    }
}

/// Returns `conn` to the pool when it can serve another request and the pool has room.
fn put_idle(pool: &IdlePool, mut conn: Conn) {
    if !conn.reusable() {
        return;
    }
    let mut idle = pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    idle.conns.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
    if idle.conns.len() < idle.max {
        idle.conns.push((conn, Instant::now()));
    }
}

/// Polls `future` and the connection it needs, in this task, until `future` is done.
async fn drive_until<F: Future>(conn: &mut Conn, mut future: Pin<&mut F>) -> F::Output {
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if conn.drive(cx) {
            // Closed: the request has its answer or its error now.
            return future.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await
}

/// The upstream could not be reached, or closed the connection before answering; the caller
/// answers with its own error, so the cause is not kept.
#[derive(Debug)]
pub(super) struct Unreachable;

/// An upstream answer's body; reading it drives the connection, and reading it to its end
/// returns the connection to the pool (dropping it earlier closes the connection, which is
/// how the upstream learns the caller went away).
pub(super) struct InTaskBody {
    incoming: Incoming,
    conn: Option<Conn>,
    idle: Arc<IdlePool>,
}

impl Body for InTaskBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if let Some(conn) = &mut this.conn {
            conn.drive(cx);
        }
        let frame = Pin::new(&mut this.incoming).poll_frame(cx);
        if let Poll::Ready(None) = frame
            && let Some(conn) = this.conn.take()
        {
            put_idle(&this.idle, conn);
        }
        frame
    }

    /// Not before the last frame was asked for: that poll returns the connection to the pool.
    fn is_end_stream(&self) -> bool {
        self.conn.is_none() && self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests;
