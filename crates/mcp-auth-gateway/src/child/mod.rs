//! Per-user stdio servers as child processes that never outlive the gateway.
//!
//! The gateway runs one stdio MCP server per user (`npx -y @modelcontextprotocol/server-memory`
//! is `npx → sh → node`). The bug peer gateways are known for is leaked children: the `sh -c`
//! wrapper is killed and the real server is not, or the gateway is killed with SIGKILL and every
//! server it started lives on. Here no server is spawned directly:
//!
//! - [`Launcher::spawn`] starts `mcp-auth __supervise -- PROGRAM ARGS…` (the [`supervisor`]) as
//!   the leader of a new process group, with a cleared environment ([`env_allow_list`]) and
//!   piped stdio; PROGRAM inherits the pipes, so the proxy talks to it directly;
//! - the supervisor learns of the gateway's death (parent-death signal), adopts orphaned
//!   descendants (child subreaper), and ends the group *and* its whole subtree — SIGTERM, grace
//!   period, SIGKILL — when asked to, when the gateway dies, or when PROGRAM exits;
//! - [`RunningChild::shutdown`] ends a server gracefully; dropping a [`RunningChild`] kills its
//!   tree at once;
//! - a [`WarmPool`] keeps servers that need nothing of the user started ahead of their first
//!   call;
//! - the child's stderr is logged line by line with the server's name and the user's hash
//!   (`stderr.rs`).
//!
//! The process-tree machinery is Linux's (`prctl`, `/proc`); elsewhere the supervisor refuses
//! to run.

mod env;
mod launcher;
mod running;
mod stderr;
pub mod supervisor;
#[cfg(target_os = "linux")]
mod tree;
mod warm;

#[doc(inline)]
pub use env::env_allow_list;
#[doc(inline)]
pub use launcher::{ChildSpec, Launcher};
#[doc(inline)]
pub use running::{RunningChild, live_children};
#[doc(inline)]
pub use stderr::{MAX_LINE_BYTES, STDERR_BURST, STDERR_LINES_PER_SECOND};
#[doc(inline)]
pub use warm::{MAX_WARM_POOL, WarmPool};
