//! Fault injection: a JWKS endpoint that accepts connections and never answers.
//!
//! With no keys to verify against, a request must still get an answer — `503` with
//! `Retry-After`, once the fetch times out — and the server must stay responsive meanwhile:
//! `/health` answers at once, and callers share one fetch rather than each opening a connection
//! to the hung identity provider, even callers that give up and go away.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use jsonwebtoken::Algorithm;
use mcp_auth::{AuthError, JwtAuthProvider, auth::jwks::JwksOptions};
use serde_json::{Value, json};
use support::{
    DEADLINE,
    app::{App, stateless_call, stateless_request},
    now, poll_until, sign,
};
use tokio::io::AsyncWriteExt;

/// The `Retry-After` a request gets when the keys cannot be fetched.
const KEYS_RETRY_AFTER: &str = "5";

/// A JWKS endpoint on 127.0.0.1:0 that accepts every connection, counts it, and holds it open
/// without ever finishing an answer.
struct HangingJwks {
    url: String,
    accepted: Arc<AtomicUsize>,
}

/// The start of an answer whose body never comes: headers promise 1000 bytes, 8 arrive.
const STALLED_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
    content-length: 1000\r\n\r\n{\"keys\":";

impl HangingJwks {
    /// Answers nothing at all.
    async fn start() -> Self {
        Self::start_writing(b"").await
    }

    /// Writes `prefix` on each connection, then nothing more.
    async fn start_writing(prefix: &'static [u8]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(prefix).await;
                held.push(stream);
            }
        });
        Self { url, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// A provider fetching its keys here, giving up on a fetch after `timeout`.
    fn provider(&self, timeout: Duration) -> JwtAuthProvider {
        JwtAuthProvider::builder()
            .jwks_url(&self.url)
            .jwks_options(JwksOptions::default().with_timeout(timeout))
            .build()
            .unwrap()
    }
}

/// A token for `user` that names a key the provider has to fetch.
fn token_for(user: &str) -> String {
    sign(Algorithm::RS256, "rsa-a", Some("key-a"), &json!({ "sub": user, "exp": now() + 3600 }))
}

/// A stateless `tools/call` by `user`: status, `Retry-After`, body.
async fn call(http: &reqwest::Client, app: &App, user: &str) -> (u16, Option<String>, Value) {
    let body = stateless_call(1, "whoami", json!({}), None);
    let response = stateless_request(http, &app.url, Some(&token_for(user)), "whoami", &body)
        .send()
        .await
        .expect("the wrapped server answers");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

/// The exact answer to a request whose keys cannot be fetched.
fn assert_keys_unavailable((status, retry_after, body): (u16, Option<String>, Value)) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some(KEYS_RETRY_AFTER));
    assert_eq!(
        body,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "an upstream dependency is unavailable; retry later",
        })
    );
}

#[tokio::test]
async fn a_request_gets_503_with_retry_after_once_the_jwks_fetch_times_out() {
    let jwks = HangingJwks::start().await;
    let timeout = Duration::from_millis(500);
    let app = App::start(|b| b.auth_provider(jwks.provider(timeout))).await;
    let http = reqwest::Client::new();

    let started = Instant::now();
    let answer = call(&http, &app, "alice").await;
    let took = started.elapsed();

    assert_keys_unavailable(answer);
    assert_eq!(jwks.accepted(), 1);
    // It waited for the fetch (the endpoint was reached and hung) and not much longer.
    assert!(took >= timeout, "answered after {took:?}, before the fetch could time out");
    assert!(took < timeout + Duration::from_secs(5), "answered only after {took:?}");
}

