//! `mcp-auth __supervise -- PROGRAM ARGS…`: the process between the gateway and a user's server.
//!
//! The gateway never spawns a server directly: a `sh -c` wrapper killed alone leaves the real
//! server running, and a gateway killed with SIGKILL gets no chance to kill anything. This small
//! synchronous program (no runtime, no threads) makes the server's whole tree end with it:
//!
//! - `PR_SET_PDEATHSIG(SIGTERM)` tells it when the gateway dies, however it dies; the parent pid
//!   is checked right after, so a gateway that died before the call is noticed too;
//! - `PR_SET_CHILD_SUBREAPER` re-parents orphaned descendants to it, so a grandchild whose parent
//!   exited, or one that called `setsid`, stays in its subtree, and it reaps them all;
//! - PROGRAM runs in the supervisor's process group, with the gateway's pipes as its stdio (the
//!   supervisor copies nothing) and `PR_SET_PDEATHSIG(SIGKILL)` of its own;
//! - on SIGTERM, SIGINT or SIGHUP, or when PROGRAM exits, every process of the group and of the
//!   subtree (found through `/proc` parent links, see [`super::tree`]) gets SIGTERM, then SIGKILL
//!   after the grace period; the supervisor exits with PROGRAM's exit code (128 + signal number
//!   when PROGRAM was killed by a signal).
//!
//! Signals are blocked and taken with `sigwait`/`sigtimedwait` in the one thread, so no work runs
//! in a signal handler. Its own messages go to stderr, prefixed `mcp-auth supervisor:`; the
//! gateway logs that pipe with the server's name.

use std::{ffi::OsString, fmt::Display, io::Write, time::Duration};

/// The hidden subcommand that runs the supervisor.
pub const SUPERVISE_COMMAND: &str = "__supervise";

/// The gateway's pid, set by the launcher. Absent, the supervisor's parent at start is used.
pub const PARENT_ENV: &str = "MCP_AUTH_SUPERVISOR_PARENT";
/// Milliseconds between SIGTERM and SIGKILL when the tree is ended.
pub const GRACE_ENV: &str = "MCP_AUTH_SUPERVISOR_GRACE_MS";
/// The grace period when [`GRACE_ENV`] is absent.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// Exit code when PROGRAM was not found (as a shell's "command not found").
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code when PROGRAM was found but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit code when the supervisor itself failed, or the gateway was already gone at its start
/// (as `timeout` and `env` do for their own failures).
pub const EXIT_SUPERVISOR_FAILED: i32 = 125;

/// Runs `command` (PROGRAM and its arguments) under supervision and returns the exit code to
/// exit with. Call it from `main`, before any runtime or thread is started.
pub fn run(command: &[OsString]) -> i32 {
    let Some((program, args)) = command.split_first() else {
        say("no program given (usage: mcp-auth __supervise -- PROGRAM ARGS...)");
        return EXIT_SUPERVISOR_FAILED;
    };
    #[cfg(target_os = "linux")]
    {
        linux::supervise(program, args)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (program, args);
        say("supervised servers need Linux (prctl PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER)");
        EXIT_SUPERVISOR_FAILED
    }
}

