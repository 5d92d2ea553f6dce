//! `Host` and `Origin` hygiene, over raw HTTP/1.1 where a client library would tidy the request
//! up: two `Host` lines or a `Host` with userinfo is a `400` (RFC 9110 §7.2), and same-origin
//! means same scheme too (RFC 6454 §5), so an `https` origin is not this plain-http server.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::app::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends `head` (request line and header lines, without the blank line) with a small JSON body,
/// and returns the status code and the body.
async fn raw_post(app: &App, head: &str) -> (u16, String) {
    let addr = app.base.trim_start_matches("http://");
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let request = format!(
        "{head}\r\ncontent-type: application/json\r\naccept: application/json, \
         text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the server answers within 10 s");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn port(app: &App) -> &str {
    app.base.rsplit(':').next().unwrap()
}

fn bad_request(reason: &str) -> Value {
    json!({ "jsonrpc": "2.0", "error": { "code": -32600, "message": reason }, "id": null })
}

#[tokio::test]
async fn two_host_headers_get_400_in_either_order() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    for hosts in [
        format!("host: 127.0.0.1:{port}\r\nhost: evil.example.test"),
        format!("host: evil.example.test\r\nhost: 127.0.0.1:{port}"),
        format!("host: 127.0.0.1:{port}\r\nhost: 127.0.0.1:{port}"),
    ] {
        let (status, body) = raw_post(&app, &format!("POST /mcp HTTP/1.1\r\n{hosts}")).await;
        assert_eq!(status, 400, "{hosts:?}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, bad_request("Bad Request: more than one Host header"));
    }
}

#[tokio::test]
async fn a_host_with_userinfo_or_a_malformed_authority_gets_400() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    for host in [
        format!("127.0.0.1:{port}@evil.example.test"),
        format!("evil.example.test@127.0.0.1:{port}"),
        format!("127.0.0.1:{port}:{port}"),
        "127.0.0.1:http".to_owned(),
        "127.0.0.1:99999".to_owned(),
        "[::1".to_owned(),
    ] {
        let (status, body) = raw_post(&app, &format!("POST /mcp HTTP/1.1\r\nhost: {host}")).await;
        assert_eq!(status, 400, "{host:?}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, bad_request("Bad Request: malformed Host header"), "{host:?}");
    }
}

#[tokio::test]
async fn a_host_that_contradicts_an_absolute_request_target_gets_400() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    let head = format!("POST http://evil.example.test/mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}");
    let (status, body) = raw_post(&app, &head).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, bad_request("Bad Request: Host does not match the request target"));

    // The same target and Host agreeing is an ordinary request (401: it has no token).
    let head = format!("POST http://127.0.0.1:{port}/mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}");
    assert_eq!(raw_post(&app, &head).await.0, 401);
}

#[tokio::test]
async fn a_single_well_formed_loopback_host_passes_the_guard() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    // Past the guard, the missing token is what refuses these.
    // `localhost:` has an empty port, which RFC 3986 allows (the fuzzer's `http_headers` found
    // it refused with 400).
    let hosts = [format!("127.0.0.1:{port}"), format!("LOCALHOST:{port}"), "localhost".into()];
    for host in hosts.into_iter().chain(["localhost:".to_owned()]) {
        let (status, _) = raw_post(&app, &format!("POST /mcp HTTP/1.1\r\nhost: {host}")).await;
        assert_eq!(status, 401, "{host:?}");
    }
}

#[tokio::test]
async fn an_https_origin_is_not_the_same_origin_as_a_plain_http_server() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    let token = token_for("alice");
    let post = |origin: String, forwarded_proto: Option<&str>| {
        let mut request = reqwest::Client::new()
            .post(&app.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("origin", origin)
            .bearer_auth(&token)
            .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
                "protocolVersion":"2025-11-25","capabilities":{},
                "clientInfo":{"name":"t","version":"1"}}}));
        if let Some(proto) = forwarded_proto {
            request = request.header("x-forwarded-proto", proto);
        }
        async move { request.send().await.unwrap() }
    };

    let response = post(format!("https://127.0.0.1:{port}"), None).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"jsonrpc":"2.0","error":{"code":-32000,"message":"Forbidden: Origin is not allowed"},"id":null})
    );
    assert_eq!(post(format!("http://127.0.0.1:{port}"), None).await.status(), 200);

    // Behind a TLS-terminating proxy that says so, the browser's https origin is ours...
    let proxied = post(format!("https://127.0.0.1:{port}"), Some("https")).await;
    assert_eq!(proxied.status(), 200);
    // ...and then the plain-http origin is not.
    assert_eq!(post(format!("http://127.0.0.1:{port}"), Some("https")).await.status(), 403);

    for foreign in [
        format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap().wrapping_add(1)),
        format!("http://127.0.0.1:{port}/mcp"),
        format!("http://user@127.0.0.1:{port}"),
        "null".to_owned(),
    ] {
        assert_eq!(post(foreign.clone(), None).await.status(), 403, "{foreign}");
    }
}

#[tokio::test]
async fn a_default_port_in_the_origin_matches_a_host_without_one() {
    let app = App::start(|b| b).await;
    for (origin, expected) in
        [("http://localhost:80", 401), ("http://localhost", 401), ("https://localhost", 403)]
    {
        let head = format!("POST /mcp HTTP/1.1\r\nhost: localhost\r\norigin: {origin}");
        assert_eq!(raw_post(&app, &head).await.0, expected, "{origin}");
    }
}

#[tokio::test]
async fn two_origin_headers_get_400() {
    let app = App::start(|b| b).await;
    let port = port(&app);
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\norigin: http://127.0.0.1:{port}\r\n\
         origin: https://evil.example.test"
    );
    let (status, body) = raw_post(&app, &head).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, bad_request("Bad Request: more than one Origin header"));
}
