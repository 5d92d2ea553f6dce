//! Slow and idle connections cannot take `WrappedServer::serve` down: beyond the connection cap a
//! new connection displaces the one idle longest (a slowloris head, a keep-alive connection
//! between requests), never one with a request in flight, and is refused only when every
//! connection is busy; partial headers, silent connections, idle keep-alive connections and
//! trickling bodies are cut off; and the peer address still reaches the auth provider.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mcp_auth::{auth::AnonymousLoopbackProvider, http::HttpOptions};
use serde_json::{Value, json};
use support::{app::*, poll_until};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

/// How long the server gets to do what it must; a failure criterion, not a measurement.
const DEADLINE: Duration = Duration::from_secs(10);

/// A request head cut off in the middle of a header: what a slowloris client sends.
const PARTIAL_HEAD: &[u8] = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applica";

async fn start(options: HttpOptions) -> App {
    App::start(|builder| builder.http(options)).await
}

fn addr(app: &App) -> &str {
    app.base.trim_start_matches("http://")
}

/// Reads until the server closes the connection (EOF or reset); returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Like [`read_until_closed`], failing the test if the server keeps the connection open.
async fn closed_by_server(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    timeout(DEADLINE, read_until_closed(stream))
        .await
        .unwrap_or_else(|_| panic!("the server did not close {what} within {DEADLINE:?}"))
}

/// Polls `done` every 10 ms, failing after [`DEADLINE`].
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// File descriptors of this process, which is both the server and its clients.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// A `GET /mcp/health` on a new connection; the response head and body.
async fn health_on_new_connection(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = "GET /mcp/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let _ = stream.write_all(request.as_bytes()).await;
    String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned()
}

