//! A `SharedRateLimiter` installed with `WrapServerBuilder::shared_rate_limit` replaces the
//! per-process limit: two servers given one limiter share each user's budget, its refusals are
//! the same `429` (headers and JSON-RPC body) as the local limiter's, and a limiter that cannot
//! reach its state and fails closed gets `503` with `Retry-After`, counted apart.

mod support;

use std::{
    error::Error,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use mcp_auth::{
    middleware::{
        RateLimitConfig,
        rate_limit::{KeyedLimiter, RateLimitStatus, SharedRateLimitError, SharedRateLimiter},
    },
    tool::RATE_LIMITED_CODE,
};
use serde_json::{Value, json};
use support::app::{App, stateless_call, stateless_request, token_for};

type TestResult = Result<(), Box<dyn Error>>;

/// A stand-in for a shared store: one `KeyedLimiter` that both servers ask, which can be told
/// that its store is down.
struct Store {
    limiter: KeyedLimiter<Arc<str>>,
    down: AtomicBool,
    checks: AtomicUsize,
}

impl Store {
    fn new(config: &RateLimitConfig) -> Arc<Self> {
        Arc::new(Self {
            limiter: KeyedLimiter::new(config).unwrap(),
            down: AtomicBool::new(false),
            checks: AtomicUsize::new(0),
        })
    }
}

impl SharedRateLimiter for Store {
    fn check<'a>(
        &'a self,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<RateLimitStatus, SharedRateLimitError>> {
        Box::pin(async move {
            self.checks.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                return Err(SharedRateLimitError::Unavailable {
                    retry_after: Duration::from_secs(2),
                });
            }
            Ok(self.limiter.check(&Arc::from(user_id))?)
        })
    }
}

async fn echo_as(app: &App, user: &str) -> reqwest::Response {
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    stateless_request(&reqwest::Client::new(), &app.url, Some(&token_for(user)), "echo", &body)
        .send()
        .await
        .expect("request sent")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    let value = response.headers().get(name).unwrap_or_else(|| panic!("no {name} header"));
    value.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn two_servers_with_one_shared_limiter_share_each_users_budget() -> TestResult {
    let store = Store::new(&RateLimitConfig::per_minute(4));
    // The local limit (the default, 100 at once) would let all of these through.
    let one = App::start(|b| b.shared_rate_limit(store.clone())).await;
    let two = App::start(|b| b.shared_rate_limit(store.clone())).await;
    for i in 0..4 {
        let app = if i % 2 == 0 { &one } else { &two };
        assert_eq!(echo_as(app, "alice").await.status(), 200);
    }
    let refused = echo_as(&two, "alice").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-limit"), "4");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    let retry_after: u64 = header(&refused, "retry-after").parse()?;
    assert!((1..=15).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = refused.json().await?;
    assert_eq!(body["error"]["code"], RATE_LIMITED_CODE);
    assert_eq!(body["error"]["data"]["retryAfter"], retry_after);
    assert_eq!(echo_as(&one, "bob").await.status(), 200);
    assert_eq!(store.checks.load(Ordering::Relaxed), 6, "one check per request");
    Ok(())
}

#[tokio::test]
async fn a_limiter_that_fails_closed_gets_503_with_retry_after() -> TestResult {
    let store = Store::new(&RateLimitConfig::per_minute(100));
    let app = App::start(|b| b.shared_rate_limit(store.clone())).await;
    assert_eq!(echo_as(&app, "alice").await.status(), 200);
    store.down.store(true, Ordering::Relaxed);
    let refused = echo_as(&app, "alice").await;
    assert_eq!(refused.status(), 503);
    assert_eq!(header(&refused, "retry-after"), "2");
    let body: Value = refused.json().await?;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(body["error"]["data"]["retryAfter"], 2);
    store.down.store(false, Ordering::Relaxed);
    assert_eq!(echo_as(&app, "alice").await.status(), 200);
    Ok(())
}
