//! `RedisCredentialCache` on real parts: "replicas" sharing one real `redis-server`, each with
//! its own real `ApiTokenResolver` pointed at one real tenant manager (an axum app on
//! 127.0.0.1:0) that counts the calls it gets.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use mcp_auth::{ApiTokenResolver, Environment, Principal, TokenResolver};
use mcp_auth_redis::{
    CacheKey, RedisConfig, RedisConnection, RedisCredentialCache, testing::RedisServer,
};
use serde_json::{Value, json};

const SERVICE_TOKEN: &str = "svc-token-credcache";
const ALICE: &str = "alice@example.com";
const ALICE_SECRET: &str = "ghp_alice_secret_0123456789";
const BOB: &str = "bob@example.com";
const BOB_SECRET: &str = "ghp_bob_secret_9876543210";

// --- The tenant manager ---------------------------------------------------------------------

#[derive(Default)]
struct Grants {
    /// Bodies by `user/resource`.
    bodies: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
    /// How long each answer takes (a slow tenant manager, so that concurrent callers overlap).
    delay: Mutex<Duration>,
}

/// `GET /api/credentials/{user}/{resource}` as `ApiTokenResolver` expects it: the service token
/// as a bearer token, `200 {accessToken, expiresAt?}` or `404`.
struct TenantManager {
    url: String,
    grants: Arc<Grants>,
    _server: tokio::task::JoinHandle<()>,
}

