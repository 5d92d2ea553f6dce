//! `mcp-auth demo --public-url` as a real child process: the printed token's audience is the
//! public URL, requests naming its host are served, and any other host still gets 403.

use std::{process::Stdio, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A public URL whose port differs from the bound one, as behind a reverse proxy.
const PUBLIC_URL: &str = "http://mcp.example.test:8443/mcp";
const SECRET: &str = "demo-public-url-test-secret-of-at-least-32-bytes";

/// What the banner says: the address it listens on and the token it minted.
struct Banner {
    listening: String,
    endpoint: String,
    token: String,
}

async fn read_banner(stdout: tokio::process::ChildStdout) -> Banner {
    let mut lines = BufReader::new(stdout).lines();
    let (mut listening, mut endpoint, mut token) = (None, None, None);
    let mut token_next = false;
    while listening.is_none() || endpoint.is_none() || token.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the banner within 30 s")
            .unwrap()
            .expect("stdout open until the banner is printed");
        if token_next {
            token = Some(line.trim().to_owned());
        }
        token_next = line.starts_with("Token for user");
        if let Some(addr) = line.trim().strip_prefix("listening on ") {
            listening = Some(addr.to_owned());
        }
        if let Some(url) = line.strip_prefix("MCP endpoint: ") {
            endpoint = Some(url.trim().to_owned());
        }
    }
    Banner { listening: listening.unwrap(), endpoint: endpoint.unwrap(), token: token.unwrap() }
}

/// A 2026-07-28 stateless `whoami` call to the bound address, with `Host: host`.
async fn whoami(banner: &Banner, host: &str) -> (u16, String) {
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"whoami","arguments":{},"_meta":{
            "io.modelcontextprotocol/protocolVersion":"2026-07-28",
            "io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"},
            "io.modelcontextprotocol/clientCapabilities":{}}}});
    let response = reqwest::Client::new()
        .post(format!("http://{}/mcp", banner.listening))
        .header("host", host)
        .bearer_auth(&banner.token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .json(&call)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_public_url_names_the_token_audience_and_the_only_extra_host_served() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["demo", "--host", "127.0.0.1", "--port", "0", "--public-url", PUBLIC_URL])
        .env("MCP_AUTH_JWT_SECRET", SECRET)
        .env_remove("MCP_AUTH_PUBLIC_URL")
        .env_remove("MCP_AUTH_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mcp-auth");
    let banner = read_banner(child.stdout.take().unwrap()).await;
    assert_eq!(banner.endpoint, PUBLIC_URL);
    assert!(banner.listening.starts_with("127.0.0.1:"), "{}", banner.listening);

    // The printed token is minted for the public URL.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[PUBLIC_URL]);
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let claims = jsonwebtoken::decode::<Value>(&banner.token, &key, &validation).unwrap().claims;
    assert_eq!(claims["aud"], PUBLIC_URL);
    assert_eq!(claims["sub"], "demo-user");

    let (status, body) = whoami(&banner, "mcp.example.test:8443").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""text":"demo-user""#), "{body}");

    let (status, body) = whoami(&banner, "evil.test").await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32000, "message": "Forbidden: Host header is not allowed" } })
    );
}
