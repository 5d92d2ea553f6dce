//! Two replicas' limiters on one real Redis: one budget per user, one round trip per check, no
//! user id in the clear.

use std::time::Duration;

use mcp_auth::middleware::{
    RateLimitConfig,
    rate_limit::{SharedRateLimitError, SharedRateLimiter},
};
use mcp_auth_redis::{
    FailMode, RedisConfig, RedisConnection, RedisRateLimiter, testing::RedisServer,
};

/// One replica's limiter: its own connection, as a separate process would have.
fn replica(redis: &RedisServer, quota: &RateLimitConfig) -> RedisRateLimiter {
    let config =
        RedisConfig::new(redis.url()).with_key_prefix("test:").with_timeout(Duration::from_secs(2));
    let connection = RedisConnection::new(&config).unwrap();
    RedisRateLimiter::new(&connection, "mcp", quota, FailMode::Closed).unwrap()
}

/// Sends `requests` checks for `user`, alternating between `replicas`, all at once; counts the
/// allowed ones. Any error but "over the limit" fails the test.
async fn allowed(replicas: &[RedisRateLimiter], user: &str, requests: usize) -> usize {
    let checks = (0..requests).map(|i| replicas[i % replicas.len()].check(user));
    let results = futures::future::join_all(checks).await;
    results
        .into_iter()
        .filter(|result| match result {
            Ok(_) => true,
            Err(SharedRateLimitError::Exceeded(_)) => false,
            Err(other) => panic!("unexpected refusal: {other}"),
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_quota_holds_across_two_replicas() {
    let redis = RedisServer::start_unix();
    // 30 per minute, bursts of 30: nothing is replenished during the test (one every 2 s).
    let quota = RateLimitConfig::per_minute(30);
    let replicas = [replica(&redis, &quota), replica(&redis, &quota)];
    // Each replica alone would allow 30; together they allow 30 — exactly, since the script
    // is atomic (the bar is within 10%).
    assert_eq!(allowed(&replicas, "alice", 100).await, 30);
    // Another user has a budget of their own.
    assert_eq!(allowed(&replicas, "bob", 40).await, 30);
    // The refusal says when to retry: the next request is one interval (2 s) away.
    let Err(SharedRateLimitError::Exceeded(exceeded)) = replicas[1].check("alice").await else {
        panic!("alice is over her limit");
    };
    assert!(exceeded.retry_after <= Duration::from_secs(2), "{exceeded:?}");
    assert!(exceeded.retry_after > Duration::from_millis(1500), "{exceeded:?}");
    assert_eq!((exceeded.status.limit, exceeded.status.remaining), (30, 0));
}

#[tokio::test]
async fn the_status_counts_down_like_the_local_limiter() {
    let redis = RedisServer::start_unix();
    let quota = RateLimitConfig::per_minute(60).with_burst(3);
    let limiter = replica(&redis, &quota);
    let first = limiter.check("alice").await.unwrap();
    assert_eq!((first.limit, first.remaining, first.reset_secs()), (3, 2, 1));
    limiter.check("alice").await.unwrap();
    let third = limiter.check("alice").await.unwrap();
    assert_eq!((third.remaining, third.reset_secs()), (0, 3));
    let Err(SharedRateLimitError::Exceeded(refused)) = limiter.check("alice").await else {
        panic!("the fourth request is over the burst");
    };
    assert_eq!((refused.retry_after_secs(), refused.status.reset_secs()), (1, 3));
}

#[tokio::test]
async fn one_check_is_one_evalsha_and_nothing_else() {
    let redis = RedisServer::start_unix();
    let limiter = replica(&redis, &RateLimitConfig::per_second(1000));
    // The first check loads the script (EVALSHA → NOSCRIPT → SCRIPT LOAD → EVALSHA).
    limiter.check("warm-up").await.unwrap();
    let mut admin = redis.connection();
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut admin).unwrap();
    for i in 0..25 {
        limiter.check(&format!("user-{}", i % 3)).await.unwrap();
    }
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut admin).unwrap();
    let mut calls: Vec<(String, u64)> = stats
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .filter(|(name, _)| name != "info" && name != "config|resetstat")
        .collect();
    calls.sort();
    // Commandstats counts the commands a script runs too: TIME, GET and SET happen inside the
    // one EVALSHA the client sent (no EVAL, no SCRIPT LOAD, nothing else on the wire).
    let expected = [("evalsha", 25), ("get", 25), ("set", 25), ("time", 25)];
    let expected: Vec<(String, u64)> = expected.iter().map(|&(n, c)| (n.to_owned(), c)).collect();
    assert_eq!(calls, expected, "{stats}");
}

#[tokio::test]
async fn redis_holds_no_user_id_and_every_key_expires() {
    let redis = RedisServer::start_unix();
    let limiter = replica(&redis, &RateLimitConfig::per_second(10));
    let users = ["alice@example.com", "bob", "Carol Smith"];
    for user in users {
        limiter.check(user).await.unwrap();
    }
    let mut admin = redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut admin).unwrap();
    assert_eq!(keys.len(), users.len(), "{keys:?}");
    for key in &keys {
        for user in users {
            assert!(!key.to_lowercase().contains(&user.to_lowercase()), "{key} names {user}");
        }
        for part in ["alice", "example", "bob", "carol", "smith"] {
            assert!(!key.to_lowercase().contains(part), "{key} holds {part}");
        }
        assert!(key.starts_with("test:rl:mcp:"), "{key}");
        let ttl: i64 = redis::cmd("PTTL").arg(key).query(&mut admin).unwrap();
        // One request of 10/s is 100 ms of the schedule: the key says nothing after that.
        assert!((1..=100).contains(&ttl), "{key} has TTL {ttl} ms");
    }
    assert!(keys.contains(&limiter.key_of("bob")));
}
