//! Tool-level auth: `AuthenticatedServer` handlers receive the right user and credential under
//! JWT over HTTP and under env auth over stdio; rmcp `#[tool]` servers get the caller through
//! the `Caller` extractor.

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::{
    EnvAuthProvider, JwtTokenResolver,
    tool::{AuthenticatedServer, Caller, ToolError},
    wrap_server,
};
use rmcp::{
    ServerHandler, ServiceExt,
    handler::server::router::tool::ToolRouter,
    model::{ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::json;
use support::{app::*, now, sign};

fn server_builder() -> mcp_auth::tool::AuthenticatedServerBuilder {
    AuthenticatedServer::builder("tools", "1.0.0").register_tool(
        "whoami",
        "The caller and the credential the handler received",
        json!({ "type": "object", "properties": {} }),
        |_args, access_token, user_id| async move {
            Ok::<_, ToolError>(format!("{user_id}:{}", access_token.expose()))
        },
    )
}

async fn http_client(url: &str, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(token);
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    Recorder::default().serve(transport).await.expect("handshake")
}

#[tokio::test]
async fn handlers_get_the_jwt_user_and_their_credential_over_http() {
    let server = server_builder()
        .auth_provider(jwt_provider())
        .token_resolver(JwtTokenResolver::new())
        .resource_type("github")
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener).await });

    let alice_token = sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({"sub": "alice", "exp": now() + 600, "tokens": {"github": "ghp_alice"}}),
    );
    let bob_token = sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({"sub": "bob", "exp": now() + 600, "tokens": {"github": "ghp_bob"}}),
    );
    let alice = http_client(&url, &alice_token).await;
    let bob = http_client(&url, &bob_token).await;
    assert_eq!(call(&alice, "whoami", json!({})).await, "alice:ghp_alice");
    assert_eq!(call(&bob, "whoami", json!({})).await, "bob:ghp_bob");

    // A caller without a credential can list tools, but the call is refused with a reason.
    let carol = http_client(&url, &token_for("carol")).await;
    let tools = carol.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    let err = carol.call_tool(call_params("whoami", json!({}))).await.unwrap_err();
    assert!(err.to_string().contains("no `github` credential"), "{err}");

    // And no token at all never reaches a handler.
    let anonymous = reqwest::Client::new()
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    server.shutdown();
}

#[tokio::test]
async fn handlers_get_the_env_user_over_stdio() {
    let server =
        server_builder().auth_provider(EnvAuthProvider::fixed("carol").unwrap()).build().unwrap();
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(server_io);
    tokio::spawn(async move { server.serve_io(read, write).await });
    let client = Recorder::default().serve(client_io).await.expect("handshake");
    // Static mode (no resolver): the handler gets an empty token.
    assert_eq!(call(&client, "whoami", json!({})).await, "carol:");
}

/// An ordinary rmcp server written with the macros, reading its caller with `Caller`.
#[derive(Clone)]
struct MacroServer {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl MacroServer {
    #[tool(description = "The authenticated caller")]
    async fn caller(&self, Caller(principal): Caller) -> String {
        principal.user_id().to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for MacroServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::test]
async fn rmcp_macro_servers_read_the_caller_with_an_extractor() {
    let server = wrap_server(|_, _, _| MacroServer { tool_router: MacroServer::tool_router() })
        .auth_provider(jwt_provider())
        .build()
        .unwrap();
    let url = serve_on_loopback(&server).await;
    let client = http_client(&url, &token_for("dave")).await;
    assert_eq!(call(&client, "caller", json!({})).await, "dave");

    // Over stdio too: the transport attaches the identity to every message.
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(server_io);
    let stdio = wrap_server(|_, _, _| MacroServer { tool_router: MacroServer::tool_router() })
        .auth_provider(EnvAuthProvider::fixed("erin").unwrap())
        .build()
        .unwrap();
    tokio::spawn(async move { stdio.serve_io(read, write).await });
    let client = Recorder::default().serve(client_io).await.expect("handshake");
    assert_eq!(call(&client, "caller", json!({})).await, "erin");
    server.shutdown();
}

/// `AuthenticatedServerBuilder::rate_limit` is applied to whole HTTP requests (issue 9, bug 3:
/// it used to be stored and ignored).
#[tokio::test]
async fn the_builders_rate_limit_applies_to_http_requests() {
    use mcp_auth::middleware::RateLimitConfig;
    let server = server_builder()
        .auth_provider(jwt_provider())
        .rate_limit(RateLimitConfig::per_minute(3))
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener).await });

    let http = reqwest::Client::new();
    let token = token_for("alice");
    let body = stateless_call(1, "whoami", json!({}), None);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = stateless_request(&http, &url, Some(&token), "whoami", &body);
        statuses.push(response.send().await.unwrap());
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes, [200, 200, 200, 429]);
    let refused = statuses.pop().unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], -32029);
}
