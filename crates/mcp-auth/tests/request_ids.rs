//! Every HTTP request has an id: the client's `X-Request-ID` when sane, else one the server
//! makes. The response carries it, refusals included; every line logged while serving the
//! request carries it (`request{request_id=…}`), a stream's lines too; and the auth provider
//! sees it as `RequestContext::request_id`.
//!
//! Each test runs on a current-thread runtime, so the server's tasks log into this thread's
//! capture.

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use jsonwebtoken::Algorithm;
use mcp_auth::{
    AuthError, AuthProvider, Limits, Principal, ProtectedResource, RequestContext,
    middleware::RateLimitConfig,
};
use serde_json::json;
use support::{app::*, log_capture::capture_logs, now, sign};

const REQUEST_ID: &str = "x-request-id";

/// The response's `X-Request-ID`, which every response has.
fn id_of(response: &reqwest::Response) -> String {
    let value = response
        .headers()
        .get(REQUEST_ID)
        .unwrap_or_else(|| panic!("{} {} has no x-request-id", response.status(), response.url()));
    value.to_str().unwrap().to_owned()
}

/// The captured lines logged inside the request span of `id`.
fn lines_of<'a>(logs: &'a str, id: &str) -> Vec<&'a str> {
    let tag = format!("request{{request_id={id}}}");
    logs.lines().filter(|line| line.contains(&tag)).collect()
}

#[tokio::test]
async fn a_refused_and_a_served_request_log_lines_with_the_id_their_response_shows() {
    let (capture, _guard) = capture_logs();
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);

    let refused = stateless_request(&http, &app.url, Some("forged.token"), "echo", &body);
    let refused = refused.send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let served = stateless_request(&http, &app.url, Some(&token_for("ida")), "echo", &body);
    let served = served.send().await.unwrap();
    assert_eq!(served.status(), 200);
    let (refused_id, served_id) = (id_of(&refused), id_of(&served));
    assert_ne!(refused_id, served_id);

    let logs = capture.text();
    let refusal = lines_of(&logs, &refused_id);
    assert!(refusal.iter().any(|l| l.contains("authentication refused")), "{logs}");
    let serving = lines_of(&logs, &served_id);
    assert!(serving.iter().any(|l| l.contains("instance created")), "{logs}");
    assert!(serving.iter().all(|l| !l.contains("authentication refused")), "{serving:#?}");
}

#[tokio::test]
async fn a_sane_client_id_is_echoed_and_an_insane_one_replaced() {
    let (capture, _guard) = capture_logs();
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let send = |id: &[u8]| {
        let id = reqwest::header::HeaderValue::from_bytes(id).unwrap();
        http.get(format!("{}/health", app.url)).header(REQUEST_ID, id).send()
    };

    let sane = "client-7f3a_9c:01/x.y@z";
    let echoed = send(sane.as_bytes()).await.unwrap();
    assert_eq!(id_of(&echoed), sane);
    let unauthenticated = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    let refused = stateless_request(&http, &app.url, None, "echo", &unauthenticated)
        .header(REQUEST_ID, "refused-by-client-id")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (refused.status().as_u16(), id_of(&refused).as_str()),
        (401, "refused-by-client-id")
    );
    assert_eq!(lines_of(&capture.text(), "refused-by-client-id").len(), 1, "{}", capture.text());

    let generated = id_of(&send(b"").await.unwrap());
    let too_long = "a".repeat(65);
    let insane: [&[u8]; 5] =
        [too_long.as_bytes(), b"tab\there", b"with space", b"caf\xc3\xa9", b"a\xffb"];
    for id in insane {
        let replaced = id_of(&send(id).await.unwrap());
        assert_ne!(replaced.as_bytes(), id);
        // Made here: the process's prefix, then a number.
        let (prefix, number) = replaced.split_once('-').unwrap();
        assert_eq!(prefix, generated.split_once('-').unwrap().0);
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{replaced}");
    }
    assert_eq!(id_of(&send(&[b'a'; 64]).await.unwrap()), "a".repeat(64), "64 is still sane");
}

