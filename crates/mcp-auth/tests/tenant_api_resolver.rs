//! `ApiTokenResolver` against a real tenant manager: an axum server on `127.0.0.1:0` whose
//! answers, failures and delay are switched at runtime, and which counts every call it gets.

mod support;
mod tenant_manager;

use std::{
    io,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mcp_auth::{ApiTokenResolver, CredentialError, Environment, Principal, TokenResolver};
use serde_json::json;
use support::{DEADLINE, poll_until};
use tenant_manager::*;

/// Resolves alice's `github` credential until `done` accepts the answer, and returns it; fails
/// after the deadline. Used to wait for a TTL or an expiry to run out: a cache hit costs no call,
/// so polling does not change what the tenant manager sees.
async fn resolve_until(
    resolver: &ApiTokenResolver,
    what: &str,
    mut done: impl FnMut(&Result<mcp_auth::Credential, CredentialError>) -> bool,
) -> Result<mcp_auth::Credential, CredentialError> {
    poll_until(what, DEADLINE, async || {
        let answer = resolver.resolve(&alice(), "github").await;
        done(&answer).then_some(answer)
    })
    .await
}

/// Rounding between a wall-clock expiry sent in milliseconds and the monotonic instant the
/// resolver keeps it as.
const CLOCK_SLACK: Duration = Duration::from_millis(50);

fn token_of(answer: &Result<mcp_auth::Credential, CredentialError>) -> Option<&str> {
    answer.as_ref().ok().map(|credential| credential.secret().expose())
}

// --- Caching and single-flight ---

#[tokio::test]
async fn second_resolve_is_served_from_the_cache() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_one" }));
    let resolver = manager.resolver().build().unwrap();

    let first = resolver.resolve(&alice(), "github").await.unwrap();
    let second = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(first.secret().expose(), "ghp_one");
    assert_eq!(second, first);
    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn cache_keys_keep_users_and_resource_types_apart() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_alice" }));
    manager.grant("bob", "github", json!({ "accessToken": "ghp_bob" }));
    manager.grant("alice", "slack", json!({ "accessToken": "xoxb_alice" }));
    let resolver = manager.resolver().build().unwrap();
    let bob = Principal::new("bob").unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "ghp_alice");
    assert_eq!(resolver.resolve(&bob, "github").await.unwrap().secret().expose(), "ghp_bob");
    assert_eq!(resolver.resolve(&alice(), "slack").await.unwrap().secret().expose(), "xoxb_alice");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_misses_for_one_key_make_exactly_one_upstream_call() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_shared" }));
    // Long enough that every task has missed the cache and queued before the answer arrives.
    manager.set_delay(Duration::from_millis(300));
    let resolver = manager.resolver().build().unwrap();

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move { resolver.resolve(&alice(), "github").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().secret().expose(), "ghp_shared");
    }

    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn invalidate_forces_a_refetch() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_old" }));
    let resolver = manager.resolver().build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();
    manager.grant("alice", "github", json!({ "accessToken": "ghp_rotated" }));

    resolver.invalidate("alice", "github").await;
    let after = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(after.secret().expose(), "ghp_rotated");
    assert_eq!(manager.calls(), 2);
}

// --- Expiry ---

#[tokio::test]
async fn credential_is_refetched_after_its_own_expiry_even_with_a_long_cache_ttl() {
    let manager = Manager::start().await;
    let soon = SystemTime::now() + Duration::from_secs(1);
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_short", "expiresAt": epoch_millis(soon) }),
    );
    let resolver = manager.resolver().cache_ttl(Duration::from_secs(3600)).build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap().secret().expose(), "ghp_short");
    resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(manager.calls(), 1, "still cached before the expiry");

    manager.grant("alice", "github", json!({ "accessToken": "ghp_next" }));
    // Until the expiry the cached credential answers (no call); the first resolve after it
    // fetches the new one, which the long TTL then keeps.
    let after = resolve_until(&resolver, "a refetch after the credential's expiry", |answer| {
        let token = token_of(answer).expect("a credential");
        assert!(token == "ghp_short" || token == "ghp_next", "{token}");
        token == "ghp_next"
    })
    .await;

    // The expiry travels in whole milliseconds and is then kept on the monotonic clock: allow
    // for that rounding, not for a refetch that came early.
    assert!(SystemTime::now() + CLOCK_SLACK >= soon, "refetched before the credential expired");
    assert_eq!(after.unwrap().secret().expose(), "ghp_next");

    assert_eq!(manager.calls(), 2);
}