async fn answer(
    State(grants): State<Arc<Grants>>,
    Path((user, resource)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    grants.calls.fetch_add(1, Ordering::SeqCst);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization != Some(&format!("Bearer {SERVICE_TOKEN}")) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let delay = *grants.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = grants.bodies.lock().unwrap().get(&format!("{user}/{resource}")).cloned();
    body.map(Json).ok_or(StatusCode::NOT_FOUND)
}

impl TenantManager {
    async fn start() -> Self {
        let grants = Arc::new(Grants::default());
        let app = Router::new()
            .route("/api/credentials/{user}/{resource}", get(answer))
            .with_state(grants.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, grants, _server: server }
    }

    fn grant(&self, user: &str, resource: &str, body: Value) {
        self.grants.bodies.lock().unwrap().insert(format!("{user}/{resource}"), body);
    }

    fn calls(&self) -> usize {
        self.grants.calls.load(Ordering::SeqCst)
    }

    fn set_delay(&self, delay: Duration) {
        *self.grants.delay.lock().unwrap() = delay;
    }

    /// A replica's own resolver (its own local cache, as a separate process would have).
    fn resolver(&self) -> ApiTokenResolver {
        ApiTokenResolver::builder(self.url.as_str(), SERVICE_TOKEN)
            .environment(Environment::Development)
            .build()
            .unwrap()
    }
}

// --- Replicas -------------------------------------------------------------------------------

/// One replica: its own connection, its own resolver, the cluster's key.
fn replica(
    redis: &RedisServer,
    manager: &TenantManager,
    key: &CacheKey,
) -> RedisCredentialCache<ApiTokenResolver> {
    replica_with_timeout(redis, manager, key, Duration::from_secs(2))
}

fn replica_with_timeout(
    redis: &RedisServer,
    manager: &TenantManager,
    key: &CacheKey,
    timeout: Duration,
) -> RedisCredentialCache<ApiTokenResolver> {
    let config = RedisConfig::new(redis.url()).with_key_prefix("test:").with_timeout(timeout);
    let connection = RedisConnection::new(&config).unwrap();
    RedisCredentialCache::new(manager.resolver(), &connection, key.clone())
}

fn user(id: &str) -> Principal {
    Principal::new(id).unwrap()
}

async fn secret_of(cache: &impl TokenResolver, id: &str) -> String {
    cache.resolve(&user(id), "github").await.unwrap().secret().expose().to_owned()
}

fn epoch_millis_in(from_now: Duration) -> u64 {
    let at = SystemTime::now() + from_now;
    u64::try_from(at.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn raw_get(redis: &RedisServer, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(&mut redis.connection()).unwrap()
}

fn pttl(redis: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(&mut redis.connection()).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// Calls of one Redis command since the last `CONFIG RESETSTAT`.
fn command_calls(redis: &RedisServer, command: &str) -> u64 {
    let info: String =
        redis::cmd("INFO").arg("commandstats").query(&mut redis.connection()).unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

async fn start() -> (RedisServer, TenantManager) {
    let redis = RedisServer::start_unix();
    let manager = TenantManager::start().await;
    manager.grant(ALICE, "github", json!({ "accessToken": ALICE_SECRET }));
    manager.grant(BOB, "github", json!({ "accessToken": BOB_SECRET }));
    (redis, manager)
}

// --- Tests ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_credential_resolved_on_one_replica_is_used_by_another_without_a_second_call() {
    let (redis, manager) = start().await;
    let key = CacheKey::generate();
    let (a, b) = (replica(&redis, &manager, &key), replica(&redis, &manager, &key));

    assert_eq!(secret_of(&a, ALICE).await, ALICE_SECRET);
    assert_eq!(secret_of(&b, ALICE).await, ALICE_SECRET);
    assert_eq!(manager.calls(), 1, "the tenant manager is asked once for the cluster");
    assert_eq!(b.stats().redis_hits, 1);

    // B now answers from its local tier, without Redis.
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut redis.connection()).unwrap();
    assert_eq!(secret_of(&b, ALICE).await, ALICE_SECRET);
    assert_eq!(command_calls(&redis, "get"), 0);
    assert_eq!(b.stats().local_hits, 1);
    // The stats the metrics see: one miss (the tenant manager call) for the stack, hits above.
    let stats = b.cache_stats().unwrap();
    assert_eq!((stats.hits, stats.misses), (2, 0));
}

#[tokio::test]
async fn redis_holds_neither_the_secret_nor_the_user_id() {
    let (redis, manager) = start().await;
    let cache = replica(&redis, &manager, &CacheKey::generate());
    secret_of(&cache, ALICE).await;

    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis.connection()).unwrap();
    assert_eq!(keys, [cache.key_of(ALICE, "github")]);
    assert!(keys[0].starts_with("test:cred:github:"), "{}", keys[0]);
    assert!(!keys[0].contains("alice"), "{}", keys[0]);
    let value = raw_get(&redis, &keys[0]).unwrap();
    for needle in [ALICE_SECRET, "ghp_", "alice"] {
        assert!(!contains(&value, needle), "{needle} is in the stored value");
    }
}

#[tokio::test]
async fn the_redis_ttl_is_cut_at_the_credentials_expiry() {
    let (redis, manager) = start().await;
    manager.grant(
        ALICE,
        "github",
        json!({ "accessToken": ALICE_SECRET, "expiresAt": epoch_millis_in(Duration::from_secs(3)) }),
    );
    manager.grant(
        "carol",
        "github",
        json!({ "accessToken": "ghp_carol", "expiresAt": epoch_millis_in(Duration::from_millis(500)) }),
    );
    let cache = replica(&redis, &manager, &CacheKey::generate()).with_ttl(Duration::from_secs(10));

    secret_of(&cache, ALICE).await;
    let expiring = pttl(&redis, &cache.key_of(ALICE, "github"));
    assert!(expiring > 0 && expiring <= 3000, "PTTL {expiring}");
    secret_of(&cache, BOB).await;
    let lasting = pttl(&redis, &cache.key_of(BOB, "github"));
    assert!(lasting > 3000 && lasting <= 10_000, "PTTL {lasting}");
    // Within the expiry margin: answered, not shared.
    assert_eq!(secret_of(&cache, "carol").await, "ghp_carol");
    assert_eq!(raw_get(&redis, &cache.key_of("carol", "github")), None);
}

#[tokio::test]
async fn a_value_under_another_key_tampered_or_moved_is_a_miss_and_is_overwritten() {
    let (redis, manager) = start().await;
    let (ours, theirs) = (CacheKey::generate(), CacheKey::generate());
    let alice_key;
    {
        let a = replica(&redis, &manager, &ours);
        secret_of(&a, ALICE).await;
        alice_key = a.key_of(ALICE, "github");
    }
    let written_by_a = raw_get(&redis, &alice_key).unwrap();

    // Another key: a miss, the tenant manager again, and the value overwritten under its key…
    let other = replica(&redis, &manager, &theirs);
    assert_eq!(secret_of(&other, ALICE).await, ALICE_SECRET);
    assert_eq!(manager.calls(), 2);
    assert_eq!(other.stats().undecryptable, 1);
    assert_ne!(raw_get(&redis, &alice_key).unwrap(), written_by_a);
    // …which a fresh replica with that key then uses.
    let other_again = replica(&redis, &manager, &theirs);
    assert_eq!(secret_of(&other_again, ALICE).await, ALICE_SECRET);
    assert_eq!((manager.calls(), other_again.stats().redis_hits), (2, 1));

    // Tampered bytes.
    let mut tampered = raw_get(&redis, &alice_key).unwrap();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    redis::cmd("SET").arg(&alice_key).arg(&tampered).query::<()>(&mut redis.connection()).unwrap();
    let fresh = replica(&redis, &manager, &theirs);
    assert_eq!(secret_of(&fresh, ALICE).await, ALICE_SECRET);
    assert_eq!((manager.calls(), fresh.stats().undecryptable), (3, 1));
    assert_ne!(raw_get(&redis, &alice_key).unwrap(), tampered);

    // Alice's value copied to Bob's key: Bob never gets Alice's secret.
    let bob_key = fresh.key_of(BOB, "github");
    let alices = raw_get(&redis, &alice_key).unwrap();
    redis::cmd("SET").arg(&bob_key).arg(&alices).query::<()>(&mut redis.connection()).unwrap();
    assert_eq!(secret_of(&fresh, BOB).await, BOB_SECRET);
    assert_eq!((manager.calls(), fresh.stats().undecryptable), (4, 2));
}

#[tokio::test]
async fn invalidate_on_one_replica_deletes_the_shared_value() {
    let (redis, manager) = start().await;
    let key = CacheKey::generate();
    let (a, b) = (replica(&redis, &manager, &key), replica(&redis, &manager, &key));
    secret_of(&a, ALICE).await;
    let alice_key = a.key_of(ALICE, "github");
    assert!(raw_get(&redis, &alice_key).is_some());

    a.invalidate(ALICE, "github").await;
    assert_eq!(raw_get(&redis, &alice_key), None);
    assert_eq!(secret_of(&b, ALICE).await, ALICE_SECRET);
    assert_eq!(manager.calls(), 2, "B missed Redis and asked the tenant manager");
    assert_eq!(b.stats().redis_hits, 0);
    // A forgot it locally and in its inner resolver: it now reads what B shared.
    assert_eq!(secret_of(&a, ALICE).await, ALICE_SECRET);
    assert_eq!((manager.calls(), a.stats().redis_hits), (2, 1));
}

#[tokio::test]
async fn with_redis_down_resolutions_fall_through_to_the_tenant_manager_without_hanging() {
    let (mut redis, manager) = start().await;
    let cache =
        replica_with_timeout(&redis, &manager, &CacheKey::generate(), Duration::from_millis(200));
    secret_of(&cache, ALICE).await;
    redis.kill();

    let bounded = Duration::from_secs(5);
    let started = Instant::now();
    let bob = tokio::time::timeout(bounded, secret_of(&cache, BOB)).await;
    assert_eq!(bob.expect("no hang").as_str(), BOB_SECRET);
    assert_eq!(manager.calls(), 2);
    tokio::time::timeout(bounded, cache.invalidate(ALICE, "github")).await.expect("no hang");
    // Redis counts as down now: the next miss does not wait for it.
    let quick = Instant::now();
    assert_eq!(secret_of(&cache, ALICE).await, ALICE_SECRET);
    assert!(quick.elapsed() < Duration::from_millis(200), "{:?}", quick.elapsed());
    assert!(started.elapsed() < bounded, "{:?}", started.elapsed());

    // Back: sharing resumes by itself.
    redis.restart();
    manager.grant("dave", "github", json!({ "accessToken": "ghp_dave" }));
    let dave_key = cache.key_of("dave", "github");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        cache.invalidate("dave", "github").await;
        assert_eq!(secret_of(&cache, "dave").await, "ghp_dave");
        if raw_get(&redis, &dave_key).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "sharing did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolutions_of_one_user_share_one_redis_read_and_one_call() {
    let (redis, manager) = start().await;
    // Slow enough that every resolution has started before the first is answered.
    manager.set_delay(Duration::from_millis(300));
    let cache = Arc::new(replica(&redis, &manager, &CacheKey::generate()));
    redis::cmd("CONFIG").arg("RESETSTAT").query::<()>(&mut redis.connection()).unwrap();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { secret_of(&*cache, ALICE).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), ALICE_SECRET);
    }
    assert_eq!(manager.calls(), 1);
    assert_eq!((command_calls(&redis, "get"), command_calls(&redis, "set")), (1, 1));
}

