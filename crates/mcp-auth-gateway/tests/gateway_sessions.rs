//! The session era to an http upstream: each caller session is an upstream session of its own,
//! every request of it forwarded as it came (the upstream's session id added, the client's
//! never passed on), against a real rmcp upstream that records what it receives.

mod support;

use serde_json::{Value, json};
use support::{
    gateway::{Gateway, answer, answer_text, token_embedding},
    upstream::{Seen, Upstream, config},
};

const ACCEPT: &str = "application/json, text/event-stream";

/// A raw session-era request of `body` (a POST, or with `method` a GET/DELETE) in `session`.
fn request(
    http: &reqwest::Client,
    method: reqwest::Method,
    gateway: &Gateway,
    jwt: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> reqwest::RequestBuilder {
    let mut request = http
        .request(method, &gateway.url)
        .bearer_auth(jwt)
        .header("accept", ACCEPT)
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
}

/// Opens a session and sends `notifications/initialized`; returns the id the client got.
async fn open(http: &reqwest::Client, gateway: &Gateway, jwt: &str) -> String {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let post = reqwest::Method::POST;
    let opened = request(http, post.clone(), gateway, jwt, None, Some(init)).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let id = opened.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    // As every client does: the answer is read before the session is used. Sent while the
    // upstream was still streaming it, `initialized` once got the upstream's 404 on a loaded
    // CI machine (rmcp's session not yet ready for a second message).
    let _ = opened.text().await.unwrap();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let sent = request(http, post, gateway, jwt, Some(&id), Some(initialized)).send().await;
    assert_eq!(sent.unwrap().status(), 202);
    id
}

/// The upstream's session ids, in the order the upstream saw them used.
fn upstream_sessions(seen: &[Seen]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in seen.iter().flat_map(|r| r.values("mcp-session-id")) {
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

#[tokio::test]
async fn each_caller_session_is_an_upstream_session_and_its_requests_pass_as_they_came() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "alice", "alice-credential");
    let http = reqwest::Client::new();
    let ours = [open(&http, &gateway, &jwt).await, open(&http, &gateway, &jwt).await];

    // The caller's own progress token reaches the upstream, and its progress comes back with it
    // (a proxy in between would have put a token of its own upstream).
    let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "slow", "arguments": { "steps": 2, "delay_ms": 1 },
        "_meta": { "progressToken": "alice-token-7" } } });
    let post = reqwest::Method::POST;
    let answered = request(&http, post, &gateway, &jwt, Some(&ours[1]), Some(call.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let body = answered.text().await.unwrap();
    assert_eq!(answer_text(&answer(&body, 7)), "done", "{body}");
    let progress = body.matches(r#""progressToken":"alice-token-7""#).count();
    assert_eq!(progress, 2, "{body}");

    let seen = upstream.seen();
    let theirs = upstream_sessions(&seen);
    assert_eq!(theirs.len(), 2, "one upstream session per caller session: {seen:?}");
    assert!(ours.iter().all(|id| !theirs.contains(id)), "a client id reached the upstream");
    let forwarded: Vec<_> = seen.iter().filter(|r| r.body.contains("alice-token-7")).collect();
    assert_eq!(forwarded.len(), 1, "{seen:?}");
    assert_eq!(serde_json::from_str::<Value>(&forwarded[0].body).unwrap(), call);
    assert_eq!(forwarded[0].values("mcp-session-id"), [theirs[1].as_str()]);
    assert_eq!(forwarded[0].values("authorization"), ["Bearer alice-credential"]);
}

#[tokio::test]
async fn delete_ends_the_upstream_session_and_another_users_id_is_404() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let (alice, bob) = (
        token_embedding(&gateway, "alice", "alice-credential"),
        token_embedding(&gateway, "bob", "bob-credential"),
    );
    let http = reqwest::Client::new();
    let session = open(&http, &gateway, &alice).await;
    let ping = json!({ "jsonrpc": "2.0", "id": 2, "method": "ping" });

    let stolen = request(&http, reqwest::Method::POST, &gateway, &bob, Some(&session), Some(ping))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 404);
    assert_eq!(stolen.json::<Value>().await.unwrap()["error"]["code"], -32001);

    let delete = reqwest::Method::DELETE;
    let deleted = request(&http, delete.clone(), &gateway, &alice, Some(&session), None);
    assert_eq!(deleted.send().await.unwrap().status(), 200);
    let seen = upstream.seen();
    let theirs = upstream_sessions(&seen);
    let ended: Vec<_> = seen.iter().filter(|r| r.method == "DELETE").collect();
    assert_eq!(ended.len(), 1, "{seen:?}");
    assert_eq!(ended[0].values("mcp-session-id"), [theirs[0].as_str()]);
    assert_eq!(ended[0].values("authorization"), ["Bearer alice-credential"]);
    assert!(seen.iter().all(|r| r.values("authorization") != ["Bearer bob-credential"]));

    let again = request(&http, delete, &gateway, &alice, Some(&session), None);
    assert_eq!(again.send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_session_the_upstream_forgot_is_404_so_the_client_starts_a_new_one() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "erin", "erin-credential");
    let http = reqwest::Client::new();
    let session = open(&http, &gateway, &jwt).await;
    upstream.forget_sessions().await;

    let ping = json!({ "jsonrpc": "2.0", "id": 3, "method": "ping" });
    let post = reqwest::Method::POST;
    for _ in 0..2 {
        let gone = request(&http, post.clone(), &gateway, &jwt, Some(&session), Some(ping.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 404);
        let error = gone.json::<Value>().await.unwrap()["error"].clone();
        assert_eq!(error, json!({ "code": -32001, "message": "Session not found" }));
    }
    // Asked once: the second 404 is the gateway's, which forgot the session.
    let pings = upstream.seen().iter().filter(|r| r.body.contains(r#""ping""#)).count();
    assert_eq!(pings, 1);
    let fresh = open(&http, &gateway, &jwt).await;
    assert_ne!(fresh, session);
}

#[tokio::test]
async fn the_get_stream_is_the_upstream_sessions_and_a_get_without_a_session_is_refused() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "gus", "gus-credential");
    let http = reqwest::Client::new();
    let session = open(&http, &gateway, &jwt).await;

    let get = reqwest::Method::GET;
    let stream = request(&http, get.clone(), &gateway, &jwt, Some(&session), None)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let seen = upstream.seen();
    let gets: Vec<_> = seen.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(gets.len(), 1, "{seen:?}");
    assert_eq!(gets[0].values("mcp-session-id"), [upstream_sessions(&seen)[0].as_str()]);
    assert_eq!(gets[0].values("authorization"), ["Bearer gus-credential"]);
    drop(stream);

    let without = request(&http, get, &gateway, &jwt, None, None)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    // rmcp's upstream refuses it with a plain-text 400: the caller gets the 400, in JSON-RPC.
    assert_eq!(without.status(), 400);
    let error = without.json::<Value>().await.unwrap()["error"].clone();
    let message = "the upstream server refused the request (HTTP 400)";
    assert_eq!(error, json!({ "code": -32600, "message": message }));
}
