//! `[redis]` and `rate_limit.shared = true` with two real `mcp-auth serve` processes on one real
//! `redis-server`: a user's budget holds across both replicas (the next request is the same
//! `429` as ever, on either); with `fail_mode = "closed"` `/ready` follows Redis while `/health`
//! stays `200`, and requests get `503` + `Retry-After` while Redis is down, until it is back
//! (failing open, a replica stays ready and limits locally); `mcp-auth invalidate` reaches both.
#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use mcp_auth::middleware::RateLimitConfig;
use mcp_auth_redis::{
    FailMode, RedisConfig, RedisConnection, RedisRateLimiter, testing::RedisServer,
};
use serde_json::{Value, json};
use support::gateway::{Gateway, answer, answer_text, demo_stdio_config, stateless_call};

/// The burst of the shared limit; one more request per second is replenished.
const BURST: usize = 8;
/// Generous bound of any wait for something that happens at once (the host may be busy).
const SOON: Duration = Duration::from_secs(15);

/// The key user ids are hashed under in Redis, in `MCP_AUTH_REDIS_KEY`.
const HASH_KEY: &str = "redis-key-of-the-tests-at-least-32-bytes";

fn config(redis: &RedisServer, fail_mode: &str) -> String {
    demo_stdio_config(&format!(
        "[servers.rate_limit]\nper_second = 1\nburst = {BURST}\nshared = true\n\
         fail_mode = \"{fail_mode}\"\n\n[redis]\nurl = \"{}\"\nkey_prefix = \"gw-test:\"\n\
         user_hash_key_env = \"MCP_AUTH_REDIS_KEY\"\n",
        redis.url()
    ))
}

async fn start(config: &str) -> Gateway {
    Gateway::start_with_env(config, &[("MCP_AUTH_REDIS_KEY", HASH_KEY)]).await
}

/// `GET {mount}/progress/stats` as `user`: an authenticated, rate-limited request that needs no
/// upstream child.
async fn authenticated_get(gateway: &Gateway, user: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/progress/stats", gateway.url))
        .bearer_auth(gateway.token(user))
        .send()
        .await
        .expect("the gateway answers")
}

