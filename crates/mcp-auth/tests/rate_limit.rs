//! Per-user rate limiting: over HTTP, `wrap_server` answers a user over their limit with 429,
//! `Retry-After`, `RateLimit-*` headers and a JSON-RPC error, while other users are served; it is
//! on by default and can be turned off. As tool middleware, `with_rate_limit` refuses the call
//! without running the tool. The limiter's memory stays bounded.

mod support;

use std::{
    error::Error,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::join_all;
use mcp_auth::{
    Credential, CredentialError, Principal, TokenResolver,
    middleware::{
        RateLimitConfig,
        rate_limit::{KeyedLimiter, RateLimitLayer},
        with_rate_limit,
    },
    tool::{RATE_LIMITED_CODE, ToolCall, ToolContext, ToolError},
    wrap_server,
};
use rmcp::model::CallToolResult;
use serde_json::{Map, Value, json};
use support::{
    DEADLINE,
    app::{App, jwt_provider, stateless_call, stateless_request, token_for},
    poll_until,
    server::Observed,
};
use tower::{Layer, Service, ServiceExt};

type TestResult = Result<(), Box<dyn Error>>;

/// A stateless `tools/call` of `echo` by `user`.
async fn echo_as(app: &App, http: &reqwest::Client, user: &str) -> reqwest::Response {
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    stateless_request(http, &app.url, Some(&token_for(user)), "echo", &body)
        .send()
        .await
        .expect("request sent")
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    let value = response.headers().get(name).unwrap_or_else(|| panic!("no {name} header"));
    value.to_str().ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name}: {value:?}"))
}

#[tokio::test]
async fn a_user_over_the_limit_gets_429_while_another_user_is_still_served() -> TestResult {
    // Three requests a minute: the fourth within the minute is over, and the next one comes
    // back after 20 s.
    let app = App::start(|b| b.rate_limit(RateLimitConfig::per_minute(3))).await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(echo_as(&app, &http, "alice").await.status(), 200);
    }

    let refused = echo_as(&app, &http, "alice").await;
    assert_eq!(refused.status(), 429);
    let retry_after = header(&refused, "retry-after");
    assert!((1..=20).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(header(&refused, "ratelimit-limit"), 3);
    assert_eq!(header(&refused, "ratelimit-remaining"), 0);
    let reset = header(&refused, "ratelimit-reset");
    assert!((retry_after..=60).contains(&reset), "RateLimit-Reset: {reset}");
    let body: Value = refused.json().await?;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["error"]["code"], RATE_LIMITED_CODE);
    assert_eq!(body["error"]["data"]["retryAfter"], retry_after);

    let bob = echo_as(&app, &http, "bob").await;
    assert_eq!(bob.status(), 200);
    assert!(bob.text().await?.contains("hi"));
    Ok(())
}

/// Counts resolutions; every user gets a credential.
#[derive(Default)]
struct CountingResolver(AtomicUsize);

#[async_trait::async_trait]
impl TokenResolver for CountingResolver {
    async fn resolve(&self, _: &Principal, _: &str) -> Result<Credential, CredentialError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Credential::new("ghp_token"))
    }
}