/// An authenticated `POST /mcp` announcing `length` body bytes, and the first of them.
fn authenticated_post_head(length: usize) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {length}\r\n\r\n{{",
        token_for("alice")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_beyond_the_cap_displaces_idle_connections_and_new_clients_are_served() {
    let options = HttpOptions::default()
        .with_max_connections(200)
        .with_header_read_timeout(Duration::from_secs(60));
    let app = start(options).await;
    let health = format!("{}/health", app.url);
    let token = token_for("alice");
    let body = stateless_call(1, "echo", json!({ "text": "still here" }), None);
    let fds_before = open_fds();

    let closed = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    let attack_started = Instant::now();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        // A displaced connection may already be closed: the write then fails, which is fine.
        let _ = stream.write_all(PARTIAL_HEAD).await;
        let closed = closed.clone();
        attackers.push(tokio::spawn(async move {
            read_until_closed(&mut stream).await;
            closed.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // 200 slots: each connection beyond them displaced the one idle longest, an older attacker.
    wait_for("attack connections beyond the cap to be closed", || {
        closed.load(Ordering::SeqCst) >= 800
    })
    .await;
    let displaced_in = attack_started.elapsed();
    let peak_fds = open_fds();

    // A client arriving now, on new connections (a load balancer's health check, a new user),
    // is served: it displaces an attacker, never the other way round.
    let asked = Instant::now();
    let response = timeout(Duration::from_secs(5), reqwest::Client::new().get(&health).send())
        .await
        .expect("health answers within 5 s during the attack")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"status":"ok"}"#);
    let health_took = asked.elapsed();

    let asked = Instant::now();
    let user = reqwest::Client::new();
    let call = stateless_request(&user, &app.url, Some(&token), "echo", &body).send();
    let response = timeout(Duration::from_secs(5), call)
        .await
        .expect("a tool call answers within 5 s during the attack")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("still here"));
    let call_took = asked.elapsed();

    // The attackers inside the cap are still held (their header timeout is 60 s), less the
    // two the new clients displaced. (A newcomer whose displaced connection has not let go
    // within a second is refused, so a busy machine may close a few more.)
    let closed = closed.load(Ordering::SeqCst);
    assert!((800..=850).contains(&closed), "{closed} attack connections closed");
    let server_fds = peak_fds.saturating_sub(fds_before + (1000 - closed));
    eprintln!(
        "1000 slowloris connections, cap 200: {closed} displaced within {displaced_in:?}; \
         {peak_fds} fds at peak ({fds_before} before), {server_fds} of them the server's \
         connections; health on a new connection took {health_took:?}, a call {call_took:?}"
    );
    for attacker in attackers {
        attacker.abort();
    }
}

#[tokio::test]
async fn a_connection_that_sends_partial_headers_is_closed_after_the_header_read_timeout() {
    let app = start(HttpOptions::default().with_header_read_timeout(Duration::from_secs(1))).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream.write_all(PARTIAL_HEAD).await.unwrap();
    let received = closed_by_server(&mut stream, "a connection with partial headers").await;
    assert_eq!(String::from_utf8_lossy(&received), "", "closed without an answer");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let app = start(HttpOptions::default().with_header_read_timeout(Duration::from_secs(1))).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let received = closed_by_server(&mut stream, "a silent connection").await;
    assert_eq!(String::from_utf8_lossy(&received), "", "closed without an answer");
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = start(HttpOptions::default().with_header_read_timeout(Duration::from_secs(1))).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream.write_all(b"GET /mcp/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let received = closed_by_server(&mut stream, "an idle keep-alive connection").await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"), "{received}");
    assert!(received.ends_with(r#"{"status":"ok"}"#), "one response, then the close: {received}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_keep_alive_timeout() {
    // A long header-read timeout: the close must come from the keep-alive timeout.
    let options = HttpOptions::default()
        .with_keep_alive_timeout(Duration::from_secs(1))
        .with_header_read_timeout(Duration::from_secs(60));
    let app = start(options).await;
    let stream = TcpStream::connect(addr(&app)).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = axum::http::Request::get(format!("{}/health", app.url)).body(Body::empty());
    let response = sender.send_request(request.unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), axum::http::Version::HTTP_2);
    drop(response);
    // The client keeps its handle: the server is the one that ends the connection.
    let ended = timeout(DEADLINE, connection).await;
    let ended = ended.expect("the server closed the idle HTTP/2 connection").unwrap();
    assert!(ended.is_ok(), "closed with GOAWAY, not an error: {ended:?}");
    drop(sender);
}

#[tokio::test]
async fn an_open_sse_stream_is_not_cut_by_the_idle_timeouts() {
    let options = HttpOptions::default()
        .with_keep_alive_timeout(Duration::from_secs(1))
        .with_header_read_timeout(Duration::from_secs(1))
        .with_sse_keep_alive(Duration::from_millis(200));
    let app = start(options).await;
    let response = reqwest::Client::new()
        .get(format!("{}/sse", app.url))
        .header("accept", "text/event-stream")
        .bearer_auth(token_for("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Keep-alive comments keep arriving well past both timeouts (1 s each).
    let opened = Instant::now();
    let mut stream = response.bytes_stream();
    let past_the_timeouts = async {
        use futures::StreamExt;
        while opened.elapsed() < Duration::from_secs(3) {
            let chunk = stream.next().await.expect("the stream is still open");
            chunk.expect("the stream is still open");
        }
    };
    timeout(DEADLINE, past_the_timeouts).await.expect("the stream keeps delivering");
}

#[tokio::test]
async fn a_request_body_that_trickles_gets_408_after_the_body_timeout() {
    let options = HttpOptions::default().with_request_body_timeout(Duration::from_secs(1));
    let app = start(options).await;
    let head = authenticated_post_head(100_000);
    let stream = TcpStream::connect(addr(&app)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    // One byte every 100 ms: 100 000 bytes would take almost three hours.
    let trickle = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        loop {
            every.tick().await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut received = Vec::new();
    let read_all = read.read_to_end(&mut received);
    let _ = timeout(DEADLINE, read_all).await.expect("the server answered and closed");
    trickle.abort();

    let received = String::from_utf8_lossy(&received);
    let (head, body) = received.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("\r\nconnection: close"), "{head}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32600, "message": "Request body not received within 1 s" } })
    );
}

#[tokio::test]
async fn over_the_cap_a_new_connection_displaces_the_one_idle_longest() {
    let options = HttpOptions::default()
        .with_max_connections(20)
        .with_header_read_timeout(Duration::from_secs(60));
    let app = start(options).await;
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        stream.write_all(PARTIAL_HEAD).await.unwrap();
        slow.push(stream);
    }
    // The server accepts in order: the 21st connection finds the cap full, and the first
    // slowloris connection makes way for it.
    let answered = timeout(DEADLINE, health_on_new_connection(addr(&app)))
        .await
        .expect("over the cap, a new connection is served");
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert!(answered.ends_with(r#"{"status":"ok"}"#), "{answered}");
    assert_eq!(closed_by_server(&mut slow[0], "the oldest idle connection").await, b"");
    let mut buf = [0u8; 1];
    for (i, stream) in slow.iter().enumerate().skip(1) {
        let still_open = matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(still_open, "slow connection {i} was closed too");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_one_is_refused_until_one_ends() {
    let options = HttpOptions::default()
        .with_max_connections(20)
        .with_sse_keep_alive(Duration::from_millis(200));
    let app = start(options).await;
    // Twenty open legacy SSE streams: twenty requests in flight, none of them idle.
    let mut streams = Vec::new();
    for _ in 0..20 {
        let response = reqwest::Client::new()
            .get(format!("{}/sse", app.url))
            .header("accept", "text/event-stream")
            .bearer_auth(token_for("alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        streams.push(SseReader::new(response));
    }
    let refused = timeout(DEADLINE, health_on_new_connection(addr(&app)))
        .await
        .expect("over the cap with every connection busy, a new one is closed at once");
    assert_eq!(refused, "", "closed without an answer");
    for stream in &mut streams {
        let event = timeout(DEADLINE, stream.next()).await.expect("the stream keeps delivering");
        assert!(event.is_some(), "a busy connection was closed");
    }

    streams.pop();
    let answered = poll_until("a slot to free up", DEADLINE, async || {
        let response = health_on_new_connection(addr(&app)).await;
        (!response.is_empty()).then_some(response)
    })
    .await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
}

#[tokio::test]
async fn shutdown_drops_a_connection_still_busy_after_the_grace_period() {
    let options = HttpOptions::default()
        .with_request_body_timeout(Duration::from_secs(600))
        .with_shutdown_grace_period(Duration::from_secs(1));
    let observed = support::server::Observed::default();
    let server = mcp_auth::wrap_server(observed.factory())
        .auth_provider(jwt_provider())
        .http(options)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    // A request whose body never completes: the handler waits for it for ten minutes.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(authenticated_post_head(1000).as_bytes()).await.unwrap();
    wait_for("the request to reach its instance", || {
        observed.instances.load(Ordering::SeqCst) == 1
    })
    .await;

    server.shutdown();
    let served = timeout(DEADLINE, serving).await.expect("serve returns after the grace period");
    served.unwrap().unwrap();
    closed_by_server(&mut stream, "the busy connection").await;
}

#[tokio::test]
async fn a_large_body_within_the_size_limit_is_still_served() {
    // Larger than the 64 KiB read buffer that bounds a request head.
    let app = start(HttpOptions::default()).await;
    let text = "x".repeat(1024 * 1024);
    let body = stateless_call(1, "echo", json!({ "text": text }), None);
    let http = reqwest::Client::new();
    let response = stateless_request(&http, &app.url, Some(&token_for("alice")), "echo", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains(&text));
}

#[tokio::test]
async fn the_peer_address_still_reaches_the_auth_provider() {
    // This provider admits loopback peers only, and refuses when the peer is unknown.
    let anonymous = AnonymousLoopbackProvider::new("local").unwrap();
    let app = App::start(|builder| builder.auth_provider(anonymous)).await;
    let body = stateless_call(1, "whoami", json!({}), None);
    let http = reqwest::Client::new();
    let response = stateless_request(&http, &app.url, None, "whoami", &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("local"));
}

#[tokio::test]
async fn zero_limits_are_refused_with_the_key_named() {
    use mcp_auth::wrap_server;
    let build = |options: HttpOptions| {
        wrap_server(support::server::Observed::default().factory())
            .auth_provider(jwt_provider())
            .http(options)
            .build()
            .err()
            .map(|error| error.key)
    };
    let zero = Duration::ZERO;
    let cases = [
        (HttpOptions::default().with_max_connections(0), "transport.max_connections"),
        (HttpOptions::default().with_header_read_timeout(zero), "transport.header_read_timeout"),
        (HttpOptions::default().with_keep_alive_timeout(zero), "transport.keep_alive_timeout"),
        (HttpOptions::default().with_request_body_timeout(zero), "transport.request_body_timeout"),
    ];
    for (options, key) in cases {
        assert_eq!(build(options).as_deref(), Some(key));
    }
}
