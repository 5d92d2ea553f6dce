//! Redis killed and restarted under the limiter: the configured fail mode holds while it is
//! down, shared limiting resumes by itself once it is back; readiness follows it.

use std::time::{Duration, Instant};

use mcp_auth::{
    middleware::{
        RateLimitConfig,
        rate_limit::{SharedRateLimitError, SharedRateLimiter},
    },
    readiness::ReadinessCheck,
};
use mcp_auth_redis::{
    FailMode, RedisConfig, RedisConnection, RedisRateLimiter, RedisReadiness, testing::RedisServer,
};

const DEADLINE: Duration = Duration::from_secs(15);

fn connection(redis: &RedisServer) -> RedisConnection {
    RedisConnection::new(&RedisConfig::new(redis.url()).with_key_prefix("test:")).unwrap()
}

/// Polls `condition` until it holds, or fails the test after [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn key_exists(redis: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<bool>(&mut redis.connection()).unwrap()
}

#[tokio::test]
async fn fail_closed_refuses_while_redis_is_down_then_recovers() {
    let mut redis = RedisServer::start_unix();
    let connection = connection(&redis);
    let quota = RateLimitConfig::per_minute(5);
    let limiter = RedisRateLimiter::new(&connection, "mcp", &quota, FailMode::Closed).unwrap();
    limiter.check("alice").await.unwrap();

    redis.kill();
    for _ in 0..3 {
        let refused = limiter.check("alice").await.unwrap_err();
        let SharedRateLimitError::Unavailable { retry_after } = refused else {
            panic!("fail closed must refuse as unavailable, not {refused:?}");
        };
        assert!(retry_after >= Duration::from_secs(1));
    }

    redis.restart();
    let key = limiter.key_of("alice");
    eventually("shared limiting resumes", || async {
        limiter.check("alice").await.is_ok() && key_exists(&redis, &key)
    })
    .await;
    // The restarted Redis starts empty: alice has had one request there, four remain.
    for _ in 0..4 {
        limiter.check("alice").await.unwrap();
    }
    assert!(matches!(limiter.check("alice").await, Err(SharedRateLimitError::Exceeded(_))));
}

#[tokio::test]
async fn fail_open_limits_locally_at_the_same_quota_then_shares_again() {
    let mut redis = RedisServer::start_unix();
    let quota = RateLimitConfig::per_minute(5);
    let one = RedisRateLimiter::new(&connection(&redis), "mcp", &quota, FailMode::Open).unwrap();
    let two = RedisRateLimiter::new(&connection(&redis), "mcp", &quota, FailMode::Open).unwrap();
    one.check("warm-up").await.unwrap();

    redis.kill();
    // Each replica on its own: exactly the quota, then the same 429 as ever.
    for _ in 0..5 {
        one.check("alice").await.unwrap();
    }
    let Err(SharedRateLimitError::Exceeded(exceeded)) = one.check("alice").await else {
        panic!("the local fallback must limit at the same quota");
    };
    assert_eq!(exceeded.status.limit, 5);
    let started = Instant::now();
    two.check("alice").await.unwrap();
    // Redis is known to be down: the fallback answers without waiting for a timeout.
    two.check("alice").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());

    redis.restart();
    let key = one.key_of("carol");
    eventually("replica one shares again", || async {
        one.check("carol").await.is_ok() && key_exists(&redis, &key)
    })
    .await;
    eventually("replica two shares again", || async {
        two.check("carol").await.is_ok()
            && redis::cmd("PTTL").arg(&key).query::<i64>(&mut redis.connection()).unwrap() > 12_000
    })
    .await;
    // Shared again: dave's 5 hold across both replicas.
    let mut allowed = 0;
    for i in 0..12 {
        let replica = if i % 2 == 0 { &one } else { &two };
        allowed += usize::from(replica.check("dave").await.is_ok());
    }
    assert_eq!(allowed, 5);
}

#[tokio::test]
async fn readiness_fails_while_redis_is_down() {
    let mut redis = RedisServer::start_unix();
    let check = RedisReadiness::new(&connection(&redis));
    assert_eq!(check.name(), "redis");
    eventually("ready at start", || async { check.check().await.is_ok() }).await;
    redis.kill();
    eventually("not ready once killed", || async { check.check().await.is_err() }).await;
    redis.restart();
    eventually("ready once back", || async { check.check().await.is_ok() }).await;
}

#[tokio::test]
async fn a_redis_that_never_started_fails_within_the_timeout() {
    let socket = std::env::temp_dir().join(format!("mcp-auth-absent-{}.sock", std::process::id()));
    let url = format!("redis+unix://{}", socket.display());
    let connection = RedisConnection::new(&RedisConfig::new(url)).unwrap();
    let limiter = RedisRateLimiter::new(
        &connection,
        "mcp",
        &RateLimitConfig::per_second(1),
        FailMode::Closed,
    )
    .unwrap();
    let started = Instant::now();
    assert!(matches!(limiter.check("alice").await, Err(SharedRateLimitError::Unavailable { .. })));
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
}

/// `CLIENT PAUSE … WRITE` holds the GCRA script (it writes) until `CLIENT UNPAUSE`: Redis alive
/// but answering late, as on a host too busy to schedule it within the timeout.
fn pause_writes(redis: &RedisServer, paused: bool) {
    let mut command = redis::cmd("CLIENT");
    if paused {
        command.arg("PAUSE").arg(60_000).arg("WRITE");
    } else {
        command.arg("UNPAUSE");
    }
    command.query::<()>(&mut redis.connection()).unwrap();
}

#[tokio::test]
async fn one_late_answer_refuses_one_request_and_three_in_a_row_mark_redis_down() {
    let redis = RedisServer::start_unix();
    let quota = RateLimitConfig::per_second(1000).with_burst(1000);
    // A timeout long enough that "refused without asking Redis" is told from "refused after
    // waiting for it" on a busy host.
    let timeout = Duration::from_secs(1);
    let config = RedisConfig::new(redis.url()).with_key_prefix("test:").with_timeout(timeout);
    let connection = RedisConnection::new(&config).unwrap();
    let limiter = RedisRateLimiter::new(&connection, "mcp", &quota, FailMode::Closed).unwrap();
    limiter.check("alice").await.unwrap();

    pause_writes(&redis, true);
    let late = limiter.check("alice").await;
    pause_writes(&redis, false);

    assert!(matches!(late, Err(SharedRateLimitError::Unavailable { .. })), "{late:?}");
    // The next check asks Redis again, which answers: no second of refusals for one late answer.
    limiter.check("alice").await.unwrap();

    pause_writes(&redis, true);
    for _ in 0..mcp_auth_redis::FAILURES_BEFORE_DOWN {
        assert!(limiter.check("alice").await.is_err());
    }
    pause_writes(&redis, false);
    // Now Redis counts as down: refused at once, without asking it, until the window ends.
    let started = Instant::now();
    assert!(matches!(limiter.check("alice").await, Err(SharedRateLimitError::Unavailable { .. })));
    assert!(started.elapsed() < timeout / 2, "{:?}", started.elapsed());
    eventually("shared limiting resumes after the window", || async {
        limiter.check("alice").await.is_ok()
    })
    .await;
}