#[tokio::test]
async fn every_response_carries_its_id_refusals_and_metadata_included() {
    let resource = ProtectedResource::new("https://auth.example.com");
    let app = App::start(|b| {
        b.protected_resource(resource).rate_limit(RateLimitConfig::per_minute(1).with_burst(1))
    })
    .await;
    let http = reqwest::Client::new();
    let token = token_for("jo");
    let mut seen = Vec::new();
    let mut expect = |response: reqwest::Response, status: u16| {
        assert_eq!(response.status(), status, "{}", response.url());
        seen.push(id_of(&response));
    };

    expect(http.get(format!("{}/health", app.url)).send().await.unwrap(), 200);
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    expect(http.get(metadata).send().await.unwrap(), 200);
    expect(post_tools_list(&app.url, "not-a-token").await, 401);
    let foreign = http.get(format!("{}/health", app.url)).header("host", "evil.example.test");
    expect(foreign.send().await.unwrap(), 403);
    let unknown_session = http
        .post(&app.url)
        .bearer_auth(&token)
        .header("accept", ACCEPT)
        .header("mcp-session-id", "no-such-session")
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send();
    expect(unknown_session.await.unwrap(), 404);
    expect(post_tools_list(&app.url, &token).await, 429);
    expect(http.get(format!("{}/no-such-route", app.base)).send().await.unwrap(), 404);

    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7, "one id per request: {seen:?}");
}

/// An auth provider that records the request id it was shown, then defers to JWT auth.
struct RecordingProvider {
    seen: Arc<Mutex<Vec<Option<String>>>>,
    jwt: mcp_auth::JwtAuthProvider,
}

#[async_trait::async_trait]
impl AuthProvider for RecordingProvider {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        self.seen.lock().unwrap().push(ctx.request_id().map(str::to_owned));
        self.jwt.authenticate(ctx).await
    }
}

#[tokio::test]
async fn the_auth_provider_sees_the_id_of_the_request() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let provider = RecordingProvider { seen: seen.clone(), jwt: jwt_provider() };
    let app = App::start(|b| b.auth_provider(provider)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);

    let generated = stateless_request(&http, &app.url, Some(&token_for("kim")), "echo", &body);
    let generated = id_of(&generated.send().await.unwrap());
    let replaced = stateless_request(&http, &app.url, Some(&token_for("kim")), "echo", &body)
        .header(REQUEST_ID, "x".repeat(100))
        .send();
    let replaced = id_of(&replaced.await.unwrap());
    let given = stateless_request(&http, &app.url, Some(&token_for("kim")), "echo", &body)
        .header(REQUEST_ID, "given-1");
    assert_eq!(id_of(&given.send().await.unwrap()), "given-1");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [Some(generated), Some(replaced), Some("given-1".to_owned())]);
}

#[tokio::test]
async fn a_line_logged_while_a_stream_is_served_carries_the_streams_id() {
    let (capture, _guard) = capture_logs();
    let no_leeway = Limits::default().with_stream_expiry_leeway(Some(Duration::ZERO));
    let app = App::start(|b| b.limits(no_leeway)).await;
    // Valid for two more seconds: the stream is closed, and says so, when it expires.
    let short = sign(Algorithm::HS256, "hs", None, &json!({ "sub": "lee", "exp": now() + 2 }));
    let response = reqwest::Client::new()
        .get(format!("{}/sse", app.url))
        .bearer_auth(short)
        .header("accept", "text/event-stream")
        .header(REQUEST_ID, "the-stream")
        .send()
        .await
        .unwrap();
    assert_eq!((response.status().as_u16(), id_of(&response).as_str()), (200, "the-stream"));
    let mut events = SseReader::new(response);
    let drained = async { while events.next().await.is_some() {} };
    tokio::time::timeout(Duration::from_secs(15), drained).await.expect("the stream ended");

    let logs = capture.text();
    let closed: Vec<_> = logs.lines().filter(|l| l.contains("stream closed")).collect();
    assert_eq!(closed.len(), 1, "{logs}");
    assert!(closed[0].contains("request{request_id=the-stream}"), "{}", closed[0]);
}
