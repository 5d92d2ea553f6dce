//! `mcp-auth demo --stdio` as a real child process: the identity comes from the environment,
//! stdout carries only JSON-RPC, and logs go to stderr.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn stdio_serves_the_environment_user_with_a_clean_stdout() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["demo", "--stdio"])
        .env("MCP_USER_ID", "carol")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mcp-auth");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();

    let messages = [
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}),
    ];
    for message in &messages {
        stdin.write_all(format!("{message}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();

    let mut whoami = None;
    while whoami.is_none() {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), stdout.next_line())
            .await
            .expect("a reply within 10 s")
            .unwrap()
            .expect("stdout open");
        // Every stdout line must be a JSON-RPC message: a log line here corrupts the protocol.
        let message: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("non-JSON on stdout: {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        if message["id"] == 2 {
            whoami = message["result"]["content"][0]["text"].as_str().map(str::to_owned);
        }
    }
    assert_eq!(whoami.as_deref(), Some("carol"));

    drop(stdin); // end of input ends the session
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    stderr.read_to_string(&mut logs).await.unwrap();
    assert!(logs.contains("serving over stdio"), "logs go to stderr: {logs}");
}
