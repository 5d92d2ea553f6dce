//! MCP authentication as tower layers, for an axum app of your own: [`AuthLayer`] says who is
//! calling (or answers `401`/`403` with the MCP challenges) and hands the handler a
//! [`Principal`](crate::Principal); [`UserRateLimitLayer`] limits each user (or answers `429`
//! with `Retry-After`). They are the checks `wrap_server` runs: the same failed-auth budget per
//! peer, provider, required scopes and challenges ([`crate::admission`]'s `Identify`), and the
//! same keyed limiter and `429`. A [`WrappedServer`](crate::WrappedServer) hands out its own
//! with [`auth_layer`](crate::WrappedServer::auth_layer), and guards its `/progress` routes
//! with it.
//!
//! ```no_run
//! use axum::{Extension, Router, routing::get};
//! use mcp_auth::{
//!     JwtAuthProvider, Principal,
//!     http::{AuthLayer, UserRateLimitLayer},
//!     middleware::RateLimitConfig,
//! };
//! # fn app() -> Result<Router, mcp_auth::ConfigError> {
//! let auth = AuthLayer::builder(JwtAuthProvider::builder().secret("a 32-byte-or-longer secret!!!!!").build()?)
//!     .required_scopes(["mcp:tools"])
//!     .build()?;
//! let app = Router::new()
//!     .route("/whoami", get(|Extension(who): Extension<Principal>| async move { who.user_id().to_owned() }))
//!     .layer(UserRateLimitLayer::new(&RateLimitConfig::per_minute(60))?) // inner: after auth
//!     .layer(auth); // outer: runs first
//! # Ok(app) }
//! ```
//!
//! Put a CORS layer outside `AuthLayer`: a browser's preflight carries no token. The layers
//! strip the credential headers (`Authorization`, `Cookie`, …) before your handler runs: the
//! principal is what it gets, never the token (the MCP spec forbids passing it through).

mod auth;
mod rate_limit;

#[doc(inline)]
pub use self::{
    auth::{AuthLayer, AuthLayerBuilder, AuthService},
    rate_limit::{UserRateLimitLayer, UserRateLimitService},
};
