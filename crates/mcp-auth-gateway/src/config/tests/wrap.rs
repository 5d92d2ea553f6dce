//! [`wrap_builder`] against the real library: each mount builds, and its JWT audience is its
//! own URL.

use std::time::Duration;

use super::*;
use crate::token::mint;

#[derive(Clone)]
struct Nothing;

impl rmcp::ServerHandler for Nothing {}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// POSTs `initialize` to `url` with `token` (if any) and returns the status.
async fn initialize(url: &str, token: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INITIALIZE);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Builds every mount of `config` and serves them on a free loopback port; returns its base URL.
async fn serve(text: &str) -> (String, Vec<mcp_auth::WrappedServer<Nothing>>, GatewayConfig) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let overrides = Overrides { listen: Some(addr), public_url: None };
    let config = parse_with_env(text, ORIGIN, &overrides, &base_env).unwrap();
    let servers: Vec<_> = config
        .servers
        .iter()
        .map(|entry| {
            let builder = mcp_auth::wrap_server(|_, _, _| Nothing);
            wrap_builder(builder, entry, &config).unwrap().build().unwrap()
        })
        .collect();
    let serving = servers.clone();
    tokio::spawn(async move { mcp_auth::WrappedServer::serve_all(&serving, listener).await });
    (format!("http://{addr}"), servers, config)
}

const TWO_MOUNTS: &str = r#"
    [[servers]]
    name = "a"
    command = "sh"
    [[servers]]
    name = "b"
    command = "sh"
    [servers.rate_limit]
    enabled = false
"#;

#[tokio::test]
async fn a_token_is_accepted_only_by_the_mount_it_was_minted_for() {
    let (base, servers, config) = serve(TWO_MOUNTS).await;
    let for_a = mint(
        SECRET,
        "alice",
        Duration::from_secs(60),
        None,
        Some(&config.mount_url(&config.servers[0])),
        None,
    )
    .unwrap();
    assert_eq!(initialize(&format!("{base}/a"), Some(&for_a)).await, 200);
    assert_eq!(initialize(&format!("{base}/b"), Some(&for_a)).await, 401);
    assert_eq!(initialize(&format!("{base}/a"), None).await, 401);
    servers[0].shutdown();
}

#[tokio::test]
async fn anonymous_mode_admits_loopback_callers_without_a_token() {
    let (base, servers, _) = serve(&format!("[auth]\nmode = \"none\"\n{TWO_MOUNTS}")).await;
    assert_eq!(initialize(&format!("{base}/b"), None).await, 200);
    servers[0].shutdown();
}

#[tokio::test]
async fn every_credentials_mode_builds() {
    let env = env_with(&[("TENANT_TOKEN", "service-token"), ("UP", "x")]);
    for credentials in [
        "mode = \"env\"\nvar = \"UP\"",
        "mode = \"jwt\"",
        "mode = \"api\"\nurl = \"http://127.0.0.1:1\"\nservice_token_env = \"TENANT_TOKEN\"\ncache_ttl = \"0\"",
    ] {
        let text = format!("[credentials]\n{credentials}\n{TWO_MOUNTS}");
        let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
        let builder = mcp_auth::wrap_server(|_, _, _| Nothing);
        let server = wrap_builder(builder, &config.servers[0], &config).unwrap().build();
        assert!(server.is_ok(), "{credentials}");
    }
}