#[tokio::test]
async fn already_expired_credential_gives_expired() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_old", "expires_at": "2020-01-01T00:00:00Z" }),
    );
    let resolver = manager.resolver().build().unwrap();

    let err = resolver.resolve(&alice(), "github").await.unwrap_err();

    assert_eq!(err, CredentialError::Expired { resource_type: "github".into() });
}

#[tokio::test]
async fn expired_credential_is_not_served_stale_during_an_outage() {
    let manager = Manager::start().await;
    let soon = SystemTime::now() + Duration::from_millis(1000);
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_short", "expiresAt": epoch_millis(soon) }),
    );
    // A zero TTL: the entry is stale at once, so every resolve tries a refresh.
    let resolver = manager
        .resolver()
        .cache_ttl(Duration::ZERO)
        .stale_if_error(Duration::from_secs(600))
        .build()
        .unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(stale.secret().expose(), "ghp_short", "stale but not expired: served");
    assert_eq!(manager.calls(), 1 + 3, "the refresh was tried, with its retries");

    // Served stale until its own expiry, then no more: the outage shows.
    let answer =
        resolve_until(&resolver, "the expired credential to stop being served", |answer| {
            if answer.is_ok() {
                assert_eq!(token_of(answer), Some("ghp_short"));
            }
            answer.is_err()
        })
        .await;
    assert_unavailable(answer);
    assert!(SystemTime::now() + CLOCK_SLACK >= soon, "refused before the credential expired");
}

// --- Outages and stale-if-error ---

#[tokio::test]
async fn outage_with_a_warm_cache_serves_the_stale_credential() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    // A zero TTL: the entry is stale at once; a long cool-down, so the check below cannot
    // outlast it on a slow machine.
    let resolver = manager
        .resolver()
        .cache_ttl(Duration::ZERO)
        .failure_cooldown(Duration::from_secs(600))
        .default_retry_after(Duration::from_secs(600))
        .build()
        .unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(stale.secret().expose(), "ghp_cached");
    assert_eq!(manager.calls(), 1 + 3, "the refresh was tried, with its retries");
    // Within the failure cool-down the stale credential is served without another attempt.
    resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(manager.calls(), 4);
}

#[tokio::test]
async fn outage_with_a_warm_cache_serves_the_stale_credential_when_the_manager_is_gone() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    // A zero TTL: the entry is stale at once, so the next resolve tries a refresh.
    let resolver = manager.resolver().cache_ttl(Duration::ZERO).build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    // Were the manager still reachable, the refresh would return this instead.
    manager.grant("alice", "github", json!({ "accessToken": "ghp_new" }));
    manager.shut_down().await;
    let stale = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(stale.secret().expose(), "ghp_cached");
}

#[tokio::test]
async fn stale_credential_is_not_served_past_the_stale_window() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_cached" }));
    let window = Duration::from_millis(1000);
    // A zero TTL: the stale window starts at the fetch.
    let resolver =
        manager.resolver().cache_ttl(Duration::ZERO).stale_if_error(window).build().unwrap();
    let fetched = std::time::Instant::now();
    resolver.resolve(&alice(), "github").await.unwrap();

    manager.set_mode(Mode::ServiceUnavailable);
    let stale = resolver.resolve(&alice(), "github").await.unwrap();
    assert_eq!(stale.secret().expose(), "ghp_cached", "inside the window: served");

    let answer = resolve_until(&resolver, "the stale window to close", |answer| {
        if answer.is_ok() {
            assert_eq!(token_of(answer), Some("ghp_cached"));
        }
        answer.is_err()
    })
    .await;
    assert_unavailable(answer);
    assert!(fetched.elapsed() >= window, "refused inside the stale window");
}

