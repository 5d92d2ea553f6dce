//! Shared state for mcp-auth replicas, in Redis: a per-user rate limit whose budget holds across
//! every replica behind a load balancer ([`RedisRateLimiter`]), revocations that reach every
//! replica within a second ([`RedisRevocations`]; each replica applies them with
//! [`WrappedServer::invalidate_user`](mcp_auth::WrappedServer::invalidate_user)), and a
//! readiness check that reports whether Redis answers ([`RedisReadiness`]).
//!
//! Both plug into the library's existing seams — [`SharedRateLimiter`] through
//! [`WrapServerBuilder::shared_rate_limit`](mcp_auth::WrapServerBuilder::shared_rate_limit),
//! [`ReadinessCheck`] through [`Readiness::add_check`](mcp_auth::readiness::Readiness::add_check)
//! — so `mcp-auth` itself never depends on Redis, and a single replica needs none of this.
//!
//! ```no_run
//! use mcp_auth::middleware::RateLimitConfig;
//! use mcp_auth_redis::{FailMode, RedisConfig, RedisConnection, RedisRateLimiter, RedisReadiness};
//!
//! # async fn run() -> Result<(), mcp_auth_redis::RedisSetupError> {
//! let redis = RedisConnection::new(&RedisConfig::new("redis+unix:///run/redis/redis.sock"))?;
//! let quota = RateLimitConfig::per_second(20).with_burst(100);
//! let limiter = RedisRateLimiter::new(&redis, "mcp", &quota, FailMode::Open)?;
//! let readiness = mcp_auth::readiness::Readiness::new();
//! readiness.add_check(RedisReadiness::new(&redis));
//! // wrap_server(factory).shared_rate_limit(limiter).readiness(readiness) …
//! # let _ = limiter; Ok(()) }
//! ```
//!
//! | file | holds |
//! |---|---|
//! | `connection.rs` | [`RedisConfig`], [`RedisConnection`]: the URL, the key prefix, the per-call timeout, one reconnecting connection |
//! | `gcra.rs` | the GCRA Lua script (one `EVALSHA` per check) and what it answers |
//! | `limiter.rs` | [`RedisRateLimiter`], [`FailMode`]: keys, the outage window, the local fallback |
//! | `readiness.rs` | [`RedisReadiness`]: `PING` within the timeout |
//! | `revocations.rs` | [`RedisRevocations`], [`RevocationListener`]: the revocation stream every replica reads, its epoch, catching up after a disconnection |
//! | `testing.rs` | (feature `testing`) [`testing::RedisServer`]: a real `redis-server` child for tests |
//!
//! [`SharedRateLimiter`]: mcp_auth::middleware::rate_limit::SharedRateLimiter
//! [`ReadinessCheck`]: mcp_auth::readiness::ReadinessCheck

mod connection;
mod gcra;
mod limiter;
mod readiness;
mod revocations;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(inline)]
pub use self::{
    connection::{
        DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT, RedisConfig, RedisConnection, RedisSetupError,
    },
    limiter::{FAILURES_BEFORE_DOWN, FailMode, RECHECK_AFTER, RedisRateLimiter},
    readiness::RedisReadiness,
    revocations::{
        CLOCK_SLACK, DEFAULT_MAX_ENTRIES, RedisRevocations, RevocationListener, RevokeError,
        Revoked,
    },
};