#[tokio::test]
async fn refused_requests_never_reach_the_credential_resolver() {
    let resolver = Arc::new(CountingResolver::default());
    let app = App::start({
        let resolver = resolver.clone();
        |b| b.token_resolver(resolver).rate_limit(RateLimitConfig::per_minute(2))
    })
    .await;
    let http = reqwest::Client::new();
    let statuses: Vec<u16> = join_all((0..10).map(|_| echo_as(&app, &http, "alice")))
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 8, "{statuses:?}");
    assert_eq!(resolver.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn legacy_sse_routes_are_limited_too() {
    let app = App::start(|b| b.rate_limit(RateLimitConfig::per_minute(1))).await;
    let http = reqwest::Client::new();
    let open = || {
        http.get(format!("{}/sse", app.url))
            .header("accept", "text/event-stream")
            .bearer_auth(token_for("alice"))
            .send()
    };
    let first = open().await.expect("request sent");
    assert_eq!(first.status(), 200);
    let second = open().await.expect("request sent");
    assert_eq!(second.status(), 429);
    assert!(header(&second, "retry-after") >= 1);
}

/// Room for 150 concurrent requests of one user.
fn wide_in_flight() -> mcp_auth::Limits {
    mcp_auth::Limits::default().with_max_in_flight_per_user(1000)
}

#[tokio::test]
async fn the_limit_is_on_by_default() {
    // The default allows bursts of 100 and refills 20/s: 150 concurrent requests from one user
    // must see some 429s, and at least the 100 of the burst must pass.
    // The in-flight cap (32 by default) is not what this test is about.
    let app = App::start(|b| b.limits(wide_in_flight())).await;
    let http = reqwest::Client::new();
    let responses = join_all((0..150).map(|_| echo_as(&app, &http, "alice"))).await;
    let ok = responses.iter().filter(|r| r.status() == 200).count();
    let limited = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!(ok + limited, 150);
    assert!((100..150).contains(&ok), "{ok} passed, {limited} refused");
    let refused = responses.iter().find(|r| r.status() == 429).expect("a refusal");
    assert_eq!(header(refused, "ratelimit-limit"), 100);
    assert_eq!(echo_as(&app, &http, "bob").await.status(), 200);
}

#[tokio::test]
async fn disabled_turns_the_limit_off() {
    let app =
        App::start(|b| b.rate_limit(RateLimitConfig::disabled()).limits(wide_in_flight())).await;
    let http = reqwest::Client::new();
    let responses = join_all((0..150).map(|_| echo_as(&app, &http, "alice"))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
}

#[test]
fn a_zero_rate_is_a_config_error_naming_the_key() {
    let built = wrap_server(Observed::default().factory())
        .auth_provider(jwt_provider())
        .rate_limit(RateLimitConfig::per_second(0))
        .build();
    let err = built.err().expect("a zero rate is refused");
    assert_eq!(err.key, "rate_limit.requests");
    let err = RateLimitLayer::try_new(RateLimitConfig::per_second(5).with_burst(0)).unwrap_err();
    assert_eq!(err.key, "rate_limit.burst");
}

/// A tool that counts its calls.
fn counting_tool(
    calls: Arc<AtomicUsize>,
) -> impl Service<ToolCall, Response = CallToolResult, Error = ToolError, Future: Send> + Clone {
    tower::service_fn(move |_call: ToolCall| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, ToolError>(CallToolResult::success(vec![])) }
    })
}

fn call(tool: &str, user: &str) -> Result<ToolCall, Box<dyn Error>> {
    Ok(ToolCall::new(tool, Map::new(), ToolContext::new(Principal::new(user)?)))
}

