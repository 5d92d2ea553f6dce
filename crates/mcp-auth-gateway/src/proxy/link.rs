//! [`UpstreamLink`]: one instance's connection to its upstream server, made on first use.
//!
//! Spawning a child and completing the MCP handshake are both slow and fallible, so an instance
//! is built at once (cheaply, synchronously, by the instance factory) and connects when the first
//! request needs it: a failure is that request's JSON-RPC error, with a clear message, and the
//! next request tries again. Connecting is single-flight (one spawn however many requests wait),
//! bounded by the request timeout, and backs off when the upstream keeps dying soon after it
//! starts — a crash-looping server is never respawned in a tight loop.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{Peer, RoleClient, model::ServerPeerInfo, service::RunningService};
use tokio_util::task::TaskTracker;

use super::{client::UpstreamClient, routes::Routes};
use crate::child::RunningChild;

/// A boxed, sendable future (what [`Connector::connect`] returns).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A live upstream: the rmcp client service and, for stdio, the child it talks to.
pub struct Connection {
    /// The rmcp client, after a completed handshake.
    pub(crate) service: RunningService<RoleClient, UpstreamClient>,
    /// The child process (stdio upstreams).
    pub(crate) child: Option<RunningChild>,
}

/// Makes connections to one user's upstream.
pub trait Connector: Send + Sync + 'static {
    /// Starts the upstream (spawn, or HTTP) and completes the MCP handshake as `client`.
    fn connect(&self, client: UpstreamClient) -> BoxFuture<'_, Result<Connection, ConnectError>>;
}

/// Why no upstream is available. The messages reach clients: they name what failed and never
/// include a credential, a command line or an environment.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// The child could not be spawned.
    #[error("the upstream server could not be started: {0}")]
    Spawn(String),
    /// The upstream did not complete `initialize`.
    #[error("the upstream server failed to initialize: {0}")]
    Initialize(String),
    /// The upstream did not complete `initialize` in time.
    #[error("the upstream server did not initialize within {0:?}")]
    Timeout(Duration),
    /// The upstream keeps dying soon after it starts: no respawn until the backoff ends.
    #[error(
        "the upstream server keeps failing ({crashes} times in a row); next attempt in {wait_ms} ms"
    )]
    Backoff {
        /// Consecutive failures.
        crashes: u32,
        /// Until the next attempt.
        wait_ms: u64,
    },
    /// The instance is shutting down.
    #[error("the upstream server is shutting down")]
    Closed,
}

impl ConnectError {
    /// A failed handshake, as clients may see it: what kind of failure, never the transport's own
    /// text, which names the upstream's URL (and whatever its query holds) and rmcp's internal
    /// types. The whole error goes to the gateway's log.
    pub(crate) fn initialize(error: &rmcp::service::ClientInitializeError) -> Self {
        use rmcp::service::ClientInitializeError as E;
        tracing::warn!(%error, "the upstream server failed to initialize");
        let why = match error {
            E::JsonRpcError(data) => format!("it answered {} {}", data.code.0, data.message),
            _ if error.auth_challenge().is_some() => "it refused the credential".to_owned(),
            E::TransportError { context, .. } => format!("it could not be reached ({context})"),
            E::ConnectionClosed(_) => "it closed the connection".to_owned(),
            E::NoCompatibleProtocolVersion { .. } => "no common protocol version".to_owned(),
            _ => "it did not complete the handshake".to_owned(),
        };
        Self::Initialize(why)
    }
}

/// A forwarded request that failed in the transport, as clients may see it (see
/// [`ConnectError::initialize`]); the whole error goes to the log.
pub(crate) fn request_failed(error: &rmcp::ServiceError) -> rmcp::ErrorData {
    tracing::warn!(%error, "a request to the upstream server failed");
    let why = match error {
        rmcp::ServiceError::TransportSend(_) if error.auth_challenge().is_some() => {
            "the upstream server refused the credential"
        }
        rmcp::ServiceError::TransportSend(_) | rmcp::ServiceError::TransportClosed => {
            "the upstream server could not be reached"
        }
        rmcp::ServiceError::Timeout { .. } => "the upstream server did not answer in time",
        _ => "the upstream server did not answer the request",
    };
    rmcp::ErrorData::internal_error(why, None)
}