#[tokio::test]
async fn health_answers_at_once_while_the_jwks_fetch_hangs() {
    let jwks = HangingJwks::start().await;
    // Long enough that the fetch is still hanging whatever the machine's load.
    let app =
        Arc::new(App::start(|b| b.auth_provider(jwks.provider(Duration::from_secs(60)))).await);
    let http = reqwest::Client::new();
    let pending = tokio::spawn({
        let (app, http) = (app.clone(), http.clone());
        async move { call(&http, &app, "alice").await }
    });
    poll_until("the JWKS fetch to reach the endpoint", DEADLINE, async || {
        (jwks.accepted() == 1).then_some(())
    })
    .await;

    let health = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(format!("{}/health", app.url)).send(),
    )
    .await
    .expect("/health answered while the JWKS fetch hangs")
    .unwrap();

    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({ "status": "ok" }));
    assert!(!pending.is_finished(), "the authenticated request should still be waiting");
    pending.abort();
}

#[tokio::test]
async fn a_flood_while_the_jwks_hangs_makes_one_fetch_and_every_request_gets_503() {
    let jwks = HangingJwks::start().await;
    let timeout = Duration::from_millis(1000);
    let app = App::start(|b| b.auth_provider(jwks.provider(timeout))).await;
    let http = reqwest::Client::new();

    let started = Instant::now();
    let answers = join_all((0..50).map(|i| {
        let (http, app, user) = (&http, &app, format!("user-{i}"));
        async move { call(http, app, &user).await }
    }))
    .await;
    let took = started.elapsed();

    for answer in answers {
        assert_keys_unavailable(answer);
    }
    assert_eq!(jwks.accepted(), 1, "one fetch for the whole flood");
    assert!(took < timeout + Duration::from_secs(5), "the flood took {took:?}");
    // Within the minimum refresh interval (30 s) a failed fetch is not retried: the next
    // request is refused without waiting and without a connection.
    assert_keys_unavailable(call(&http, &app, "late").await);
    assert_eq!(jwks.accepted(), 1);
}

#[tokio::test]
async fn callers_that_give_up_do_not_each_start_a_new_fetch() {
    let jwks = HangingJwks::start().await;
    // The fetch outlives the ten callers below, whatever the machine's load.
    let provider = jwks.provider(Duration::from_secs(60));
    let token = token_for("alice");

    // Ten clients, one after the other, each giving up after 100 ms — as clients with a short
    // timeout, or a tower timeout layer, do. Each drops its `verify` future mid-fetch.
    for _ in 0..10 {
        let gave_up = tokio::time::timeout(Duration::from_millis(100), provider.verify(&token));
        assert!(gave_up.await.is_err(), "the fetch cannot have finished");
    }

    // The first caller's fetch went on without it; everyone after waited for it.
    assert_eq!(jwks.accepted(), 1, "a fetch was started for every caller that gave up");
}

#[tokio::test]
async fn a_patient_caller_after_impatient_ones_gets_keys_unavailable() {
    let jwks = HangingJwks::start().await;
    let timeout = Duration::from_millis(1000);
    let provider = jwks.provider(timeout);
    let token = token_for("alice");
    let first = tokio::time::timeout(Duration::from_millis(100), provider.verify(&token));
    assert!(first.await.is_err(), "the fetch cannot have finished");

    // It waits for the fetch the first caller started, and gets its outcome.
    assert_eq!(provider.verify(&token).await.unwrap_err(), AuthError::KeysUnavailable);
    assert_eq!(jwks.accepted(), 1, "the patient caller started a fetch of its own");
}

#[tokio::test]
async fn a_jwks_that_sends_headers_and_then_stalls_times_out_as_well() {
    let jwks = HangingJwks::start_writing(STALLED_ANSWER).await;
    let timeout = Duration::from_millis(500);
    let provider = jwks.provider(timeout);

    let started = Instant::now();
    let result = provider.verify(&token_for("alice")).await;
    let took = started.elapsed();

    // The fetch timeout covers the body, not just the headers.
    assert_eq!(result.unwrap_err(), AuthError::KeysUnavailable);
    assert!(took >= timeout, "gave up after {took:?}, before the timeout");
    assert!(took < timeout + Duration::from_secs(5), "gave up only after {took:?}");
    assert_eq!(jwks.accepted(), 1);
}