#[tokio::test]
async fn outage_with_a_cold_cache_gives_unavailable_with_retry_after() {
    // A port that was bound and released: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let resolver = ApiTokenResolver::builder(format!("http://{addr}"), SERVICE_TOKEN)
        .retry_base_delay(Duration::from_millis(5))
        .default_retry_after(Duration::from_secs(7))
        .build()
        .unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(7));
}

#[tokio::test]
async fn connections_closed_without_an_answer_are_retried_then_reported_unavailable() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_x" }));
    manager.set_mode(Mode::DropConnections);
    let resolver = manager.resolver().build().unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(5), "the default retry_after");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test]
async fn retry_after_from_a_503_is_passed_on_without_retrying() {
    let manager = Manager::start().await;
    let reply = Reply { retry_after: Some("42"), ..Reply::status(503) };
    manager.reply("/api/credentials/alice/github", reply);
    let resolver = manager.resolver().build().unwrap();

    let retry_after = assert_unavailable(resolver.resolve(&alice(), "github").await);

    assert_eq!(retry_after, Duration::from_secs(42));
    assert_eq!(manager.calls(), 1);
}

#[tokio::test]
async fn rate_limited_by_the_manager_gives_unavailable_with_its_retry_after() {
    let manager = Manager::start().await;
    let reply = Reply { retry_after: Some("9"), ..Reply::status(429) };
    manager.reply("/api/credentials/alice/github", reply);
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(
        assert_unavailable(resolver.resolve(&alice(), "github").await),
        Duration::from_secs(9)
    );
    assert_eq!(manager.calls(), 1);
}

// --- Retries ---

#[tokio::test]
async fn two_500s_then_success_yields_the_credential_after_three_calls() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_third_time" }));
    manager.fail_next(2);
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_third_time");
    assert_eq!(manager.calls(), 3);
}

#[tokio::test]
async fn a_manager_that_always_fails_gives_unavailable_after_max_retries_plus_one_calls() {
    let manager = Manager::start().await;
    manager.fail_next(usize::MAX);
    let default_retries = manager.resolver().build().unwrap();
    let four_retries = manager.resolver().max_retries(4).build().unwrap();

    assert_unavailable(default_retries.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 3);
    assert_unavailable(four_retries.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 3 + 5);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let manager = Manager::start().await;
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(manager.calls(), 1);
}

// --- Status mapping and negative caching ---

#[tokio::test]
async fn not_found_is_cached_for_the_negative_ttl() {
    let manager = Manager::start().await;
    let resolver = manager.resolver().negative_ttl(Duration::from_millis(300)).build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
    assert_eq!(manager.calls(), 1, "the second 404 came from the cache");

    manager.grant("alice", "github", json!({ "accessToken": "ghp_connected" }));
    // The remembered 404 answers (no call) until the negative TTL runs out.
    let after = resolve_until(&resolver, "the negative entry to expire", |answer| match answer {
        Ok(_) => true,
        Err(err) => {
            assert_eq!(*err, not_found("github"));
            false
        }
    })
    .await;
    assert_eq!(after.unwrap().secret().expose(), "ghp_connected");
    assert_eq!(manager.calls(), 2);
}

#[tokio::test]
async fn gone_is_not_found_too() {
    let manager = Manager::start().await;
    manager.reply("/api/credentials/alice/github", Reply::status(410));
    let resolver = manager.resolver().build().unwrap();

    assert_eq!(resolver.resolve(&alice(), "github").await.unwrap_err(), not_found("github"));
}