/// One message on stderr. A closed stderr is not an error worth dying for.
fn say(message: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "mcp-auth supervisor: {message}");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::{
        ffi::{OsStr, OsString},
        io,
        os::{fd::AsRawFd, unix::process::CommandExt},
        process::Command,
        time::{Duration, Instant},
    };

    use nix::{
        sys::{
            prctl,
            signal::{SigSet, Signal, kill},
        },
        unistd::{Pid, getpgrp, getpid, getppid, setpgid},
    };

    use super::{
        DEFAULT_GRACE, EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND, EXIT_SUPERVISOR_FAILED, GRACE_ENV,
        PARENT_ENV, say,
    };
    use crate::child::tree;

    /// How often the subtree is looked at while it is being ended: processes that are not our
    /// children send no SIGCHLD when they exit.
    const POLL: Duration = Duration::from_millis(20);
    /// SIGKILL rounds before giving up on a process that will not die (uninterruptible sleep).
    const KILL_ROUNDS: u32 = 100;

    /// The longest grace period the supervisor accepts.
    const MAX_GRACE: Duration = Duration::from_secs(3600);

    /// The grace period from [`GRACE_ENV`] (whole milliseconds), capped at an hour.
    fn grace_from_env() -> Duration {
        match std::env::var(GRACE_ENV) {
            Err(_) => DEFAULT_GRACE,
            Ok(value) => match value.trim().parse::<u64>() {
                Ok(ms) => Duration::from_millis(ms).min(MAX_GRACE),
                Err(_) => {
                    say(format_args!(
                        "{GRACE_ENV}={value:?} is not a number of milliseconds; using {DEFAULT_GRACE:?}"
                    ));
                    DEFAULT_GRACE
                }
            },
        }
    }

    pub(super) fn supervise(program: &OsStr, args: &[OsString]) -> i32 {
        let started_by = getppid();
        let parent = std::env::var(PARENT_ENV)
            .ok()
            .and_then(|pid| pid.trim().parse::<i32>().ok())
            .filter(|pid| *pid > 0)
            .map_or(started_by, Pid::from_raw);
        let grace = grace_from_env();

        // Blocked before anything can send them: they wait, pending, for `sigwait` below.
        let mut waited = SigSet::empty();
        for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGCHLD] {
            waited.add(signal);
        }
        if let Err(err) = waited.thread_block() {
            say(format_args!("cannot block signals: {err}"));
            return EXIT_SUPERVISOR_FAILED;
        }
        // Set before the check: a parent dying after it sends SIGTERM; one that died before it
        // has already re-parented us, which the check sees.
        if let Err(err) = prctl::set_pdeathsig(Signal::SIGTERM) {
            say(format_args!("cannot ask for the parent-death signal: {err}"));
            return EXIT_SUPERVISOR_FAILED;
        }
        if getppid() != parent {
            say(format_args!("the gateway (pid {parent}) is already gone; not starting"));
            return EXIT_SUPERVISOR_FAILED;
        }
        if let Err(err) = prctl::set_child_subreaper(true) {
            say(format_args!("cannot become a child subreaper: {err}"));
            return EXIT_SUPERVISOR_FAILED;
        }
        let me = getpid();
        // The launcher made us a group leader already; when started otherwise, lead a group of
        // our own, so that signalling "our group" never reaches whoever started us.
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
        let group = (getpgrp() == me).then_some(me.as_raw());

        let mut command = Command::new(program);
        command.args(args).env_remove(PARENT_ENV).env_remove(GRACE_ENV);
        // SAFETY: runs in the forked child before exec. It only makes async-signal-safe system
        // calls (sigprocmask, prctl, getppid) and allocates nothing (errors are raw OS errors).
        unsafe {
            command.pre_exec(move || {
                // The mask is inherited across exec; PROGRAM must see the signals we block.
                SigSet::empty().thread_set_mask()?;
                prctl::set_pdeathsig(Signal::SIGKILL)?;
                if getppid() != me {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let program_pid = match command.spawn() {
            Ok(child) => Pid::from_raw(child.id() as i32),
            Err(err) => {
                say(format_args!("cannot start {:?}: {err}", program.to_string_lossy()));
                return match err.kind() {
                    io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                    _ => EXIT_CANNOT_EXECUTE,
                };
            }
        };
        release_stdin_and_stdout();

        let mut tree = Tree { me, group, program: program_pid, program_exit: None, waited };
        let cause = loop {
            match tree.waited.wait() {
                Ok(Signal::SIGCHLD) => {
                    tree.reap();
                    if tree.program_exit.is_some() {
                        break None;
                    }
                }
                Ok(signal) => break Some(signal),
                Err(err) => {
                    say(format_args!("sigwait failed ({err}); ending the server"));
                    break Some(Signal::SIGTERM);
                }
            }
        };
        tree.end(grace);
        tree.program_exit
            .or(cause.map(|signal| 128 + signal as i32))
            .unwrap_or(EXIT_SUPERVISOR_FAILED)
    }

    /// Points our own stdin and stdout at `/dev/null`. PROGRAM has its copies; ours would keep
    /// the gateway's stdout pipe open after PROGRAM closed it, and hide its end.
    fn release_stdin_and_stdout() {
        let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") else {
            return;
        };
        for fd in [libc::STDIN_FILENO, libc::STDOUT_FILENO] {
            // SAFETY: dup2 onto fds 0 and 1, which nothing in this process holds as an owned
            // handle; `null` stays valid for the call.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }

    /// The supervised tree: us, our group, PROGRAM.
    struct Tree {
        me: Pid,
        group: Option<i32>,
        program: Pid,
        /// PROGRAM's exit code, once reaped (128 + signal number when killed by a signal).
        program_exit: Option<i32>,
        /// The blocked signals we wait for.
        waited: SigSet,
    }

    impl Tree {
        /// The processes of our group and subtree that have not exited.
        fn alive(&self) -> Vec<tree::Proc> {
            tree::family(self.me.as_raw(), self.group).into_iter().filter(|p| !p.dead).collect()
        }

        /// Ends the group and subtree: SIGTERM, up to `grace` for them to exit, SIGKILL for what
        /// remains; reaps every child, PROGRAM included.
        fn end(&mut self, grace: Duration) {
            if let Some(group) = self.group {
                // Reaches a process forked after the scan below. We are in the group too:
                // SIGTERM is blocked here and only wakes a wait.
                let _ = kill(Pid::from_raw(-group), Signal::SIGTERM);
            }
            for proc in self.alive() {
                let pid = Pid::from_raw(proc.pid);
                let _ = kill(pid, Signal::SIGTERM);
                // A stopped process would hold SIGTERM pending until the SIGKILL.
                let _ = kill(pid, Signal::SIGCONT);
            }
            let deadline = Instant::now() + grace;
            loop {
                self.reap();
                if self.alive().is_empty() {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                self.pause((deadline - now).min(POLL));
            }
            // No group kill here: SIGKILL cannot be blocked, and we are in the group.
            for round in 0..KILL_ROUNDS {
                self.reap();
                let alive = self.alive();
                if alive.is_empty() {
                    break;
                }
                if round == 0 {
                    say(format_args!(
                        "{} process(es) still running {grace:?} after SIGTERM; sending SIGKILL",
                        alive.len()
                    ));
                }
                for proc in alive {
                    let _ = kill(Pid::from_raw(proc.pid), Signal::SIGKILL);
                }
                self.pause(POLL);
            }
            // Killed children are reaped as they go; bounded, so that a process stuck in the
            // kernel cannot keep us (and the gateway's wait) forever.
            for _ in 0..KILL_ROUNDS {
                if self.reap() {
                    return;
                }
                self.pause(POLL);
            }
            say("some processes could not be reaped; leaving them to init");
        }

        /// Reaps every child that has exited — PROGRAM and the orphans adopted as subreaper —
        /// and returns whether none is left.
        fn reap(&mut self) -> bool {
            loop {
                let mut status = 0;
                // SAFETY: waitpid writes the status into the local it is given.
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid == 0 {
                    return false;
                }
                if pid < 0 {
                    if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return true; // ECHILD: no child left
                }
                if pid == self.program.as_raw() {
                    self.program_exit = if libc::WIFEXITED(status) {
                        Some(libc::WEXITSTATUS(status))
                    } else if libc::WIFSIGNALED(status) {
                        Some(128 + libc::WTERMSIG(status))
                    } else {
                        self.program_exit
                    };
                }
            }
        }

        /// Waits up to `timeout` for one of our signals (SIGCHLD, mostly); the loops that call it
        /// look at the tree again either way.
        fn pause(&self, timeout: Duration) {
            let timeout = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: the set and the timeout are valid for the call; no siginfo is asked for.
            unsafe { libc::sigtimedwait(self.waited.as_ref(), std::ptr::null_mut(), &timeout) };
        }
    }
}
