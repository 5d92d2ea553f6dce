//! [`Launcher`]: starts a user's server under the supervisor, with the pipes the proxy talks on.

use std::{fmt, io, path::PathBuf, process::Stdio, time::Duration};

use tracing::instrument::WithSubscriber;

use super::{
    running::RunningChild,
    stderr,
    supervisor::{DEFAULT_GRACE, GRACE_ENV, PARENT_ENV, SUPERVISE_COMMAND},
};

/// What to run for one user.
///
/// `Debug` prints the environment's names only: its values hold the user's credential.
#[derive(Clone)]
pub struct ChildSpec {
    /// The program, as configured: a path, or a name looked up on the child's `PATH` (the `PATH`
    /// of [`env`](Self::env)) when the supervisor executes it.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The child's whole environment: nothing else is inherited. Build it with
    /// [`env_allow_list`](super::env_allow_list).
    pub env: Vec<(String, String)>,
    /// Its working directory (the gateway's when `None`). A relative `program` is looked up
    /// from there.
    pub cwd: Option<PathBuf>,
    /// The server's name, for log lines.
    pub server: String,
    /// The user as log lines name them: their keyed tag (`mcp_auth::UserIdLogging`, the
    /// gateway's `[log]`), the id itself with `log_user_ids`, or `warm`. Not `{user_id_hash}`.
    pub user_hash: String,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("program", &self.program)
            .field("args", &self.args.len())
            .field("env", &self.env.iter().map(|(name, _)| name).collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("server", &self.server)
            .field("user_hash", &self.user_hash)
            .finish()
    }
}

/// Starts children: `SUPERVISOR_EXE __supervise -- PROGRAM ARGS…`, leader of a new process group,
/// with piped stdin, stdout and stderr.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use mcp_auth_gateway::child::{ChildSpec, Launcher, env_allow_list};
///
/// let launcher = Launcher::current_exe()?;
/// let spec = ChildSpec {
///     program: "npx".into(),
///     args: vec!["-y".into(), "@modelcontextprotocol/server-memory".into()],
///     env: env_allow_list(std::env::vars(), &[], vec![]),
///     cwd: None,
///     server: "memory".into(),
///     user_hash: "3f2a…".into(),
/// };
/// let mut child = launcher.spawn(&spec)?;
/// let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
/// // … speak MCP over them …
/// child.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Launcher {
    exe: PathBuf,
    grace: Duration,
}

impl Launcher {
    /// Uses `supervisor_exe` (the `mcp-auth` binary; an absolute path, since the child's working
    /// directory may differ) as the supervisor.
    pub fn new(supervisor_exe: PathBuf) -> Self {
        Self { exe: supervisor_exe, grace: DEFAULT_GRACE }
    }

    /// Uses the running binary as the supervisor. On Linux that is `/proc/self/exe`, which still
    /// runs this binary after a package upgrade replaced (or deleted) its file.
    pub fn current_exe() -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        let exe = PathBuf::from("/proc/self/exe");
        #[cfg(not(target_os = "linux"))]
        let exe = std::env::current_exe()?;
        Ok(Self::new(exe))
    }

    /// The time between SIGTERM and SIGKILL when a child's tree is ended (default 2 s).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The time between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Starts `spec` under the supervisor. Its stderr is logged line by line at INFO with the
    /// `server` and `user` (hash) fields, by a task on the current runtime.
    ///
    /// Call it from an async task of a tokio runtime (it fails outside one), never from
    /// `spawn_blocking`: the supervisor asks the kernel for SIGTERM when its parent dies, and
    /// Linux means the parent *thread*. A worker thread of the runtime lives as long as the
    /// runtime; a blocking-pool thread exits after a few idle seconds, and would take the child
    /// with it.
    pub fn spawn(&self, spec: &ChildSpec) -> io::Result<RunningChild> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|err| {
            io::Error::other(format!("no tokio runtime to start a child on: {err}"))
        })?;
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .arg(SUPERVISE_COMMAND)
            .arg("--")
            .arg(&spec.program)
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .env(PARENT_ENV, std::process::id().to_string())
            .env(GRACE_ENV, self.grace.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        // `ps` would otherwise show `/proc/self/exe __supervise -- …`.
        command.arg0("mcp-auth").process_group(0);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        tracing::debug!(server = %spec.server, user = %spec.user_hash, pid, "started the server");
        if let Some(pipe) = child.stderr.take() {
            let forward = stderr::forward(pipe, spec.server.clone(), spec.user_hash.clone());
            runtime.spawn(forward.with_current_subscriber());
        }
        Ok(RunningChild::new(child, self.grace, spec.server.clone(), spec.user_hash.clone()))
    }
}