#[tokio::test]
async fn rejected_service_token_gives_unavailable_not_not_found() {
    let manager = Manager::start().await;
    manager.reply("/api/credentials/alice/github", Reply::status(401));
    manager.reply("/api/credentials/alice/slack", Reply::status(403));
    let resolver = manager.resolver().build().unwrap();

    assert_unavailable(resolver.resolve(&alice(), "github").await);
    assert_unavailable(resolver.resolve(&alice(), "slack").await);
    assert_eq!(manager.calls(), 2, "not retried");
}

#[tokio::test]
async fn a_body_without_a_token_is_treated_as_an_outage() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "", "userId": "alice" }));
    let resolver = manager.resolver().build().unwrap();

    assert_unavailable(resolver.resolve(&alice(), "github").await);
    assert_eq!(manager.calls(), 1);
}

// --- Request shape and response variants ---

#[tokio::test]
async fn service_token_is_sent_as_bearer_and_path_values_are_url_encoded() {
    let manager = Manager::start().await;
    // The reply exists only at the correctly encoded path: any other encoding is a 404.
    manager.reply(
        "/api/credentials/alice%20smith%2Fops/git%20hub",
        Reply::ok(json!({ "accessToken": "ghp_encoded" })),
    );
    let resolver = manager.resolver().build().unwrap();
    let principal = Principal::new("alice smith/ops").unwrap();

    let credential = resolver.resolve(&principal, "git hub").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_encoded");
    assert_eq!(manager.header_values("authorization"), [format!("Bearer {SERVICE_TOKEN}")]);
    assert_eq!(manager.header_values("accept"), ["application/json"]);
    assert_eq!(manager.paths(), ["/api/credentials/alice%20smith%2Fops/git%20hub"]);
}

#[tokio::test]
async fn every_placeholder_of_a_custom_endpoint_path_is_replaced() {
    let manager = Manager::start().await;
    manager.reply("/v2/a%2Fb/creds/github/owner/a%2Fb", Reply::ok(json!({ "token": "ghp_v2" })));
    // The trailing `/` of the base URL must not double the path's leading one.
    let resolver = ApiTokenResolver::builder(format!("{}/", manager.url()), SERVICE_TOKEN)
        .endpoint_path("/v2/:userId/creds/:resourceType/owner/:userId")
        .build()
        .unwrap();

    let credential = resolver.resolve(&Principal::new("a/b").unwrap(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_v2");
    assert_eq!(manager.paths(), ["/v2/a%2Fb/creds/github/owner/a%2Fb"]);
}

#[tokio::test]
async fn a_dot_dot_user_id_never_reaches_another_endpoint() {
    let manager = Manager::start().await;
    // `/api/credentials/../github` would normalise to `/api/github`.
    manager.reply("/api/github", Reply::ok(json!({ "accessToken": "ghp_someone_elses" })));
    let resolver = manager.resolver().build().unwrap();

    let err = resolver.resolve(&Principal::new("..").unwrap(), "github").await.unwrap_err();

    assert_eq!(err, not_found("github"));
    assert_eq!(manager.calls(), 0);
}

#[tokio::test]
async fn custom_headers_are_sent_but_cannot_replace_authorization() {
    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_x" }));
    let resolver = manager.resolver().header("X-Tenant", "acme").build().unwrap();
    resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(manager.header_values("x-tenant"), ["acme"]);
    for name in ["Authorization", "authorization", "AUTHORIZATION"] {
        let err = manager.resolver().header(name, "Bearer stolen").build().unwrap_err();
        assert_eq!(err.key, "tenant_api.headers", "{name}");
    }
}

#[tokio::test]
async fn access_token_with_an_rfc3339_expires_at_parses() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "access_token": "ghp_snake", "expires_at": "2100-01-01T00:00:00Z" }),
    );
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_snake");
    assert_eq!(credential.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800)));
}

#[tokio::test]
async fn token_with_an_epoch_millis_expires_at_parses() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "token": "ghp_bare", "expiresAt": 4_102_444_800_250u64 }),
    );
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "ghp_bare");
    let expected = UNIX_EPOCH + Duration::from_millis(4_102_444_800_250);
    assert_eq!(credential.expires_at(), Some(expected));
}

