//! The graceful drain of `mcp-auth serve` on SIGTERM or Ctrl-C, in the order a load balancer
//! needs it:
//!
//! 1. every mount's `GET {mount}/ready` answers `503` at once, so the balancer (a Kubernetes
//!    endpoints controller, say) takes this process out of rotation;
//! 2. for `server.drain_delay` everything is still served: requests the balancer routed here
//!    before it noticed are answered, not refused. A second signal cuts the delay short;
//! 3. then the listener closes, requests in flight get the library's shutdown grace period
//!    (`HttpOptions::shutdown_grace_period`, 10 s), and every upstream child is stopped
//!    ([`Gateway::serve_with`] returns only then).

use std::{sync::Arc, time::Duration};

use super::Gateway;

/// The stop signals, listened to from creation on: a signal that arrives while the
/// drain runs is not lost between two listeners.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening for SIGTERM (Ctrl-C is listened to on each [`next`](Self::next)). Until
    /// this is called, SIGTERM ends the process at once: call it before announcing the
    /// listener. Needs the runtime.
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// Resolves on the next SIGTERM (what service managers, Kubernetes and `docker stop` send)
    /// or Ctrl-C.
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Waits for a stop signal on `signals`, then drains `gateway` as the module says: readiness
/// off, `delay` of serving on (cut short by a second signal), then [`Gateway::shutdown`].
pub(crate) async fn drain_on_signal(
    gateway: Arc<Gateway>,
    delay: Duration,
    mut signals: StopSignals,
) {
    signals.next().await;
    gateway.begin_draining();
    if !delay.is_zero() {
        tracing::info!(
            ?delay,
            "stopping: /ready answers 503; still serving for server.drain_delay"
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = signals.next() => {
                tracing::info!("second stop signal: skipping the rest of server.drain_delay");
            }
        }
    }
    tracing::info!("stopping: draining connections and stopping upstream servers");
    gateway.shutdown();
}
