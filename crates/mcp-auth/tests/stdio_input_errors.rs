//! stdio answers input it cannot use instead of dropping it: a line that is not JSON gets a
//! `-32700` Parse error, JSON that is not a JSON-RPC message a `-32600` Invalid Request, a line
//! over the 4 MiB limit a `-32600` without being buffered; the session carries on after each.
//! What would answer an answer (an echoed error response) is not answered, so two peers cannot
//! ping-pong errors.

mod support;

use std::time::Duration;

use mcp_auth::{EnvAuthProvider, wrap_server};
use serde_json::{Value, json};
use support::server::Observed;
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};

/// The client end of a stdio session with a wrapped server for `carol`.
struct Peer {
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    write: WriteHalf<DuplexStream>,
}

impl Peer {
    async fn start() -> Self {
        let server = wrap_server(Observed::default().factory())
            .auth_provider(EnvAuthProvider::fixed("carol").unwrap())
            .build()
            .unwrap();
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let (read, write) = tokio::io::split(server_io);
        tokio::spawn(async move { server.serve_io(read, write).await });
        let (read, write) = tokio::io::split(client_io);
        Self { lines: BufReader::new(read).lines(), write }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.unwrap();
        self.write.flush().await.unwrap();
    }

    /// The next line the server writes, as JSON; fails after 10 s.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("the server answers within 10 s")
            .unwrap()
            .expect("the server keeps the stream open");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Sends `initialize` with `id` and checks that its result comes back next.
    async fn initializes(&mut self, id: u64) {
        let init = json!({"jsonrpc":"2.0","id":id,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"t","version":"1"}}});
        self.send_raw(format!("{init}\n").as_bytes()).await;
        let reply = self.next().await;
        assert_eq!(reply["id"], id, "{reply}");
        assert!(reply["result"]["serverInfo"].is_object(), "{reply}");
    }
}

fn error(code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } })
}

#[tokio::test]
async fn a_line_that_is_not_json_gets_a_parse_error_and_the_session_goes_on() {
    let mut peer = Peer::start().await;
    peer.send_raw(b"not json\n").await;
    assert_eq!(peer.next().await, error(-32700, "Parse error"));
    peer.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":\n").await;
    assert_eq!(peer.next().await, error(-32700, "Parse error"));
    peer.send_raw(b"\xff\xfe\r\n").await;
    assert_eq!(peer.next().await, error(-32700, "Parse error"));
    peer.initializes(1).await;
}

#[tokio::test]
async fn json_that_is_not_a_json_rpc_message_gets_invalid_request() {
    let mut peer = Peer::start().await;
    for line in ["42", r#"{"hello":"world"}"#, "[]", r#"{"jsonrpc":"2.0","id":7}"#] {
        peer.send_raw(format!("{line}\n").as_bytes()).await;
        assert_eq!(peer.next().await, error(-32600, "Invalid Request"), "{line}");
    }
    peer.initializes(1).await;
}

#[tokio::test]
async fn a_line_over_4_mib_gets_invalid_request_and_is_skipped() {
    let mut peer = Peer::start().await;
    // 5 MiB without a newline, written in pieces: the server answers once the line passes the
    // limit and discards the rest as it arrives.
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..80 {
        peer.send_raw(&chunk).await;
    }
    peer.send_raw(b"\n").await;
    assert_eq!(
        peer.next().await,
        error(-32600, "Invalid Request: message longer than 4194304 bytes")
    );
    peer.initializes(1).await;
}

#[tokio::test]
async fn blank_lines_echoed_errors_and_foreign_notifications_get_no_answer() {
    let mut peer = Peer::start().await;
    peer.initializes(1).await;
    peer.send_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await;
    let echoed = error(-32700, "Parse error").to_string();
    let echoed_invalid = r#"{"jsonrpc":"2.0","id":null,"error":{"code":"x"}}"#;
    let foreign_notification = r#"{"jsonrpc":"2.0","method":"$/lsp/thing"}"#;
    for line in ["", "  ", &echoed, echoed_invalid, foreign_notification] {
        peer.send_raw(format!("{line}\n").as_bytes()).await;
    }
    // The next thing the server writes is the ping's result: nothing above was answered.
    peer.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n").await;
    assert_eq!(peer.next().await, json!({ "jsonrpc": "2.0", "id": 2, "result": {} }));
}