#[tokio::test]
async fn epoch_seconds_expires_at_parses() {
    let manager = Manager::start().await;
    manager.grant(
        "alice",
        "github",
        json!({ "accessToken": "ghp_s", "expiresAt": 4_102_444_800u64 }),
    );
    let resolver = manager.resolver().build().unwrap();

    let credential = resolver.resolve(&alice(), "github").await.unwrap();

    assert_eq!(credential.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(4_102_444_800)));
}

// --- Configuration ---

#[test]
fn empty_service_token_is_refused_without_being_shown() {
    let err = ApiTokenResolver::builder("https://tenants.example.com", "  ").build().unwrap_err();

    assert_eq!(err.key, "tenant_api.service_token");
    assert_eq!(err.value, "[redacted]");
}

#[test]
fn endpoint_path_must_start_with_a_slash_and_name_the_user() {
    for path in ["api/credentials/:userId", "/api/credentials/:resourceType"] {
        let err = ApiTokenResolver::builder("https://tenants.example.com", SERVICE_TOKEN)
            .endpoint_path(path)
            .build()
            .unwrap_err();
        assert_eq!(err.key, "tenant_api.endpoint_path", "{path}");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused_unless_allowed_outside_production() {
    let remote = "http://tenants.internal:8080/";
    let build = |allow: bool, environment: Environment| {
        ApiTokenResolver::builder(remote, SERVICE_TOKEN)
            .allow_insecure_http(allow)
            .environment(environment)
            .build()
    };

    let err = build(false, Environment::Development).unwrap_err();
    assert_eq!(err.key, "tenant_api.tenant_manager_url");
    assert!(build(true, Environment::Development).is_ok());
    assert!(build(true, Environment::Production).is_err());
}

#[test]
fn credentials_in_the_tenant_manager_url_are_refused_and_not_echoed() {
    let err = ApiTokenResolver::builder("https://user:hunter2@tenants.example.com", SERVICE_TOKEN)
        .build()
        .unwrap_err();

    assert_eq!(err.key, "tenant_api.tenant_manager_url");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn debug_output_never_shows_the_service_token() {
    let builder = ApiTokenResolver::builder("https://tenants.example.com", SERVICE_TOKEN)
        .header("X-Api-Key", "header-secret-77");
    let resolver = builder.clone().build().unwrap();

    let printed = format!("{builder:?} {resolver:?}");

    assert!(printed.contains("tenants.example.com"), "{printed}");
    assert!(!printed.contains(SERVICE_TOKEN) && !printed.contains("header-secret-77"), "{printed}");
}

// --- Logs ---

/// Collects everything the `fmt` subscriber writes.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_never_contain_the_service_token_the_credential_or_a_body() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_env_filter("mcp_auth=trace")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let manager = Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_logged_never" }));
    // An unusable body that still carries a secret-looking value.
    manager.grant("alice", "slack", json!({ "accessToken": 5, "refresh": "xoxb_body_secret" }));
    manager.reply("/api/credentials/alice/jira", Reply::status(401));
    // A zero TTL: the next resolve of github refreshes, fails and serves the stale credential.
    let resolver = manager.resolver().cache_ttl(Duration::ZERO).build().unwrap();

    resolver.resolve(&alice(), "github").await.unwrap();
    resolver.resolve(&alice(), "slack").await.unwrap_err();
    resolver.resolve(&alice(), "jira").await.unwrap_err();
    manager.set_mode(Mode::ServiceUnavailable);
    resolver.resolve(&alice(), "github").await.unwrap(); // stale, with warnings

    let printed = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("alice") && printed.contains("status=401"),
        "logs captured: {printed}"
    );
    for secret in [SERVICE_TOKEN, "ghp_logged_never", "xoxb_body_secret"] {
        assert!(!printed.contains(secret), "{secret} leaked into: {printed}");
    }
}
