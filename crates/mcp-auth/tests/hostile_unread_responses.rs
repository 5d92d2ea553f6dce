//! A client that sends large requests and never reads the answers cannot grow the server without
//! bound: once its unread answers reach `max_unread_response_bytes_per_user`, its next request
//! gets `429`, other users are served, and the bytes are given back when its sockets close — or
//! when the server closes a connection that made no write progress for the write timeout. The
//! answers are plain JSON, one frame each: the body must not end while that frame is unread.

mod support;

use std::time::Duration;

use mcp_auth::{Limits, http::HttpOptions};
use serde_json::json;
use support::{DEADLINE, app::*, poll_until};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

const CAP: usize = 8 * 1024 * 1024;
const ECHO_BYTES: usize = 3 * 1024 * 1024;

/// Sends one large `echo` on a fresh connection whose receive buffer is tiny, and never reads
/// the answer. Returns the connection, to keep it open.
async fn unread_echo(addr: std::net::SocketAddr, token: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let body = stateless_call(1, "echo", json!({ "text": "x".repeat(ECHO_BYTES) }), None);
    let body = serde_json::to_vec(&body).unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: echo\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    stream
}

#[tokio::test]
async fn unread_answers_are_capped_per_user_and_given_back_when_the_sockets_close() {
    let limits = Limits::default().with_max_unread_response_bytes_per_user(CAP);
    // JSON answers: each is one frame, the case that once went uncounted.
    let json = HttpOptions::default().with_json_response(true);
    let app = App::start(|b| b.limits(limits).http(json)).await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let token = token_for("mallory");
    let http = reqwest::Client::new();
    let echo = |user: &str| {
        let body = stateless_call(1, "echo", json!({ "text": "hi" }), None);
        stateless_request(&http, &app.url, Some(&token_for(user)), "echo", &body).send()
    };

    let mut open = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let refused = loop {
        assert!(tokio::time::Instant::now() < deadline, "never refused; stats {:?}", {
            app.server.stats().await
        });
        // Wait until the server has handed over the last answer before judging the next.
        let before = app.server.stats().await.unread_response_bytes;
        open.push(unread_echo(addr, &token).await);
        let settle = tokio::time::Instant::now() + Duration::from_secs(10);
        while app.server.stats().await.unread_response_bytes <= before
            && tokio::time::Instant::now() < settle
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let response = echo("mallory").await.unwrap();
        if response.status() == 429 {
            break response;
        }
        assert_eq!(response.status(), 200);
        let _ = response.text().await;
        assert!(open.len() <= 20, "20 unread 3 MiB answers and no refusal");
    };
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Too many unread response bytes for this user; read the pending responses first"
    );
    let unread = app.server.stats().await.unread_response_bytes;
    // At most the cap plus the answer that crossed it (each answer is JSON-escaped, ~3 MiB).
    assert!(unread < CAP + 2 * ECHO_BYTES, "{unread} bytes unread");
    assert_eq!(echo("alice").await.unwrap().status(), 200, "other users are served");

    // Closing the sockets gives every byte back, and the user is served again.
    for mut stream in open.drain(..) {
        let _ = stream.shutdown().await;
        drop(stream);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.server.stats().await.unread_response_bytes != 0 {
        assert!(tokio::time::Instant::now() < deadline, "unread bytes were never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = echo("mallory").await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout() {
    let options = HttpOptions::default()
        .with_response_write_timeout(Duration::from_secs(1))
        .with_json_response(true);
    let app = App::start(|b| b.http(options)).await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let stream = unread_echo(addr, &token_for("mallory")).await;
    poll_until("the answer to be handed over and stuck", DEADLINE, async || {
        (app.server.stats().await.unread_response_bytes > 0).then_some(())
    })
    .await;
    // The socket stays open on this side and is never read: only the server can end it.
    poll_until("the stalled connection to be closed", DEADLINE, async || {
        (app.server.stats().await.unread_response_bytes == 0).then_some(())
    })
    .await;
    let mut stream = stream;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closed the connection (EOF or reset)");
    assert!(rest.len() < ECHO_BYTES, "{} bytes arrived: the answer was cut", rest.len());
}
