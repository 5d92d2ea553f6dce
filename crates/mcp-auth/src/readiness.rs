//! [`Readiness`]: whether this process should be sent new traffic, as `GET {base}/ready`
//! reports it to a load balancer or an orchestrator (a Kubernetes readiness probe).
//!
//! Readiness is not liveness. `GET {base}/health` stays `200` for as long as the process
//! answers at all (restarting a process that is only draining, or whose shared store is down,
//! would make things worse); `/ready` turns `503` once the server has begun to shut down
//! ([`Readiness::set_draining`], which [`WrappedServer::shutdown`](crate::WrappedServer::shutdown)
//! also does), or while one of its [`ReadinessCheck`]s fails — say, a shared session store
//! that cannot be reached. The load balancer then stops sending new requests here while the
//! ones in flight finish.
//!
//! ```
//! use mcp_auth::readiness::{NotReady, Readiness, ReadinessCheck};
//!
//! struct Store;
//! impl ReadinessCheck for Store {
//!     fn name(&self) -> &str { "store" }
//!     fn check(&self) -> futures::future::BoxFuture<'_, Result<(), String>> {
//!         Box::pin(async { Ok(()) })
//!     }
//! }
//!
//! # async fn run() {
//! let readiness = Readiness::new();
//! readiness.add_check(Store);
//! assert!(readiness.check().await.is_ok());
//! readiness.set_draining();
//! assert!(matches!(readiness.check().await, Err(NotReady::Draining)));
//! # }
//! ```

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;

/// How long one check may take before it counts as failed: a dependency that hangs must make
/// the probe say "not ready", not make the probe itself time out (which some balancers treat
/// as a dead process).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One condition this process needs to serve new requests (a shared store reachable, say).
pub trait ReadinessCheck: Send + Sync + 'static {
    /// A short name for the log line of a failure (`"redis"`); never sent to callers.
    fn name(&self) -> &str;

    /// `Ok` when the dependency is usable; `Err(reason)` otherwise, for the log. Called on
    /// every `GET {base}/ready`, so it should be cheap; it is given [`CHECK_TIMEOUT`].
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Why this process is not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// Shutdown has begun: requests are still served, but new traffic should go elsewhere.
    #[error("draining")]
    Draining,
    /// A [`ReadinessCheck`] failed or did not answer within [`CHECK_TIMEOUT`].
    #[error("readiness check `{check}` failed: {reason}")]
    CheckFailed {
        /// The check's [name](ReadinessCheck::name).
        check: String,
        /// Its reason, or that it timed out.
        reason: String,
    },
}

/// A server's readiness: a draining flag and the checks it runs. Cheap to clone; clones share
/// the flag and the checks, so one handle can be given to several servers
/// ([`WrapServerBuilder::readiness`](crate::WrapServerBuilder::readiness)) to drain them together.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    draining: AtomicBool,
    checks: RwLock<Vec<Arc<dyn ReadinessCheck>>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.is_draining())
            .field("checks", &self.checks().iter().map(|c| c.name().to_owned()).collect::<Vec<_>>())
            .finish()
    }
}

impl Readiness {
    /// Ready, with no checks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check, run on every later [`check`](Self::check) by every clone of this handle.
    pub fn add_check(&self, check: impl ReadinessCheck) {
        self.inner
            .checks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Arc::new(check));
    }

    /// From now on, not ready: shutdown has begun. There is no way back; a process that drains
    /// is on its way out.
    pub fn set_draining(&self) {
        if !self.inner.draining.swap(true, Ordering::AcqRel) {
            tracing::info!("draining: readiness now answers 503");
        }
    }

    /// Whether [`set_draining`](Self::set_draining) was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Whether this process should get new traffic: not draining, and every check passing
    /// (run concurrently, each within [`CHECK_TIMEOUT`]). The first failure is returned.
    pub async fn check(&self) -> Result<(), NotReady> {
        if self.is_draining() {
            return Err(NotReady::Draining);
        }
        let checks = self.checks();
        let results = futures::future::join_all(checks.iter().map(|check| async move {
            let outcome = tokio::time::timeout(CHECK_TIMEOUT, check.check()).await;
            let reason = match outcome {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(reason)) => reason,
                Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
            };
            Err(NotReady::CheckFailed { check: check.name().to_owned(), reason })
        }))
        .await;
        results.into_iter().collect()
    }

    /// The checks, copied out: the lock is never held across an `await`.
    fn checks(&self) -> Vec<Arc<dyn ReadinessCheck>> {
        self.inner.checks.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Result<(), &'static str>);
    impl ReadinessCheck for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            let result = self.1.map_err(str::to_owned);
            Box::pin(async move { result })
        }
    }

    struct Hangs;
    impl ReadinessCheck for Hangs {
        fn name(&self) -> &str {
            "hangs"
        }
        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(futures::future::pending())
        }
    }

    #[tokio::test]
    async fn ready_until_draining_and_a_clone_sees_the_flag() {
        let readiness = Readiness::new();
        readiness.add_check(Fixed("store", Ok(())));
        assert_eq!(readiness.check().await, Ok(()));
        readiness.clone().set_draining();
        assert_eq!(readiness.check().await, Err(NotReady::Draining));
    }

    #[tokio::test]
    async fn a_failing_check_names_itself_and_its_reason() {
        let readiness = Readiness::new();
        readiness.add_check(Fixed("ok", Ok(())));
        readiness.add_check(Fixed("redis", Err("connection refused")));
        assert_eq!(
            readiness.check().await,
            Err(NotReady::CheckFailed {
                check: "redis".to_owned(),
                reason: "connection refused".to_owned()
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_hangs_fails_after_the_timeout() {
        let readiness = Readiness::new();
        readiness.add_check(Hangs);
        let Err(NotReady::CheckFailed { check, reason }) = readiness.check().await else {
            panic!("a hanging check must fail");
        };
        assert_eq!((check.as_str(), reason.as_str()), ("hangs", "no answer within 2s"));
    }
}
