//! [`WarmPool`]: stdio servers started before any user asks, so a user's first call does not
//! wait for a cold start (an `npx` server takes most of a second to boot).
//!
//! Only for servers whose command line and environment do not depend on the user: the config
//! check refuses `warm_pool` when any template of the entry names a variable, since a warm child
//! is started before anyone is known. A child is handed to the first user that needs one and a
//! replacement is started at once; a warm child that died while waiting is discarded, never
//! handed out. Warm children are not instances: the pool's size is their own bound.

use std::{collections::VecDeque, sync::Arc};

use super::{ChildSpec, Launcher, RunningChild};

/// Most warm children one server may keep; a larger `warm_pool` is clamped (a typo must not
/// start thousands of processes).
pub const MAX_WARM_POOL: usize = 64;

/// Pre-started children of one server.
#[derive(Clone)]
pub struct WarmPool {
    inner: Arc<Inner>,
}

struct Inner {
    launcher: Arc<Launcher>,
    spec: ChildSpec,
    size: usize,
    ready: std::sync::Mutex<Ready>,
}

struct Ready {
    children: VecDeque<RunningChild>,
    /// After [`WarmPool::close`]: nothing is started or handed out any more.
    closed: bool,
}

impl WarmPool {
    /// A pool keeping `size` (at most [`MAX_WARM_POOL`]) children of `spec` ready, started now.
    /// Call it inside a tokio runtime, from a thread that lives as long as the children (see
    /// [`Launcher::spawn`]); a child that cannot be started is logged, and retried on the next
    /// hand-out.
    pub fn start(launcher: Arc<Launcher>, spec: ChildSpec, size: usize) -> Self {
        let size = size.min(MAX_WARM_POOL);
        let inner = Arc::new(Inner {
            launcher,
            spec,
            size,
            ready: std::sync::Mutex::new(Ready {
                children: VecDeque::with_capacity(size),
                closed: false,
            }),
        });
        let pool = Self { inner };
        pool.refill();
        pool
    }

    /// A warm child that is still running, if one is ready; starts its replacement.
    pub fn take(&self) -> Option<RunningChild> {
        let taken = {
            let mut ready = self.lock();
            if ready.closed {
                return None;
            }
            let mut taken = None;
            while let Some(mut child) = ready.children.pop_front() {
                if child.has_exited() {
                    tracing::warn!(
                        server = %self.inner.spec.server,
                        "a warm child exited before it was used; discarding it"
                    );
                    continue;
                }
                taken = Some(child);
                break;
            }
            taken
        };
        self.refill();
        taken
    }

    /// Children ready now (tests, stats).
    pub fn ready(&self) -> usize {
        self.lock().children.len()
    }

    /// Stops handing out and starting children, and returns the ready ones for the caller to
    /// shut down gracefully.
    pub fn close(&self) -> Vec<RunningChild> {
        let mut ready = self.lock();
        ready.closed = true;
        ready.children.drain(..).collect()
    }

    /// Starts children until the pool is full. Spawning is a fork and exec, without waiting for
    /// the server to boot, so it is done under the lock: two hand-outs cannot overfill the pool.
    fn refill(&self) {
        let mut ready = self.lock();
        while !ready.closed && ready.children.len() < self.inner.size {
            match self.inner.launcher.spawn(&self.inner.spec) {
                Ok(child) => ready.children.push_back(child),
                Err(error) => {
                    tracing::warn!(
                        server = %self.inner.spec.server,
                        "could not start a warm child: {}",
                        error.kind()
                    );
                    break;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ready> {
        // A panic while holding the lock leaves a consistent queue: go on with it.
        self.inner.ready.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
