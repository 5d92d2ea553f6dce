//! A request that reuses the id of one still in flight in its session (2025-11-25) gets `400`
//! with a JSON-RPC error naming the id, and the first request is answered as if nothing had
//! happened. Before, rmcp gave the second request the first one's route: the first POST never
//! got an answer (issue: two `tools/call` with id 7 left the first open until the client timed
//! out). Once the first is answered, or its client gone, the id may be used again. Legacy
//! HTTP+SSE refuses the same way.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::app::*;

/// A `tools/call` of `slow` with `id`, `steps` steps of 50 ms.
fn slow(id: u64, steps: u32) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
           "params":{"name":"slow","arguments":{"steps":steps,"delay_ms":50}}})
}

/// A `tools/call` of `echo` with `id`.
fn echo(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
           "params":{"name":"echo","arguments":{"text":"hi"}}})
}

/// The JSON-RPC answer in a POST's event stream.
async fn answer(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    let mut events = SseReader::new(response);
    let deadline = Duration::from_secs(10);
    loop {
        let next = tokio::time::timeout(deadline, events.next()).await;
        let (_, data) = next.expect("an answer in time").expect("an answer before the end");
        let message: Value = serde_json::from_str(&data).unwrap();
        if message.get("id").is_some() {
            return message;
        }
    }
}

/// The answer `slow` or `echo` gives with `id`.
fn result(id: u64, text: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":text}],"isError":false}})
}

fn duplicate_of_7() -> Value {
    json!({"jsonrpc":"2.0","id":7,"error":{"code":-32600,
           "message":"Invalid Request: id 7 is already used by a request in flight in this session"}})
}

/// POSTs `body` in `session` as `token`.
async fn post(app: &App, token: &str, session: &str, body: &Value) -> reqwest::Response {
    let http = reqwest::Client::new();
    in_session(http.post(&app.url), token, session).json(body).send().await.unwrap()
}

#[tokio::test]
async fn a_second_request_with_an_id_in_flight_gets_400_and_the_first_is_answered() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let session = open_session(&reqwest::Client::new(), &app.url, &token).await;
    // Its response headers are sent once the request is in rmcp's hands: the id is in flight.
    let first = post(&app, &token, &session, &slow(7, 10)).await;
    let second = post(&app, &token, &session, &slow(7, 1)).await;
    assert_eq!(second.status(), 400);
    assert_eq!(second.headers()["content-type"], "application/json");
    assert_eq!(second.json::<Value>().await.unwrap(), duplicate_of_7());
    assert_eq!(answer(first).await, result(7, "done"));
    // Answered: the id is free again.
    let again = post(&app, &token, &session, &echo(7)).await;
    assert_eq!(answer(again).await, result(7, "hi"));
}

#[tokio::test]
async fn another_session_may_use_the_same_id_at_the_same_time() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let http = reqwest::Client::new();
    let (one, two) =
        (open_session(&http, &app.url, &token).await, open_session(&http, &app.url, &token).await);
    let first = post(&app, &token, &one, &slow(7, 10)).await;
    let other = post(&app, &token, &two, &echo(7)).await;
    assert_eq!(answer(other).await, result(7, "hi"));
    // The id is still in flight in the first session only.
    let duplicate = post(&app, &token, &one, &echo(7)).await;
    assert_eq!(duplicate.status(), 400);
    assert_eq!(duplicate.json::<Value>().await.unwrap(), duplicate_of_7());
    assert_eq!(answer(first).await, result(7, "done"));
}

#[tokio::test]
async fn a_client_that_goes_away_frees_its_id() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let session = open_session(&reqwest::Client::new(), &app.url, &token).await;
    let first = post(&app, &token, &session, &slow(7, 36_000)).await;
    assert_eq!(first.status(), 200);
    let duplicate = post(&app, &token, &session, &echo(7)).await;
    assert_eq!(duplicate.status(), 400);
    assert_eq!(duplicate.json::<Value>().await.unwrap(), duplicate_of_7());
    // The client closes the first response: its id is freed once the server sees it go.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        let response = post(&app, &token, &session, &echo(7)).await;
        if response.status() != 400 {
            break response;
        }
        assert_eq!(response.json::<Value>().await.unwrap(), duplicate_of_7());
        assert!(tokio::time::Instant::now() < deadline, "the id was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answer(again).await, result(7, "hi"));
}

/// The next message on a legacy SSE session's stream.
async fn next_message(events: &mut SseReader) -> Value {
    let next = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
    let (_, data) = next.expect("a message in time").expect("a message before the end");
    serde_json::from_str(&data).unwrap()
}

#[tokio::test]
async fn on_legacy_sse_a_request_with_an_id_awaiting_its_answer_gets_400() {
    // Its POSTs get 202 at once, but rmcp would answer only one of two requests with one id.
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    let (mut events, endpoint) = app.legacy_sse(&token).await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).bearer_auth(&token).json(&body).send();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    assert_eq!(next_message(&mut events).await["id"], 1);
    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(post(initialized).await.unwrap().status(), 202);

    assert_eq!(post(slow(7, 10)).await.unwrap().status(), 202);
    let second = post(slow(7, 1)).await.unwrap();
    assert_eq!(second.status(), 400);
    assert_eq!(second.json::<Value>().await.unwrap(), duplicate_of_7());
    assert_eq!(next_message(&mut events).await, result(7, "done"));
    // Answered: the id is free again.
    assert_eq!(post(echo(7)).await.unwrap().status(), 202);
    assert_eq!(next_message(&mut events).await, result(7, "hi"));
}
