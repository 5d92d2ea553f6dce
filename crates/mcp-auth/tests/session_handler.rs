//! `WrapServerBuilder::session_handler`: session-era Streamable HTTP served by the instance
//! itself (a proxy's upstream sessions), while the library keeps the sessions safe: it mints
//! the ids clients see, binds each to its user, counts them against the caps, and ends those
//! left when the instance closes.

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{body::Body, response::Response};
use http::{Method, StatusCode};
use mcp_auth::{
    Limits, Principal,
    http::{SessionAnswer, SessionChange},
    instances::InstanceOptions,
};
use serde_json::{Value, json};
use support::{
    app::{App, eventually, token_for},
    server::TestServer,
};

const ACCEPT: &str = "application/json, text/event-stream";

/// What the hook saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: Method,
    instance_user: String,
    principal: Option<String>,
    theirs: Option<String>,
    /// Headers that must never reach it.
    authorization: bool,
    session_header: bool,
}

/// A hook standing in for an upstream: `initialize` opens `upstream-N` (and says so in its own
/// `Mcp-Session-Id`, as every answer in that session does: it must never reach the client), a
/// request in a session is answered with the handler's value, DELETE ends it.
fn with_hook(
    builder: mcp_auth::WrapServerBuilder<TestServer>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> mcp_auth::WrapServerBuilder<TestServer> {
    let opened = Arc::new(AtomicUsize::new(0));
    builder.session_handler(move |instance: Arc<TestServer>, request, theirs| {
        let (seen, opened) = (seen.clone(), opened.clone());
        Box::pin(async move {
            seen.lock().unwrap().push(Seen {
                method: request.method().clone(),
                instance_user: instance.user().to_owned(),
                principal: request.extensions().get::<Principal>().map(|p| p.user_id().to_owned()),
                theirs: theirs.as_deref().map(str::to_owned),
                authorization: request.headers().contains_key("authorization"),
                session_header: request.headers().contains_key("mcp-session-id"),
            });
            let mut response = Response::new(Body::from(
                json!({ "jsonrpc": "2.0", "id": 1, "result": { "theirs": theirs.as_deref() } })
                    .to_string(),
            ));
            if let Some(theirs) = &theirs {
                response.headers_mut().insert("mcp-session-id", theirs.parse().unwrap());
            }
            let change = match (request.method(), theirs) {
                (&Method::DELETE, Some(_)) => SessionChange::Ended,
                (&Method::POST, None) => {
                    let id: Arc<str> =
                        format!("upstream-{}", opened.fetch_add(1, Ordering::SeqCst) + 1).into();
                    response.headers_mut().insert("mcp-session-id", id.parse().unwrap());
                    SessionChange::Opened(id)
                }
                _ => SessionChange::None,
            };
            SessionAnswer { response, change }
        })
    })
}

async fn app(limits: Limits, options: InstanceOptions) -> (App, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = App::start(move |b| with_hook(b.limits(limits).instances(options), sink)).await;
    (app, seen)
}

async fn send(
    http: &reqwest::Client,
    app: &App,
    method: Method,
    user: &str,
    session: Option<&str>,
) -> reqwest::Response {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let mut request =
        http.request(method, &app.url).bearer_auth(token_for(user)).header("accept", ACCEPT);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.json(&init).send().await.unwrap()
}

/// Opens a session for `user`; returns the id the client got.
async fn open(http: &reqwest::Client, app: &App, user: &str) -> String {
    let response = send(http, app, Method::POST, user, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["mcp-session-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_hooked_session_has_an_id_of_the_librarys_and_its_requests_carry_the_handlers_value() {
    let (app, seen) = app(Limits::default(), InstanceOptions::default()).await;
    let http = reqwest::Client::new();
    let id = open(&http, &app, "alice").await;
    assert_ne!(id, "upstream-1", "the handler's id reached the client");
    assert_eq!(id.len(), 32, "{id}");
    let answer = send(&http, &app, Method::POST, "alice", Some(&id)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers().get("mcp-session-id").is_none());
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["result"]["theirs"], "upstream-1");
    let seen = seen.lock().unwrap().clone();
    let alice = |theirs: Option<&str>| Seen {
        method: Method::POST,
        instance_user: "alice".into(),
        principal: Some("alice".into()),
        theirs: theirs.map(str::to_owned),
        authorization: false,
        session_header: false,
    };
    assert_eq!(seen, [alice(None), alice(Some("upstream-1"))]);
    assert_eq!(app.server.stats().await.sessions, 1);
}

#[tokio::test]
async fn another_users_or_an_unknown_id_is_404_and_never_reaches_the_hook() {
    let (app, seen) = app(Limits::default(), InstanceOptions::default()).await;
    let http = reqwest::Client::new();
    let alices = open(&http, &app, "alice").await;
    for (user, id) in [("bob", alices.as_str()), ("alice", "upstream-1"), ("alice", "nope")] {
        for method in [Method::POST, Method::GET, Method::DELETE] {
            let response = send(&http, &app, method.clone(), user, Some(id)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{user} {method} {id}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], -32001);
            assert_eq!(body["error"]["message"], "Session not found");
        }
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "only alice's initialize reached the hook");
}

#[tokio::test]
async fn delete_ends_the_session_and_frees_its_place_under_the_cap() {
    let limits = Limits::default().with_max_sessions_per_user(2);
    let (app, seen) = app(limits, InstanceOptions::default()).await;
    let http = reqwest::Client::new();
    let ids = [open(&http, &app, "mallory").await, open(&http, &app, "mallory").await];
    let over = send(&http, &app, Method::POST, "mallory", None).await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = over.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Too many open sessions for this user; close one (DELETE) first"
    );
    assert_eq!(seen.lock().unwrap().len(), 2, "the refused open reached the hook");

    let deleted = send(&http, &app, Method::DELETE, "mallory", Some(&ids[0])).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let gone = send(&http, &app, Method::POST, "mallory", Some(&ids[0])).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.server.stats().await.sessions, 1);
    open(&http, &app, "mallory").await;
    let last = seen.lock().unwrap().iter().filter(|s| s.method == Method::DELETE).count();
    assert_eq!(last, 1);
}

