//! The demo MCP server that `mcp-auth demo` serves behind the gateway.
//!
//! It stands in for "your existing MCP server": a plain rmcp [`ServerHandler`](rmcp::ServerHandler)
//! that knows nothing about authentication. The gateway authenticates each request and builds
//! one [`DemoServer`] per user with [`DemoServer::new`]; the tools then show that the identity
//! arrived (`whoami`), that state is per user (`notes_add`, `notes_list`), and that progress and
//! cancellation pass through the gateway (`slow`).

mod gateway;
mod run;
mod server;

#[doc(inline)]
pub use self::run::{DEMO_TOKEN_TTL, DEMO_USER, DemoError, DemoOptions, PUBLIC_URL_ENV_VAR, run};
#[doc(inline)]
pub use self::server::{
    DemoServer, MAX_NOTE_BYTES, MAX_NOTES, MAX_SLOW_DELAY_MS, MAX_SLOW_STEPS, SERVER_NAME,
};
