//! `HttpOptions::json_response`: on (the default), a 2026-07-28 answer that needs no stream is a
//! plain JSON body, and one that carries a notification before its result (progress, a log
//! message) is still an SSE stream that delivers it. Off, every answer is a stream.

mod support;

use http::header::CONTENT_TYPE;
use mcp_auth::http::HttpOptions;
use serde_json::{Value, json};
use support::app::{App, stateless_call, stateless_request, token_for};

async fn json_app() -> App {
    App::start(|b| b).await
}

/// POSTs a stateless call of `tool`; returns the media type and the body.
async fn call(app: &App, tool: &str, args: Value, progress: Option<&str>) -> (String, String) {
    let http = reqwest::Client::new();
    let body = stateless_call(1, tool, args, progress);
    let token = token_for("alice");
    let response =
        stateless_request(&http, &app.url, Some(&token), tool, &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let media = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    (media, response.text().await.unwrap())
}

/// The JSON-RPC messages of an SSE body, in order.
fn events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

#[tokio::test]
async fn an_answer_without_notifications_is_plain_json() {
    let app = json_app().await;
    let (media, body) = call(&app, "echo", json!({ "text": "hi" }), None).await;
    assert_eq!(media, "application/json");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["content"][0]["text"], "hi");
}

#[tokio::test]
async fn progress_still_streams_before_the_result() {
    let app = json_app().await;
    let args = json!({ "steps": 2, "delay_ms": 1 });
    let (media, body) = call(&app, "slow", args, Some("tok-9")).await;
    assert_eq!(media, "text/event-stream");
    let events = events(&body);
    let progress: Vec<_> = events
        .iter()
        .filter(|e| e["method"] == "notifications/progress")
        .map(|e| (e["params"]["progressToken"].clone(), e["params"]["progress"].clone()))
        .collect();
    assert_eq!(progress, [(json!("tok-9"), json!(1.0)), (json!("tok-9"), json!(2.0))]);
    let last = events.last().unwrap();
    assert_eq!(last["result"]["content"][0]["text"], "done", "{body}");
}

#[tokio::test]
async fn a_log_message_still_reaches_the_caller() {
    let app = json_app().await;
    let (media, body) = call(&app, "log", json!({ "text": "a line" }), None).await;
    assert_eq!(media, "text/event-stream");
    let events = events(&body);
    let logs: Vec<_> = events
        .iter()
        .filter(|e| e["method"] == "notifications/message")
        .map(|e| e["params"]["data"].clone())
        .collect();
    assert_eq!(logs, [json!("a line")], "{body}");
    assert_eq!(events.last().unwrap()["result"]["content"][0]["text"], "logged");
}

#[tokio::test]
async fn turned_off_every_answer_is_a_stream() {
    let app = App::start(|b| b.http(HttpOptions::default().with_json_response(false))).await;
    let (media, body) = call(&app, "echo", json!({ "text": "hi" }), None).await;
    assert_eq!(media, "text/event-stream");
    assert_eq!(events(&body).last().unwrap()["result"]["content"][0]["text"], "hi");
}
