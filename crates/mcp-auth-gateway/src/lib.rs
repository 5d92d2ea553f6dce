//! The library half of the `mcp-auth` gateway binary.
//!
//! The binary (`src/main.rs`) is a thin command line over these modules, which live in a
//! library so that integration tests, and later the HTTP front end, can use them directly:
//!
//! - [`demo`]: the demo MCP server, built once per authenticated user;
//! - [`token`]: minting HS256 JWTs for `mcp-auth token`;
//! - [`logging`]: the log filter, which keeps rmcp's message payloads out of debug logs;
//! - [`memory`]: allocator settings that give large freed buffers back to the system;
//! - [`config`] and [`template`]: the gateway's config file and its per-user templates;
//! - [`child`]: per-user child processes that never outlive the gateway;
//! - [`proxy`]: the per-user `ServerHandler` that forwards MCP to an upstream server;
//! - [`serve`]: `mcp-auth serve --config` and `mcp-auth check`;
//! - [`redact`]: the log writer that keeps URL queries (where API keys hide) out of the log.

pub mod child;
pub mod config;
pub mod demo;
pub mod logging;
pub mod memory;
pub mod proxy;
pub mod redact;
pub mod serve;
pub mod store_cli;
pub mod template;
pub mod tenant_manager;
pub mod token;
