//! OAuth discovery against the real binary: rmcp's own OAuth client finds the Protected
//! Resource Metadata and the authorization server from a bare `401`, and from the well-known
//! URLs alone; a token without the mount's scope gets the `403` challenge.

mod support;

use std::time::Duration;

use axum::{Json, Router, routing::get};
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport,
        auth::{AuthorizationManager, AuthorizationMetadataSource},
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::{Value, json};
use support::gateway::{Gateway, SECRET};

/// An authorization server that only publishes its RFC 8414 metadata, on loopback.
async fn authorization_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
    });
    let app = Router::new().route(
        "/.well-known/oauth-authorization-server",
        get(move || async move { Json(document) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn config(issuer: &str) -> String {
    config_with(issuer, "")
}

fn config_with(issuer: &str, extra_server_keys: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"
issuer = "{issuer}"

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]
env = {{ MCP_USER_ID = "{{user_id}}" }}
scopes = ["mcp:tools"]
{extra_server_keys}
"#,
        exe = env!("CARGO_BIN_EXE_mcp-auth"),
    )
}

async fn initialize(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "oauth-test", "version": "0" },
            },
        }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn rmcp_finds_the_authorization_server_from_a_bare_401_and_from_the_well_known_urls() {
    let issuer = authorization_server().await;
    let gateway = Gateway::start(&config(&issuer)).await;
    let origin = gateway.url.trim_end_matches("/mcp").to_owned();

    let response = initialize(&gateway.url, None).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        )
    );

    let manager = AuthorizationManager::new(gateway.url.as_str()).await.unwrap();
    let from_challenge = manager.resolve_metadata_from_challenge(Some(&challenge)).await.unwrap();
    assert!(matches!(
        from_challenge.source,
        AuthorizationMetadataSource::ProtectedResourceMetadata
    ));
    assert_eq!(from_challenge.metadata.token_endpoint, format!("{issuer}/token"));
    assert_eq!(from_challenge.metadata.authorization_endpoint, format!("{issuer}/authorize"));

    // Without the header: the path-form well-known URL, as a client that lost it would.
    let manager = AuthorizationManager::new(gateway.url.as_str()).await.unwrap();
    let probed = manager.resolve_metadata().await.unwrap();
    assert!(matches!(probed.source, AuthorizationMetadataSource::ProtectedResourceMetadata));
    assert_eq!(probed.metadata.token_endpoint, format!("{issuer}/token"));

    let document: Value = reqwest::get(format!("{origin}/.well-known/oauth-protected-resource"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document,
        json!({
            "resource": gateway.url,
            "authorization_servers": [issuer],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
            "resource_name": "demo",
        })
    );
}

#[tokio::test]
async fn a_token_without_the_mount_scope_gets_the_403_challenge_and_one_with_it_is_served() {
    let issuer = authorization_server().await;
    let gateway = Gateway::start(&config(&issuer)).await;
    let origin = gateway.url.trim_end_matches("/mcp").to_owned();
    let mint = |scope| {
        let ttl = Duration::from_secs(600);
        mcp_auth_gateway::token::mint(
            SECRET,
            "alice",
            ttl,
            scope,
            Some(&gateway.url),
            Some(&issuer),
        )
        .unwrap()
    };

    let response = initialize(&gateway.url, Some(&mint(Some("other")))).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools", error_description="the token lacks the scope(s): mcp:tools", resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp""#
        )
    );

    let response = initialize(&gateway.url, Some(&mint(Some("mcp:tools")))).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("mcp-session-id"));
}

#[tokio::test]
async fn a_tool_scope_hides_the_tool_from_the_list_and_refuses_its_call_through_a_real_client() {
    let issuer = authorization_server().await;
    let keys = "[servers.tool_scopes]\necho = [\"mcp:echo\"]";
    let gateway = Gateway::start(&config_with(&issuer, keys)).await;
    let connect = |scope: &'static str| {
        let ttl = Duration::from_secs(600);
        let token = mcp_auth_gateway::token::mint(
            SECRET,
            "alice",
            ttl,
            Some(scope),
            Some(&gateway.url),
            Some(&issuer),
        )
        .unwrap();
        let config =
            StreamableHttpClientTransportConfig::with_uri(gateway.url.clone()).auth_header(token);
        ().serve(StreamableHttpClientTransport::with_client(reqwest::Client::new(), config))
    };
    let echo = || {
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = Some(json!({ "text": "hi" }).as_object().unwrap().clone());
        params
    };

    let client = connect("mcp:tools").await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains(&"whoami") && !names.contains(&"echo"), "{names:?}");
    let refused = client.call_tool(echo()).await.unwrap_err().to_string();
    // rmcp reads the 403 challenge (`error="insufficient_scope"`) as this error.
    assert!(refused.ends_with("error: Insufficient scope"), "{refused}");
    client.cancel().await.unwrap();

    let client = connect("mcp:tools mcp:echo").await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"));
    let answer = client.call_tool(echo()).await.unwrap();
    assert_eq!(answer.content[0].as_text().unwrap().text, "hi");
    client.cancel().await.unwrap();
}
