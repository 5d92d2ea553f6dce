//! What one request pays for the shared rate limit: one `RedisRateLimiter::check` (the GCRA
//! script, one `EVALSHA` round trip) against a real `redis-server` child on this machine.
//!
//! - `redis_rate_limit/unix_socket`: over a unix socket (Redis on the same host);
//! - `redis_rate_limit/tcp_loopback`: over TCP to 127.0.0.1 (the floor of a networked Redis);
//! - `redis_rate_limit/local`: the per-process `KeyedLimiter` it replaces, for comparison.
//!
//! A quota no check reaches, so every iteration runs the whole script and writes the key.
//! Run: `cargo bench -p mcp-auth-redis` (needs `redis-server`, as the tests do).

use std::{sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth::middleware::{
    RateLimitConfig,
    rate_limit::{KeyedLimiter, SharedRateLimiter},
};
use mcp_auth_redis::{
    FailMode, RedisConfig, RedisConnection, RedisRateLimiter, testing::RedisServer,
};

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
