//! [`RunningChild`]: a started server, its pipes, and the ways it ends.

use std::{fmt, future::Future, process::ExitStatus, time::Duration};

use tokio::process::{Child, ChildStdin, ChildStdout};

/// How long [`RunningChild::shutdown`] lets a server exit on its own once its stdin is closed
/// (capped by the grace period) before it sends SIGTERM.
const EOF_WAIT: Duration = Duration::from_millis(250);

/// How much longer than the grace period [`RunningChild::shutdown`] waits for the supervisor,
/// which needs the grace period itself, before it kills the process group.
const SUPERVISOR_SLACK: Duration = Duration::from_secs(1);

/// A server started by [`Launcher::spawn`](super::Launcher::spawn).
///
/// The process is the supervisor; PROGRAM reads [`stdin`](Self::stdin) and writes
/// [`stdout`](Self::stdout) directly. End it with [`shutdown`](Self::shutdown); dropping it
/// kills the whole tree at once, without a grace period.
pub struct RunningChild {
    /// PROGRAM's stdin. Take it to talk to the server; dropping it closes the server's input.
    pub stdin: Option<ChildStdin>,
    /// PROGRAM's stdout.
    pub stdout: Option<ChildStdout>,
    /// The supervisor.
    child: Child,
    /// The supervisor's process group (its pid), which PROGRAM shares.
    pgid: i32,
    grace: Duration,
    /// For log lines: the server's name and the user's hash.
    server: String,
    user_hash: String,
    /// The supervisor's exit status, once reaped.
    status: Option<ExitStatus>,
    /// The tree has been sent SIGKILL by us.
    killed: bool,
}

impl fmt::Debug for RunningChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningChild")
            .field("server", &self.server)
            .field("pid", &self.pgid)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Children started and not yet dropped, for the `mcp_auth_child_processes` gauge.
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Upstream children started and not yet dropped (their supervisors; each runs one server).
pub fn live_children() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

impl RunningChild {
    pub(super) fn new(
        mut child: Child,
        grace: Duration,
        server: String,
        user_hash: String,
    ) -> Self {
        let pgid = child.id().and_then(|pid| i32::try_from(pid).ok()).unwrap_or_default();
        LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            pgid,
            grace,
            server,
            user_hash,
            status: None,
            killed: false,
        }
    }

    /// The supervisor's pid (also the process group's id), until it has been reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resolves when the supervisor has exited, which it does once PROGRAM has exited and the
    /// rest of the tree has been ended; its status is PROGRAM's (exit code, or 128 + signal
    /// number). `None` if waiting failed. Cancel-safe; resolves at once when already known.
    pub fn exited(&mut self) -> impl Future<Output = Option<ExitStatus>> + '_ {
        self.wait()
    }

    /// Whether the supervisor has exited (its server with it), without waiting.
    pub fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }

    async fn wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.wait().await.ok();
        }
        self.status
    }

    /// Ends the server gracefully and reaps it. Following the MCP stdio shutdown sequence: closes
    /// its stdin and gives it a moment to exit; then sends SIGTERM to the supervisor, which
    /// passes it to the whole tree and sends SIGKILL after the grace period; and if the
    /// supervisor itself has not exited a second after that, sends SIGKILL to the whole group
    /// and subtree.
    pub async fn shutdown(mut self) {
        drop(self.stdin.take());
        let eof_wait = EOF_WAIT.min(self.grace);
        if self.status.is_none() && tokio::time::timeout(eof_wait, self.wait()).await.is_err() {
            #[cfg(unix)]
            send(self.pgid, libc::SIGTERM);
            let limit = self.grace.saturating_add(SUPERVISOR_SLACK);
            if tokio::time::timeout(limit, self.wait()).await.is_err() {
                tracing::warn!(
                    server = %self.server,
                    user = %self.user_hash,
                    pid = self.pgid,
                    "the server's supervisor did not exit {limit:?} after SIGTERM; killing its tree"
                );
                self.kill_tree();
                self.wait().await;
            }
        }
        self.kill_orphans();
    }

    /// SIGKILL to the supervisor's group and to every process of its subtree (a descendant that
    /// left the group with `setsid` included). Only while the supervisor has not been reaped:
    /// until then its pid, the group's id, cannot be reused.
    fn kill_tree(&mut self) {
        if self.pgid <= 0 {
            let _ = self.child.start_kill();
            return;
        }
        // Read before the kill: once the supervisor is dead its subtree's parent links are gone.
        #[cfg(target_os = "linux")]
        let subtree = super::tree::family(self.pgid, None);
        #[cfg(unix)]
        send(-self.pgid, libc::SIGKILL);
        #[cfg(target_os = "linux")]
        for proc in subtree {
            send(proc.pid, libc::SIGKILL);
        }
        #[cfg(not(unix))]
        let _ = self.child.start_kill();
        self.killed = true;
    }

    /// After the supervisor has exited: if something other than us killed it by a signal, it
    /// could not end its tree, and what is left of its process group is killed now.
    fn kill_orphans(&mut self) {
        #[cfg(unix)]
        if let Some(status) = self.status {
            use std::os::unix::process::ExitStatusExt;
            if status.signal().is_some() && !self.killed && self.pgid > 0 {
                send(-self.pgid, libc::SIGKILL);
                self.killed = true;
            }
        }
    }
}

impl Drop for RunningChild {
    /// Kills the whole tree at once (no grace period, no waiting); tokio reaps the supervisor in
    /// the background (`kill_on_drop`).
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        if self.status.is_none() {
            self.kill_tree();
        } else {
            self.kill_orphans();
        }
    }
}

/// Sends `signal` to `pid` (a process group when negative). Errors (already gone) are ignored.
#[cfg(unix)]
fn send(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) };
}