#[tokio::test]
async fn without_a_local_tier_every_resolution_reads_redis_and_sees_invalidations_at_once() {
    let (redis, manager) = start().await;
    let key = CacheKey::generate();
    let a = replica(&redis, &manager, &key).with_local_capacity(0);
    let b = replica(&redis, &manager, &key).with_local_capacity(0);
    secret_of(&a, ALICE).await;
    secret_of(&a, ALICE).await;
    secret_of(&b, ALICE).await;
    assert_eq!(manager.calls(), 1);
    assert_eq!((a.stats().redis_hits, b.stats().redis_hits), (1, 1));
    assert_eq!((a.stats().local_hits, b.stats().local_hits), (0, 0));

    manager.grant(ALICE, "github", json!({ "accessToken": "ghp_alice_rotated" }));
    a.invalidate(ALICE, "github").await;
    // B got alice's credential from Redis only: nothing on B remembers the old one.
    assert_eq!(secret_of(&b, ALICE).await, "ghp_alice_rotated");
    assert_eq!(manager.calls(), 2);
}

#[tokio::test]
async fn the_local_tier_holds_at_most_its_capacity() {
    let (redis, manager) = start().await;
    let users: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    for id in &users {
        manager.grant(id, "github", json!({ "accessToken": format!("ghp_{id}") }));
    }
    let cache = replica(&redis, &manager, &CacheKey::generate()).with_local_capacity(5);

    for id in &users {
        assert_eq!(secret_of(&cache, id).await, format!("ghp_{id}"));
    }

    assert_eq!(cache.cached_locally().await, 5);
    // What the local tier let go is still shared: a resolution of any user is a Redis hit.
    assert_eq!(secret_of(&cache, &users[0]).await, "ghp_user-0");
    assert_eq!(manager.calls(), users.len());
}
