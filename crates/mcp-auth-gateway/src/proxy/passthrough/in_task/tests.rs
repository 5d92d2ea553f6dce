//! The in-task client against real upstreams on loopback: a hyper server that records which
//! connection each request came on, and raw sockets for what a well-behaved server never does.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::ConnectInfo, routing::post};
use futures::StreamExt as _;
use http::{HeaderMap, Method};
use http_body_util::BodyExt as _;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpListener,
    sync::{Barrier, oneshot},
};

use super::InTaskClient;

/// Client ports the upstream has seen, one per connection, in order of first request.
type Peers = Arc<Mutex<Vec<u16>>>;

/// An upstream answering every POST with its body; records each request's client port.
async fn echo_upstream() -> (url::Url, Peers) {
    let peers = Peers::default();
    let seen = peers.clone();
    let app = Router::new().route(
        "/mcp",
        post(move |ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes| async move {
            let mut seen = seen.lock().unwrap();
            if !seen.contains(&peer.port()) {
                seen.push(peer.port());
            }
            body
        }),
    );
    (serve(app).await, peers)
}

async fn serve(app: Router) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/mcp").parse().unwrap()
}

async fn post_and_read(client: &InTaskClient, body: &'static str) -> Bytes {
    let answer =
        client.send(Method::POST, &HeaderMap::new(), &Bytes::from_static(body.as_bytes())).await;
    let answer = answer.expect("an answer");
    assert_eq!(answer.status(), 200);
    answer.into_body().collect().await.expect("the whole body").to_bytes()
}

#[tokio::test]
async fn requests_one_after_another_share_one_connection() {
    let (url, peers) = echo_upstream().await;
    let client = InTaskClient::for_url(&url).unwrap();
    for body in ["one", "two", "three"] {
        assert_eq!(post_and_read(&client, body).await, body);
    }
    assert_eq!(peers.lock().unwrap().len(), 1, "one connection for three requests");
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_is_replaced() {
    // Answers one request per connection and, when told, closes it without having said so (no
    // `Connection: close`), as a server does whose keep-alive timeout has passed.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: url::Url = format!("http://{}/mcp", listener.local_addr().unwrap()).parse().unwrap();
    let (close_tx, mut close) = tokio::sync::mpsc::unbounded_channel::<oneshot::Sender<()>>();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = vec![0; 4096];
            let mut read = 0;
            while !request[..read].ends_with(b"ping") {
                read += socket.read(&mut request[read..]).await.unwrap();
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong";
            socket.write_all(answer).await.unwrap();
            let Some(closed) = close.recv().await else { return };
            drop(socket);
            closed.send(()).unwrap();
        }
    });
    let client = InTaskClient::for_url(&url).unwrap();
    assert_eq!(post_and_read(&client, "ping").await, "pong");
    assert_eq!(client.idle.lock().unwrap().conns.len(), 1, "the connection waits in the pool");
    let (closed_tx, closed) = oneshot::channel();
    close_tx.send(closed_tx).unwrap();
    closed.await.unwrap();
    let second = tokio::spawn(async move { post_and_read(&client, "ping").await });
    // The second connection is closed too once it has answered, so that the server ends.
    let (closed_tx, closed) = oneshot::channel();
    close_tx.send(closed_tx).unwrap();
    assert_eq!(second.await.unwrap(), "pong", "sent on a new connection");
    closed.await.unwrap();
}

#[tokio::test]
async fn idle_connections_are_bounded() {
    let arrived = Arc::new(Barrier::new(5));
    let app = Router::new().route(
        "/mcp",
        post(move || {
            let arrived = arrived.clone();
            // All five are in flight at once, so each has its own connection.
            async move {
                arrived.wait().await;
                "ok"
            }
        }),
    );
    let url = serve(app).await;
    let client = InTaskClient::with_max_idle(&url, 2).unwrap();
    let calls = (0..5).map(|_| post_and_read(&client, "x"));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|answer| answer == "ok"));
    assert_eq!(client.idle.lock().unwrap().conns.len(), 2, "five came back, two are kept");
}

#[tokio::test]
async fn dropping_an_unread_answer_closes_its_connection() {
    let (dropped_tx, dropped) = oneshot::channel::<()>();
    let dropped_tx = Arc::new(Mutex::new(Some(dropped_tx)));
    let app = Router::new().route(
        "/mcp",
        post(move || {
            let guard = StreamDropped(dropped_tx.lock().unwrap().take());
            // An answer that never ends: a chunk every 10 ms for as long as it is read.
            let ticks = futures::stream::unfold(guard, |guard| async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b"data: {}\n\n")), guard))
            });
            async move { axum::body::Body::from_stream(ticks) }
        }),
    );
    let url = serve(app).await;
    let client = InTaskClient::for_url(&url).unwrap();
    let answer =
        client.send(Method::POST, &HeaderMap::new(), &Bytes::new()).await.expect("an answer");
    let mut chunks = answer.into_body().into_data_stream();
    chunks.next().await.expect("a first chunk").expect("data");
    drop(chunks);
    tokio::time::timeout(Duration::from_secs(10), dropped)
        .await
        .expect("the upstream sees the caller go within 10 s")
        .expect("dropped once");
    assert!(client.idle.lock().unwrap().conns.is_empty(), "a half-read connection is not reused");
}

/// Reports when the upstream's answer stream is dropped (its connection went away).
struct StreamDropped(Option<oneshot::Sender<()>>);

impl Drop for StreamDropped {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}