#[tokio::test]
async fn a_closed_instance_ends_its_sessions_through_the_hook() {
    // A lifetime of 300 ms: the instance is closed soon after, with its two sessions open.
    let options = InstanceOptions::default().with_max_lifetime(Duration::from_millis(300));
    let (app, seen) = app(Limits::default(), options).await;
    let http = reqwest::Client::new();
    open(&http, &app, "alice").await;
    open(&http, &app, "alice").await;
    let deletes = || {
        let mut ended: Vec<_> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == Method::DELETE)
            .map(|s| (s.theirs.clone(), s.principal.clone(), s.instance_user.clone()))
            .collect();
        ended.sort();
        ended
    };
    eventually("the closed instance's sessions to be ended", || deletes().len() == 2).await;
    let ended = |n: &str| (Some(format!("upstream-{n}")), None, "alice".to_owned());
    assert_eq!(deletes(), [ended("1"), ended("2")]);
}

#[tokio::test]
async fn stateless_requests_never_reach_the_session_hook() {
    let (app, seen) = app(Limits::default(), InstanceOptions::default()).await;
    let http = reqwest::Client::new();
    let body = support::app::stateless_call(1, "whoami", json!({}), None);
    let response =
        support::app::stateless_request(&http, &app.url, Some(&token_for("bob")), "whoami", &body)
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains(r#""text":"bob bob""#));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn hooked_sessions_count_against_the_total_cap() {
    let limits = Limits::default().with_max_sessions_total(2);
    let (app, seen) = app(limits, InstanceOptions::default()).await;
    let http = reqwest::Client::new();
    open(&http, &app, "u1").await;
    open(&http, &app, "u2").await;
    let over = send(&http, &app, Method::POST, "u3", None).await;
    assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(over.headers()["retry-after"], "5");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(seen.lock().unwrap().len(), 2, "the refused open reached the hook");
    assert_eq!(app.server.stats().await.sessions, 2);
}
