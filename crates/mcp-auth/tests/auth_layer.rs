//! `AuthLayer` and `UserRateLimitLayer` in front of a plain axum app (no `wrap_server`): the
//! same challenges, principal and `429` as the MCP routes; and a wrapped server's own
//! `auth_layer()`, which shares the server's rate limit.

mod support;

use axum::{Extension, Router, http::HeaderMap, routing::get};
use jsonwebtoken::Algorithm;
use mcp_auth::{
    Principal, ProtectedResource,
    http::{AuthLayer, UserRateLimitLayer},
    middleware::RateLimitConfig,
};
use serde_json::{Value, json};
use support::{
    app::{App, initialize, jwt_provider, token_for},
    now, sign,
};

/// Who the handler was given, and whether any credential header reached it.
async fn whoami(Extension(who): Extension<Principal>, headers: HeaderMap) -> String {
    let leaked = headers.contains_key("authorization") || headers.contains_key("cookie");
    format!("{} leaked={leaked}", who.user_id())
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn scoped_token(user: &str, scope: &str) -> String {
    sign(Algorithm::HS256, "hs", None, &json!({ "sub": user, "exp": now() + 3600, "scope": scope }))
}

async fn get_with(url: &str, token: Option<&str>) -> (u16, HeaderMap, String) {
    let mut request = reqwest::Client::new().get(url).header("cookie", "session=s");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn an_app_of_its_own_gets_the_mcp_challenges_and_the_principal() {
    let auth = AuthLayer::builder(jwt_provider())
        .required_scopes(["mcp:tools"])
        .protected_resource(
            ProtectedResource::new("https://auth.example.com"),
            "https://api.example.com/mcp",
        )
        .build()
        .unwrap();
    let metadata = auth.metadata_router().expect("built with a protected resource");
    let app = Router::new().route("/mcp/whoami", get(whoami)).layer(auth).merge(metadata);
    let base = serve(app).await;
    let url = format!("{base}/mcp/whoami");
    let document = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

    let (status, headers, body) = get_with(&url, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        headers["www-authenticate"],
        format!("Bearer resource_metadata=\"{document}\", scope=\"mcp:tools\"").as_str()
    );
    let (status, headers, _) = get_with(&url, Some("garbage")).await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));

    let (status, headers, body) = get_with(&url, Some(&scoped_token("alice", "other"))).await;
    assert_eq!(status, 403, "{body}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\""),
        "{challenge}"
    );

    let (status, _, body) = get_with(&url, Some(&scoped_token("alice", "mcp:tools"))).await;
    assert_eq!((status, body.as_str()), (200, "alice leaked=false"));

    let token = scoped_token("alice", "mcp:tools");
    let (status, _, _) = get_with(&format!("{url}?access_token={token}"), None).await;
    assert_eq!(status, 400, "a token in the query is refused, never used");

    let (status, _, body) =
        get_with(&format!("{base}/.well-known/oauth-protected-resource/mcp"), None).await;
    assert_eq!(status, 200, "{body}");
    let metadata: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(metadata["resource"], "https://api.example.com/mcp");
    assert_eq!(metadata["authorization_servers"], json!(["https://auth.example.com"]));
}

#[tokio::test]
async fn each_user_is_limited_on_their_own_and_never_without_auth() {
    let limit = UserRateLimitLayer::new(&RateLimitConfig::per_minute(2)).unwrap();
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(limit.clone())
        .layer(AuthLayer::new(jwt_provider()));
    let url = format!("{}/whoami", serve(app).await);
    let alice = token_for("alice");
    for _ in 0..2 {
        assert_eq!(get_with(&url, Some(&alice)).await.0, 200);
    }
    let (status, headers, body) = get_with(&url, Some(&alice)).await;
    assert_eq!(status, 429);
    assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32029);
    assert_eq!(get_with(&url, Some(&token_for("bob"))).await.0, 200, "bob has his own budget");

    // Without an AuthLayer outside it, nothing is let through unlimited.
    let unguarded = Router::new().route("/whoami", get(|| async { "open" })).layer(limit);
    let url = format!("{}/whoami", serve(unguarded).await);
    assert_eq!(get_with(&url, Some(&alice)).await.0, 500);
}

#[tokio::test]
async fn a_wrapped_servers_auth_layer_shares_its_rate_limit() {
    let app = App::start(|b| b.rate_limit(RateLimitConfig::per_minute(2))).await;
    let extra = Router::new().route("/api/whoami", get(whoami)).layer(app.server.auth_layer());
    let url = format!("{}/api/whoami", serve(extra).await);
    let alice = token_for("alice");
    let http = reqwest::Client::new();
    assert_eq!(initialize(&http, &app.url, &alice).await.status(), 200);
    assert_eq!(get_with(&url, Some(&alice)).await.0, 200);
    // Two requests spent on two routers: the third, on either, is over the server's limit.
    assert_eq!(get_with(&url, Some(&alice)).await.0, 429);
    assert_eq!(initialize(&http, &app.url, &alice).await.status(), 429);
    assert_eq!(get_with(&url, None).await.0, 401);
}