/// An upstream that dies within this long of starting counts as a crash for the backoff.
const CRASH_WINDOW: Duration = Duration::from_secs(10);
/// Longest wait between attempts of a crash-looping upstream.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before attempt `crashes + 1`: none after the first failure (a server killed once
/// comes straight back), then 0.5 s doubling up to [`MAX_BACKOFF`].
pub(crate) fn backoff(crashes: u32) -> Duration {
    if crashes <= 1 {
        return Duration::ZERO;
    }
    let doublings = (crashes - 2).min(16);
    (Duration::from_millis(500) * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// A connected upstream as requests use it.
pub(crate) struct Live {
    pub(crate) peer: Peer<RoleClient>,
    pub(crate) info: ServerPeerInfo,
    started: Instant,
    /// Taken once, to close it (gracefully, on the tracker).
    connection: Mutex<Option<Connection>>,
}

impl Live {
    pub(crate) fn is_closed(&self) -> bool {
        self.peer.is_transport_closed()
    }
}

#[derive(Default)]
struct LinkState {
    live: Option<Arc<Live>>,
    crashes: u32,
    retry_at: Option<Instant>,
    closed: bool,
}

/// One instance's upstream connection.
pub(crate) struct UpstreamLink {
    connector: Box<dyn Connector>,
    pub(crate) routes: Routes,
    /// Ask the caller when the upstream asks for roots (`forward_roots`).
    pub(crate) forward_roots: bool,
    /// The session is opened with `server/discover` (for 2026-07-28 callers; see
    /// [`UpstreamClient::modern`]).
    pub(crate) modern: bool,
    connect_timeout: Duration,
    state: tokio::sync::Mutex<LinkState>,
    /// Where graceful closes run, so that the gateway can wait for them at exit.
    closer: TaskTracker,
}

impl UpstreamLink {
    pub(crate) fn new(
        connector: Box<dyn Connector>,
        connect_timeout: Duration,
        closer: TaskTracker,
    ) -> Self {
        Self {
            connector,
            routes: Routes::default(),
            forward_roots: false,
            modern: false,
            connect_timeout,
            state: tokio::sync::Mutex::default(),
            closer,
        }
    }

    /// The live upstream, connecting (or reconnecting) if there is none.
    pub(crate) async fn get(&self) -> Result<Arc<Live>, ConnectError> {
        let mut state = self.state.lock().await;
        if state.closed {
            return Err(ConnectError::Closed);
        }
        if let Some(live) = &state.live {
            if !live.is_closed() {
                return Ok(live.clone());
            }
            // It died: a short life counts toward the backoff, a long one starts it over.
            let live = state.live.take().expect("checked above");
            let crashed = live.started.elapsed() < CRASH_WINDOW;
            state.crashes = if crashed { state.crashes + 1 } else { 1 };
            state.retry_at = Some(Instant::now() + backoff(state.crashes));
            tracing::warn!(crashes = state.crashes, "the upstream server exited; restarting it");
            self.close_in_background(&live);
        }
        if let Some(at) = state.retry_at {
            let now = Instant::now();
            if now < at {
                let wait_ms = u64::try_from((at - now).as_millis()).unwrap_or(u64::MAX).max(1);
                return Err(ConnectError::Backoff { crashes: state.crashes, wait_ms });
            }
        }
        let client = UpstreamClient {
            routes: self.routes.clone(),
            forward_roots: self.forward_roots,
            modern: self.modern,
        };
        let attempt = tokio::time::timeout(self.connect_timeout, self.connector.connect(client));
        let result = match attempt.await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Timeout(self.connect_timeout)),
        };
        match result {
            Ok(connection) => {
                let peer = connection.service.peer().clone();
                let info = peer.peer_info().map(|info| (*info).clone()).ok_or_else(|| {
                    ConnectError::Initialize("the upstream sent no server information".into())
                })?;
                let live = Arc::new(Live {
                    peer,
                    info,
                    started: Instant::now(),
                    connection: Mutex::new(Some(connection)),
                });
                state.live = Some(live.clone());
                Ok(live)
            }
            Err(error) => {
                state.crashes += 1;
                state.retry_at = Some(Instant::now() + backoff(state.crashes));
                Err(error)
            }
        }
    }

    /// Where this link's graceful closes run (a second link of the same instance shares it).
    pub(crate) fn closer(&self) -> TaskTracker {
        self.closer.clone()
    }

    /// The upstream's information, when connected.
    pub(crate) fn info(&self) -> Option<ServerPeerInfo> {
        let state = self.state.try_lock().ok()?;
        state.live.as_ref().map(|live| live.info.clone())
    }

    /// Closes the upstream now and refuses new connections (eviction, shutdown).
    pub(crate) async fn close(&self) {
        let mut state = self.state.lock().await;
        state.closed = true;
        if let Some(live) = state.live.take() {
            self.close_in_background(&live);
        }
    }

    /// Ends `live` gracefully: the rmcp client stops (closing the child's stdin), then the child
    /// gets SIGTERM and, after the grace period, SIGKILL.
    fn close_in_background(&self, live: &Live) {
        let taken = live.connection.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(Connection { service, child }) = taken else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (process exit): dropping kills the child's whole process group.
            drop((service, child));
            return;
        };
        self.closer.spawn_on(
            async move {
                let _ = service.cancel().await;
                if let Some(child) = child {
                    child.shutdown().await;
                }
            },
            &runtime,
        );
    }
}

impl Drop for UpstreamLink {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if let Some(live) = state.live.take() {
            self.close_in_background(&live);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_none_after_one_failure_then_doubles_to_a_cap() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(2));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