#[tokio::test]
async fn the_call_after_the_burst_is_refused_without_running_the_tool() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tool = tower::ServiceBuilder::new()
        .layer(with_rate_limit(RateLimitConfig::per_minute(3)))
        .service(counting_tool(calls.clone()));
    for _ in 0..3 {
        tool.ready().await?.call(call("echo", "alice")?).await?;
    }

    let refused = tool.ready().await?.call(call("echo", "alice")?).await;
    match refused {
        // One call comes back every 20 s.
        Err(ToolError::RateLimited { retry_after }) => {
            assert!(retry_after > Duration::from_secs(15), "{retry_after:?}");
            assert!(retry_after <= Duration::from_secs(20), "{retry_after:?}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    tool.ready().await?.call(call("echo", "bob")?).await?;
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    Ok(())
}

#[tokio::test]
async fn per_tool_keying_gives_each_tool_its_own_budget() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let per_tool = with_rate_limit(RateLimitConfig::per_minute(1).with_per_tool(true));
    let mut tool = per_tool.layer(counting_tool(calls.clone()));
    tool.ready().await?.call(call("search", "alice")?).await?;
    tool.ready().await?.call(call("create_issue", "alice")?).await?;
    let again = tool.ready().await?.call(call("search", "alice")?).await;
    assert!(matches!(again, Err(ToolError::RateLimited { .. })), "{again:?}");
    assert_eq!(per_tool.tracked_keys(), 2);

    // Without per_tool, one budget covers every tool the layer wraps.
    let mut tool = with_rate_limit(RateLimitConfig::per_minute(1)).layer(counting_tool(calls));
    tool.ready().await?.call(call("search", "alice")?).await?;
    let other_tool = tool.ready().await?.call(call("create_issue", "alice")?).await;
    assert!(matches!(other_tool, Err(ToolError::RateLimited { .. })), "{other_tool:?}");
    Ok(())
}

#[tokio::test]
async fn a_disabled_layer_runs_every_call() -> TestResult {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tool = with_rate_limit(RateLimitConfig::disabled()).layer(counting_tool(calls.clone()));
    for _ in 0..500 {
        tool.ready().await?.call(call("echo", "alice")?).await?;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 500);
    Ok(())
}

#[tokio::test]
async fn a_hundred_thousand_one_off_users_are_forgotten_once_their_state_expires() {
    // One request per 5 ms: a key's state expires 10 ms after its last use. No automatic sweep
    // during the test (an hour apart, cap above the user count): only `sweep` removes keys.
    let config = RateLimitConfig::per(1, Duration::from_millis(5))
        .with_sweep_interval(Duration::from_secs(3600))
        .with_max_tracked_keys(200_000);
    let limiter = KeyedLimiter::new(&config).unwrap();
    for user in 0..100_000 {
        assert!(limiter.check(&format!("user-{user}")).is_ok());
    }
    assert_eq!(limiter.tracked_keys(), 100_000);

    // A sweep keeps the keys whose state is still live; once it has expired, one sweep drops
    // them all.
    poll_until("every one-off user's state to expire and be swept", DEADLINE, async || {
        limiter.sweep();
        (limiter.tracked_keys() == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn expired_keys_are_swept_every_sweep_interval_without_being_asked() {
    let config = RateLimitConfig::per(1, Duration::from_millis(5))
        .with_sweep_interval(Duration::from_millis(100));
    let limiter = KeyedLimiter::new(&config).unwrap();
    for user in 0..1_000 {
        limiter.check(&format!("user-{user}")).unwrap();
    }
    assert!(limiter.tracked_keys() > 900, "{}", limiter.tracked_keys());

    // The limiter looks at the clock every 64 checks; traffic from one user is enough. Once a
    // sweep interval has passed (and the keys' state expired), that traffic sweeps the rest.
    poll_until("the periodic sweep to drop the idle keys", DEADLINE, async || {
        for _ in 0..64 {
            let _ = limiter.check(&"alice".to_owned());
        }
        (limiter.tracked_keys() <= 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn passing_the_cap_sweeps_expired_keys_at_once_and_keeps_live_ones() {
    // A key expires 200 ms after its last use; periodic sweeps are an hour apart.
    let config = RateLimitConfig::per(1, Duration::from_millis(100))
        .with_sweep_interval(Duration::from_secs(3600))
        .with_max_tracked_keys(1_000);
    let limiter = KeyedLimiter::new(&config).unwrap();
    for user in 0..1_000 {
        limiter.check(&format!("old-{user}")).unwrap();
    }
    assert_eq!(limiter.tracked_keys(), 1_000);
    // Wait for the old keys to expire without touching this limiter (a sweep here would do the
    // work this test expects of the cap): a key used after all of them, in a limiter of the same
    // quota, expires last.
    let witness = KeyedLimiter::new(&config).unwrap();
    witness.check(&"witness".to_owned()).unwrap();
    poll_until("the old keys' state to expire", DEADLINE, async || {
        witness.sweep();
        (witness.tracked_keys() == 0).then_some(())
    })
    .await;

    let alice = "alice".to_owned();
    limiter.check(&alice).unwrap();
    assert!(limiter.check(&alice).is_err(), "alice spent her burst of 1");
    for user in 0..100 {
        limiter.check(&format!("new-{user}")).unwrap();
    }
    // The old keys are gone although no sweep was due, and alice's state survived the sweep.
    assert!(limiter.tracked_keys() <= 101, "{}", limiter.tracked_keys());
    assert!(limiter.check(&alice).is_err(), "alice's state was kept");
}

#[test]
fn a_table_full_of_live_keys_is_reset_rather_than_grown() {
    // Nothing expires within a minute: sweeping frees nothing, so the cap must be enforced by
    // forgetting (every key gets a fresh burst) instead of by growing.
    let config = RateLimitConfig::per_minute(1).with_max_tracked_keys(1_000);
    let limiter = KeyedLimiter::new(&config).unwrap();
    let mut most = 0;
    for user in 0..20_000 {
        limiter.check(&format!("user-{user}")).unwrap();
        most = most.max(limiter.tracked_keys());
    }
    // The table is measured every 64 checks, so it may pass the cap by that much.
    assert!(most <= 1_000 + 64, "the table reached {most} keys");
}
