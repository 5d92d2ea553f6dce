//! Shared state for mcp-auth replicas, in Redis: a per-user rate limit whose budget holds across
//! every replica behind a load balancer ([`RedisRateLimiter`]), a cache of resolved upstream
//! credentials that the replicas share, sealed with AES-256-GCM ([`RedisCredentialCache`]),
//! revocations that reach every replica within a second ([`RedisRevocations`]; each replica
//! applies them with [`WrappedServer::invalidate_user`](mcp_auth::WrappedServer::invalidate_user)),
//! and a readiness check that reports whether Redis answers ([`RedisReadiness`]).
//!
//! Each plugs into one of the library's existing seams — [`SharedRateLimiter`] through
//! [`WrapServerBuilder::shared_rate_limit`](mcp_auth::WrapServerBuilder::shared_rate_limit),
//! [`TokenResolver`] (wrapping another resolver) through
//! [`WrapServerBuilder::token_resolver`](mcp_auth::WrapServerBuilder::token_resolver),
//! [`ReadinessCheck`] through [`Readiness::add_check`](mcp_auth::readiness::Readiness::add_check)
//! — so `mcp-auth` itself never depends on Redis, and a single replica needs none of this.
//!
//! ```no_run
//! use mcp_auth::middleware::RateLimitConfig;
//! use mcp_auth::ApiTokenResolver;
//! use mcp_auth_redis::{
//!     CacheKey, FailMode, RedisConfig, RedisConnection, RedisCredentialCache, RedisRateLimiter,
//!     RedisReadiness,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisConnection::new(&RedisConfig::new("redis+unix:///run/redis/redis.sock"))?;
//! let quota = RateLimitConfig::per_second(20).with_burst(100);
//! let limiter = RedisRateLimiter::new(&redis, "mcp", &quota, FailMode::Open)?;
//! let tenants = ApiTokenResolver::builder("https://tenants.example.com", "service-token").build()?;
//! let key = CacheKey::from_base64(&std::env::var("MCP_AUTH_CREDENTIAL_KEY")?)?;
//! let resolver = RedisCredentialCache::new(tenants, &redis, key);
//! let readiness = mcp_auth::readiness::Readiness::new();
//! readiness.add_check(RedisReadiness::new(&redis));
//! // let server = wrap_server(factory).shared_rate_limit(limiter).token_resolver(resolver)
//! //     .readiness(readiness).build()?;
//! # let _ = (limiter, resolver); Ok(()) }
//! ```
//!
//! Revocations: each replica applies what any process records.
//!
//! ```no_run
//! # use mcp_auth_redis::{RedisConfig, RedisConnection, RedisRevocations, Revoked};
//! # async fn run<H: rmcp::ServerHandler>(server: mcp_auth::WrappedServer<H>)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisConnection::new(&RedisConfig::new("redis://10.0.0.5:6379"))?;
//! let revocations = RedisRevocations::new(&redis);
//! // Keep the listener as long as the server runs; dropping it stops listening.
//! let _listener = revocations.listen(move |revoked| {
//!     let server = server.clone();
//!     async move {
//!         match revoked {
//!             Revoked::User(user_id) => drop(server.invalidate_user(&user_id).await),
//!             Revoked::Everyone => drop(server.invalidate_all().await),
//!         }
//!     }
//! });
//! // Anywhere, on any replica or an admin tool: every replica drops alice within a second.
//! revocations.revoke("alice").await?;
//! # Ok(()) }
//! ```
//!
//! | file | holds |
//! |---|---|
//! | `connection.rs` | [`RedisConfig`], [`RedisConnection`]: the URL, the key prefix, the per-call timeout, one reconnecting connection |
//! | `credential_cache/mod.rs` | [`RedisCredentialCache`]: the lookup order (local, Redis, inner resolver), keys, TTLs, invalidation |
//! | `credential_cache/local.rs` | its local tier: per-entry TTLs, how long a credential may be cached |
//! | `credential_cache/seal.rs` | [`CacheKey`], and the AES-256-GCM format of a value in Redis |
//! | `gcra.rs` | the GCRA Lua script (one `EVALSHA` per check) and what it answers |
//! | `limiter.rs` | [`RedisRateLimiter`], [`FailMode`]: keys, the local fallback |
//! | `outage.rs` | the window after failed calls during which Redis is skipped ([`FAILURES_BEFORE_DOWN`] in a row, then [`RECHECK_AFTER`]) |
//! | `readiness.rs` | [`RedisReadiness`]: `PING` within the timeout |
//! | `revocations.rs` | [`RedisRevocations`], [`RevocationListener`]: the revocation stream every replica reads, its epoch, catching up after a disconnection |
//! | `testing.rs` | (feature `testing`) [`testing::RedisServer`]: a real `redis-server` child for tests |
//! | `user_hash.rs` | the HMAC-SHA256 that turns a user id into part of a key |
//!
//! [`TokenResolver`]: mcp_auth::TokenResolver
//! [`SharedRateLimiter`]: mcp_auth::middleware::rate_limit::SharedRateLimiter
//! [`ReadinessCheck`]: mcp_auth::readiness::ReadinessCheck

mod connection;
mod credential_cache;
mod gcra;
mod limiter;
mod outage;
mod readiness;
mod revocations;
#[cfg(feature = "testing")]
pub mod testing;
mod user_hash;

#[doc(inline)]
pub use self::{
    connection::{
        DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT, RedisConfig, RedisConnection, RedisSetupError,
    },
    credential_cache::{
        CACHE_KEY_LEN, CacheKey, CacheKeyError, CredentialCacheStats, DEFAULT_LOCAL_CAPACITY,
        DEFAULT_TTL, EXPIRY_MARGIN, RedisCredentialCache,
    },
    limiter::{FailMode, RedisRateLimiter},
    outage::{FAILURES_BEFORE_DOWN, RECHECK_AFTER},
    readiness::RedisReadiness,
    revocations::{
        CLOCK_SLACK, DEFAULT_MAX_ENTRIES, RedisRevocations, RevocationListener, RevokeError,
        Revoked,
    },
};
