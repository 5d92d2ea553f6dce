//! What one request pays for the shared rate limit: one `RedisRateLimiter::check` (the GCRA
//! script, one `EVALSHA` round trip) against a real `redis-server` child on this machine.
//!
//! - `redis_rate_limit/unix_socket`: over a unix socket (Redis on the same host);
//! - `redis_rate_limit/tcp_loopback`: over TCP to 127.0.0.1 (the floor of a networked Redis);
//! - `redis_rate_limit/local`: the per-process `KeyedLimiter` it replaces, for comparison.
//!
//! A quota no check reaches, so every iteration runs the whole script and writes the key.
//!
//! And what a resolution costs behind `RedisCredentialCache` (over the unix socket), with an
//! inner resolver that is never reached after the first call:
//!
//! - `redis_credential_cache/local_hit`: answered by the local tier;
//! - `redis_credential_cache/redis_hit`: the local tier off, so one `GET` and one AES-GCM open.
//!
//! Run: `cargo bench -p mcp-auth-redis` (needs `redis-server`, as the tests do).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth::{
    Credential, CredentialError, Principal, TokenResolver,
    middleware::{
        RateLimitConfig,
        rate_limit::{KeyedLimiter, SharedRateLimiter},
    },
};
use mcp_auth_redis::{
    CacheKey, FailMode, RedisConfig, RedisConnection, RedisCredentialCache, RedisRateLimiter,
    testing::RedisServer,
};

/// The resolver behind the cache: one fixed credential, counting its calls.
#[derive(Default)]
struct Fixed(AtomicUsize);

#[async_trait::async_trait]
impl TokenResolver for Fixed {
    async fn resolve(&self, _: &Principal, _: &str) -> Result<Credential, CredentialError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Credential::new("ghp_bench_credential_0123456789abcdef"))
    }
}

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let quota = RateLimitConfig::per_second(1_000_000).with_burst(1_000_000_000);
    let unix = RedisServer::start_unix();
    let tcp = RedisServer::start_tcp();
    let limiter = |server: &RedisServer| {
        rt.block_on(async {
            let config = RedisConfig::new(server.url()).with_timeout(Duration::from_secs(1));
            let connection = RedisConnection::new(&config).unwrap();
            let limiter =
                RedisRateLimiter::new(&connection, "bench", &quota, FailMode::Closed).unwrap();
            // Loads the script, and proves the limiter answers from Redis (closed: no fallback).
            limiter.check("user-1234").await.unwrap();
            limiter
        })
    };
    let over_unix = limiter(&unix);
    let over_tcp = limiter(&tcp);
    let local = KeyedLimiter::<Arc<str>>::new(&quota).unwrap();
    let user: Arc<str> = "user-1234".into();

    c.bench_function("redis_rate_limit/unix_socket", |b| {
        b.to_async(&rt).iter(|| over_unix.check("user-1234"))
    });
    c.bench_function("redis_rate_limit/tcp_loopback", |b| {
        b.to_async(&rt).iter(|| over_tcp.check("user-1234"))
    });
    c.bench_function("redis_rate_limit/local", |b| b.iter(|| local.check(&user)));

    let (local_tier, redis_only) = rt.block_on(async {
        let config = RedisConfig::new(unix.url()).with_timeout(Duration::from_secs(1));
        let connection = RedisConnection::new(&config).unwrap();
        let key = CacheKey::generate();
        let cache = |capacity| {
            RedisCredentialCache::new(Fixed::default(), &connection, key.clone())
                .with_ttl(Duration::from_secs(3600))
                .with_local_capacity(capacity)
        };
        (cache(10_000), cache(0))
    });
    let alice = Principal::new("alice@example.com").unwrap();
    rt.block_on(async {
        // The first resolution reaches the inner resolver and shares the credential; every
        // later one must not.
        local_tier.resolve(&alice, "github").await.unwrap();
        redis_only.resolve(&alice, "github").await.unwrap();
        assert_eq!(redis_only.inner().0.load(Ordering::Relaxed), 0, "not from Redis");
    });
    c.bench_function("redis_credential_cache/local_hit", |b| {
        b.to_async(&rt).iter(|| local_tier.resolve(&alice, "github"))
    });
    c.bench_function("redis_credential_cache/redis_hit", |b| {
        b.to_async(&rt).iter(|| redis_only.resolve(&alice, "github"))
    });
    assert_eq!(local_tier.inner().0.load(Ordering::Relaxed), 1);
    assert_eq!(redis_only.inner().0.load(Ordering::Relaxed), 0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
