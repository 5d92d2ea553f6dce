//! # mcp-auth
//!
//! Authentication and multi-tenancy for MCP servers built on [rmcp](https://docs.rs/rmcp).
//!
//! The request path, and the module that owns each step:
//!
//! 1. a transport receives a request;
//! 2. [`auth`]: an [`AuthProvider`] turns it into a [`Principal`] (or refuses it);
//! 3. [`credentials`]: a [`TokenResolver`] finds that principal's upstream [`Credential`]
//!    (a GitHub token, say), from the environment, the JWT itself, or a tenant manager;
//! 4. [`instances`]: the per-user server instance, built by your factory from
//!    `(access_token, user_id, extras)` — see [`wrap_server`] and the [`http`] and [`stdio`]
//!    transports.
//!
//! Between authentication and the instance, admission enforces the per-user rate limit and
//! the [`Limits`]: in-flight requests, unread response bytes, sessions and instances per user.
//!
//! Logs name users by a keyed tag unless told otherwise ([`log_ids`]), and every HTTP request
//! by its id.
//!
//! Secrets travel as [`Secret`], which never prints itself. Configuration mistakes are
//! [`ConfigError`]s that name the key, the bad value (redacted if secret) and what is valid.

mod admission;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod extras;
pub mod http;
mod http_client;
pub mod instances;
mod limits;
pub mod log_ids;
pub mod metrics;
pub mod middleware;
pub mod progress;
pub mod readiness;
pub mod secret;
pub mod stdio;
pub mod tool;
mod wrap;

#[doc(inline)]
pub use self::{
    auth::{AuthError, AuthProvider, EnvAuthProvider, JwtAuthProvider, Principal, RequestContext},
    config::{ConfigError, Environment},
    credentials::{
        ApiTokenResolver, Credential, CredentialError, JwtTokenResolver, SimpleTokenResolver,
        TokenResolver,
    },
    http::ProtectedResource,
    limits::Limits,
    log_ids::UserIdLogging,
    metrics::Metrics,
    readiness::Readiness,
    secret::Secret,
    wrap::{ServerFactory, WrapServerBuilder, WrappedServer, wrap_server},
};