async fn status_of(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `GET url` until it answers `status`, or fails after [`SOON`].
async fn until_status(url: &str, status: u16) -> Value {
    let deadline = Instant::now() + SOON;
    loop {
        let (got, body) = status_of(url).await;
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "{url}: still {got} {body}, expected {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_budget_holds_across_two_gateways() {
    let redis = RedisServer::start_unix();
    let config = config(&redis, "open");
    let one = start(&config).await;
    let two = start(&config).await;

    let started = Instant::now();
    let mut allowed = 0;
    let refused = loop {
        let gateway = if allowed % 2 == 0 { &one } else { &two };
        let response = authenticated_get(gateway, "alice").await;
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => break response,
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
        assert!(allowed <= 2 * BURST, "no limit across the two gateways");
    };
    // One budget across both: exactly the burst, plus what was replenished meanwhile (1/s).
    let replenished = started.elapsed().as_secs() as usize;
    assert!((BURST..=BURST + replenished).contains(&allowed), "{allowed} allowed");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-limit"], BURST.to_string().as_str());

    // The next MCP request is refused too, on the other gateway, with the usual 429.
    let http = reqwest::Client::new();
    let call = stateless_call(&http, &two.url, &two.token("alice"), "whoami", json!({}));
    let response = call.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32029, "{body}");

    // Another user has a budget of their own.
    assert_eq!(authenticated_get(&one, "bob").await.status().as_u16(), 200);
    // And Redis holds neither user's id.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis.connection()).unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("gw-test:rl:demo:") && !k.contains("alice")));
    // Hashed under the configured key: what a limiter with that key computes for alice.
    let connection =
        RedisConnection::new(&RedisConfig::new(redis.url()).with_key_prefix("gw-test:"));
    let keyed = RedisRateLimiter::new(
        &connection.unwrap(),
        "demo",
        &RateLimitConfig::per_second(1),
        FailMode::Open,
    )
    .unwrap()
    .with_hash_key(HASH_KEY.as_bytes());
    assert!(keys.contains(&keyed.key_of("alice")), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_redis_and_fail_closed_refuses_until_it_is_back() {
    let mut redis = RedisServer::start_unix();
    let gateway = start(&config(&redis, "closed")).await;
    let ready = format!("{}/ready", gateway.url);
    let health = format!("{}/health", gateway.url);
    assert_eq!(until_status(&ready, 200).await, json!({ "status": "ready" }));
    assert_eq!(authenticated_get(&gateway, "alice").await.status().as_u16(), 200);

    redis.kill();
    assert_eq!(until_status(&ready, 503).await, json!({ "status": "not_ready" }));
    assert_eq!(status_of(&health).await.0, 200, "health stays static");
    let response = authenticated_get(&gateway, "alice").await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000, "{body}");
    assert_eq!(body["error"]["data"]["retryAfter"], 1, "{body}");

    redis.restart();
    assert_eq!(until_status(&ready, 200).await, json!({ "status": "ready" }));
    let deadline = Instant::now() + SOON;
    while authenticated_get(&gateway, "alice").await.status().as_u16() != 200 {
        assert!(Instant::now() < deadline, "requests still refused after Redis came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Limited in the restarted Redis again.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis.connection()).unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

/// `tools/call` of the demo's `tool` as `user`, 2026-07-28 stateless: the answer's text.
async fn call_text(gateway: &Gateway, user: &str, tool: &str, args: Value) -> String {
    let http = reqwest::Client::new();
    let response =
        stateless_call(&http, &gateway.url, &gateway.token(user), tool, args).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    answer_text(&answer(&response.text().await.unwrap(), 1))
}

/// `mcp-auth invalidate --config FILE user`, FILE holding `config`.
fn mcp_auth_invalidate(config: &str, user: &str) -> std::process::Output {
    let dir = support::gateway::tempdir::Dir::new("invalidate");
    let path = dir.0.join("mcp-auth.toml");
    std::fs::write(&path, config).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["invalidate", "--config"])
        .arg(&path)
        .arg(user)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_auth_invalidate_drops_the_user_on_every_replica_and_nobody_else() {
    let redis = RedisServer::start_unix();
    let config = demo_stdio_config(&format!(
        "[redis]\nurl = \"{}\"\nkey_prefix = \"gw-test:\"\n",
        redis.url()
    ));
    let one = start(&config).await;
    let two = start(&config).await;
    // Each user leaves a note in their instance (their own stdio child) on both replicas.
    for gateway in [&one, &two] {
        for user in ["alice", "bob"] {
            let saved = call_text(gateway, user, "notes_add", json!({ "text": "kept" })).await;
            assert_eq!(saved, "note 1 saved");
        }
    }
    let output = mcp_auth_invalidate(&config, "alice");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("recorded: every replica drops"), "{stdout}");
    // Both replicas closed alice's instance: her next call gets a new one, with no notes.
    for gateway in [&one, &two] {
        let deadline = Instant::now() + SOON;
        while call_text(gateway, "alice", "notes_list", json!({})).await != "no notes" {
            assert!(Instant::now() < deadline, "alice's instance outlived her revocation");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Bob's instance is the one he left his note in.
        assert_eq!(call_text(gateway, "bob", "notes_list", json!({})).await, "kept");
        assert!(gateway.logs().contains("user invalidated"), "{}", gateway.logs());
    }
}

#[test]
fn mcp_auth_invalidate_without_redis_says_why_and_fails() {
    let output = mcp_auth_invalidate(&demo_stdio_config(""), "alice");

    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("mcp-auth invalidate: "), "{stderr}");
    assert!(stderr.contains("has no [redis] section"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_open_a_replica_stays_ready_and_serves_while_redis_is_down() {
    let mut redis = RedisServer::start_unix();
    let gateway = start(&config(&redis, "open")).await;
    let ready = format!("{}/ready", gateway.url);
    assert_eq!(until_status(&ready, 200).await, json!({ "status": "ready" }));

    redis.kill();

    // Limited locally at the same quota; and still in the balancer's rotation: a 503 from
    // every replica at once would make a Redis outage a full outage.
    assert_eq!(authenticated_get(&gateway, "alice").await.status().as_u16(), 200);
    assert_eq!(status_of(&ready).await, (200, json!({ "status": "ready" })));
}
