//! A message body sent in several chunks (HTTP/1.1 chunked transfer coding: one body frame per
//! chunk) is read in full and answered like one sent at once, and the size limit counts all of
//! its chunks.

mod support;

use mcp_auth::http::HttpOptions;
use serde_json::{Value, json};
use support::app::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// POSTs `chunks` as one chunked body to `url` with the 2026-07-28 headers for `tools/call
/// echo`; returns the status and the body of the answer.
async fn post_chunked(url: &str, token: &str, chunks: &[&[u8]]) -> (u16, String) {
    let url = reqwest::Url::parse(url).unwrap();
    let authority = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: {authority}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         mcp-protocol-version: 2026-07-28\r\nmcp-method: tools/call\r\nmcp-name: echo\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        url.path()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
        stream.write_all(chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
        stream.flush().await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    (status, body.to_owned())
}

#[tokio::test]
async fn a_message_in_several_chunks_is_answered_in_full() {
    let app = App::start(|b| b).await;
    let call = stateless_call(1, "echo", json!({"text": "in three parts"}), None).to_string();
    let (a, rest) = call.as_bytes().split_at(call.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let (status, body) = post_chunked(&app.url, &token_for("alice"), &[a, b, c]).await;
    assert_eq!(status, 200, "{body}");
    // The answer itself may come chunked: find the JSON-RPC message in it.
    let json = &body[body.find('{').unwrap()..=body.rfind('}').unwrap()];
    let answer: Value = serde_json::from_str(json).unwrap();
    assert_eq!(answer["result"]["content"][0]["text"], "in three parts", "{answer}");
}

#[tokio::test]
async fn the_size_limit_counts_every_chunk() {
    let app =
        App::start(|b| b.http(HttpOptions::default().with_max_request_body_bytes(1024))).await;
    let chunk = [b' '; 600];
    let (status, body) = post_chunked(&app.url, &token_for("alice"), &[&chunk, &chunk]).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("Request body larger than 1024 bytes"), "{body}");
}
