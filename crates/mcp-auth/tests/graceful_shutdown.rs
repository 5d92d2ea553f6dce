//! `WrappedServer::shutdown` during `serve`: new connections are refused at once, a session's
//! GET stream (which answers no request) ends at once, and a tool call in flight is answered
//! before `serve` returns.

mod support;

use serde_json::json;
use support::{DEADLINE, app::*, poll_until, server::Observed};
use tokio::time::timeout;

#[tokio::test]
async fn a_call_in_flight_at_shutdown_is_answered_and_only_then_does_serve_return() {
    let observed = Observed::default();
    let server =
        mcp_auth::wrap_server(observed.factory()).auth_provider(jwt_provider()).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/mcp");
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let http = reqwest::Client::new();
    let token = token_for("alice");

    // Alice's session with its GET stream open, and her `hold` call in flight (its progress
    // event received: the tool is running).
    let session = open_session(&http, &url, &token).await;
    let stream = in_session(http.get(&url), &token, &session)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut stream = SseReader::new(stream);
    let body = stateless_call(1, "hold", json!({}), Some("held"));
    let call = stateless_request(&http, &url, Some(&token), "hold", &body).send().await.unwrap();
    assert_eq!(call.status(), 200);
    let mut call = SseReader::new(call);
    let (_, progress) = call.next().await.expect("the progress event");
    assert!(progress.contains("notifications/progress"), "{progress}");

    server.shutdown();

    // The GET stream ends: it would hold its connection for the whole grace period.
    let ended = timeout(DEADLINE, stream.next()).await.expect("the GET stream ends at shutdown");
    assert_eq!(ended, None);
    // No new connection is accepted.
    poll_until("new connections to be refused", DEADLINE, async || {
        tokio::net::TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
    assert!(!serving.is_finished(), "serve returned with a call in flight");

    // The call finishes, and its caller gets the answer.
    observed.release.notify_waiters();
    let (_, answer) = timeout(DEADLINE, call.next()).await.unwrap().expect("the answer");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["content"][0]["text"], "released", "{answer}");
    let served = timeout(DEADLINE, serving).await.expect("serve returns once it is answered");
    served.unwrap().unwrap();
}

#[tokio::test]
async fn serving_the_router_yourself_close_ends_what_is_still_in_flight() {
    let observed = Observed::default();
    let server =
        mcp_auth::wrap_server(observed.factory()).auth_provider(jwt_provider()).build().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let app = server.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let body = stateless_call(1, "hold", json!({}), Some("held"));
    let call = stateless_request(&http, &url, Some(&token_for("alice")), "hold", &body);
    let mut call = SseReader::new(call.send().await.unwrap());
    let (_, progress) = call.next().await.expect("the progress event");
    assert!(progress.contains("notifications/progress"), "{progress}");

    // `shutdown` alone leaves the call to finish; `close` is the end.
    server.shutdown();
    server.close().await;
    let ended = timeout(DEADLINE, call.next()).await.expect("the call's stream ends at close");
    assert_eq!(ended, None, "no answer: the call was cut");
}
