//! `WrapServerBuilder::stateless_handler`: a 2026-07-28 POST reaches the hook only after
//! admission — authenticated, its credential headers stripped, the principal in its
//! extensions, with the caller's own instance — and a declined request is served by rmcp as
//! usual. Session-era requests never reach it.

mod support;

use std::sync::{Arc, Mutex};

use axum::{body::Body, response::Response};
use mcp_auth::{Principal, http::Stateless};
use serde_json::{Value, json};
use support::{
    app::{App, call, stateless_call, stateless_request, token_for},
    server::TestServer,
};

/// What the hook saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    instance_user: String,
    principal: Option<String>,
    authorization: bool,
    body: Value,
}

/// An app whose hook records every request and answers the `echo` calls itself.
async fn app_with_hook() -> (App, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let app = App::start(move |builder| {
        builder.stateless_handler(move |instance: Arc<TestServer>, request| {
            let sink = sink.clone();
            Box::pin(async move {
                let body: Value = serde_json::from_slice(request.body()).unwrap();
                sink.lock().unwrap().push(Seen {
                    instance_user: instance.user().to_owned(),
                    principal: request
                        .extensions()
                        .get::<Principal>()
                        .map(|p| p.user_id().to_owned()),
                    authorization: request.headers().contains_key("authorization"),
                    body: body.clone(),
                });
                if body["params"]["name"] != "echo" {
                    return Stateless::Declined(request);
                }
                let content = json!([{ "type": "text", "text": "hooked" }]);
                let answer =
                    json!({ "jsonrpc": "2.0", "id": body["id"], "result": { "content": content } });
                Stateless::Answered(Response::new(Body::from(answer.to_string())))
            })
        })
    })
    .await;
    (app, seen)
}

#[tokio::test]
async fn an_admitted_stateless_request_reaches_the_hook_with_the_callers_instance() {
    let (app, seen) = app_with_hook().await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
    let response = stateless_request(&http, &app.url, Some(&token_for("alice")), "echo", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "hooked");
    assert_eq!(
        *seen.lock().unwrap(),
        [Seen {
            instance_user: "alice".into(),
            principal: Some("alice".into()),
            authorization: false,
            body,
        }]
    );
}

#[tokio::test]
async fn a_declined_request_is_served_by_the_instance() {
    let (app, seen) = app_with_hook().await;
    let http = reqwest::Client::new();
    let body = stateless_call(2, "whoami", json!({}), None);
    let response = stateless_request(&http, &app.url, Some(&token_for("bob")), "whoami", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#""text":"bob bob""#), "{text}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unauthenticated_and_session_era_requests_never_reach_the_hook() {
    let (app, seen) = app_with_hook().await;
    let http = reqwest::Client::new();
    let body = stateless_call(3, "echo", json!({ "text": "hi" }), None);
    let response = stateless_request(&http, &app.url, None, "echo", &body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let (client, _) = app.client("carol").await;
    assert_eq!(call(&client, "echo", json!({ "text": "in a session" })).await, "in a session");
    assert!(seen.lock().unwrap().is_empty(), "{:?}", seen.lock().unwrap());
}
