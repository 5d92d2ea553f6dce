//! Per-user rate limiting (GCRA, via [governor](https://docs.rs/governor)), in two places:
//!
//! * **HTTP**, in [`wrap_server`](crate::wrap_server), **on by default**
//!   ([`RateLimitConfig::default`]: 20 requests/s per user, bursts of 100). It runs right after
//!   authentication — before credential resolution and instance lookup, so a refused flood costs
//!   a token check and a hash lookup — and answers `429 Too Many Requests` with `Retry-After`,
//!   `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and a JSON-RPC error body.
//!   Change it with [`WrapServerBuilder::rate_limit`](crate::WrapServerBuilder::rate_limit);
//!   turn it off with [`RateLimitConfig::disabled`].
//! * **Tool calls**, with [`with_rate_limit`]: a tower [`Layer`](tower::Layer) whose refusals
//!   are [`ToolError::RateLimited`](crate::tool::ToolError::RateLimited) — a JSON-RPC error with
//!   `data.retryAfter` — and which can key by user and tool.
//!
//! Unlike the original's sliding-window log (a timestamp per request, per user, kept forever),
//! each key costs one integer, and [`KeyedLimiter`] sweeps expired keys and caps their number.
//! Limits are per process — replicas behind a load balancer each apply their own — unless a
//! [`SharedRateLimiter`] (Redis: the `mcp-auth-redis` crate) replaces the HTTP limit with one
//! whose state all replicas share.

mod config;
mod layer;
mod limiter;
mod shared;

#[doc(inline)]
pub use self::{
    config::RateLimitConfig,
    layer::{RateLimit, RateLimitLayer, with_rate_limit},
    limiter::{KeyedLimiter, RateLimitExceeded, RateLimitStatus},
    shared::{SharedRateLimitError, SharedRateLimiter},
};
