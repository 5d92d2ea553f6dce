//! `WrappedServer::serve` turns Nagle's algorithm off on every accepted connection. With it on,
//! a keep-alive client that sends a request in two writes (headers, then body, as Python's
//! `http.client` does) waited ~40 ms on every other request for the server's delayed ACK, and
//! so did SSE answers written in several pieces: measured with wrk and `mcp-auth demo`, 43 ms
//! p50 instead of 0.5 ms. Timing is the benchmarks' job (bench/); this test reads the socket
//! option itself, on the server's end of a connection, which lives in this process.

mod support;

use std::{
    io::{Read as _, Write as _},
    mem::ManuallyDrop,
    net::{SocketAddr, TcpStream},
    os::fd::FromRawFd as _,
};

use support::app::App;

/// `TCP_NODELAY` of this process's socket whose peer is `client`, if one is found.
fn server_side_nodelay(client: SocketAddr) -> Option<bool> {
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: the descriptor is only borrowed (never closed: ManuallyDrop); on a descriptor
        // that is not a TCP socket the calls below fail harmlessly.
        let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        if socket.peer_addr().ok() == Some(client) && socket.local_addr().ok() != Some(client) {
            return socket.nodelay().ok();
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_connection_has_nagle_off() {
    let app = App::start(|builder| builder).await;
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let client = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        // A whole exchange, so the server has accepted the connection and set it up.
        stream.write_all(b"GET /mcp/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the server closed the connection");
            seen.extend_from_slice(&buf[..n]);
        }
        assert!(seen.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&seen));
        stream
    })
    .await
    .unwrap();
    let nodelay = server_side_nodelay(client.local_addr().unwrap());
    assert_eq!(nodelay, Some(true), "the server's end of the connection keeps Nagle on");
}
