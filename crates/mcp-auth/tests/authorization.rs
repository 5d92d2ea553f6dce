//! The MCP authorization spec as a resource server: Protected Resource Metadata (RFC 9728) at
//! both well-known paths, the `401`/`403` challenges, required scopes, and no token in the query.

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::{
    ConfigError, Environment, ProtectedResource, WrappedServer, http::HttpOptions, wrap_server,
};
use serde_json::{Value, json};
use support::{
    app::{App, jwt_provider, stateless_call, stateless_request, token_for},
    now,
    server::Observed,
    sign,
};

const AS: &str = "https://auth.example.com";

fn metadata() -> ProtectedResource {
    ProtectedResource::new(AS)
        .with_scopes_supported(["mcp:tools", "mcp:admin"])
        .with_resource_name("Test tools")
}

fn token_with_scope(user: &str, scope: &str) -> String {
    sign(Algorithm::HS256, "hs", None, &json!({ "sub": user, "exp": now() + 3600, "scope": scope }))
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn call(app: &App, token: Option<&str>, query: &str) -> reqwest::Response {
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let url = format!("{}{query}", app.url);
    stateless_request(&http, &url, token, "whoami", &body).send().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_metadata_is_served_at_the_path_and_the_root_form_naming_the_exact_resource() {
    let app = App::start(|b| b.protected_resource(metadata())).await;
    let expected = json!({
        "resource": app.url,
        "authorization_servers": [AS],
        "scopes_supported": ["mcp:tools", "mcp:admin"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Test tools",
    });
    for path in
        ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    {
        // From a page on another origin: the document is public and CORS-readable.
        let response =
            get(&format!("{}{path}", app.base), &[("origin", "https://evil.example")]).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "{path}");
        assert_eq!(headers["cache-control"], "public, max-age=3600", "{path}");
        assert_eq!(headers["vary"], "host, x-forwarded-proto", "{path}");
        assert_eq!(response.json::<Value>().await.unwrap(), expected, "{path}");
    }
    // The Host guard still applies (DNS rebinding), and nothing else is under the well-known.
    let foreign = get(
        &format!("{}/.well-known/oauth-protected-resource/mcp", app.base),
        &[("host", "evil.example")],
    )
    .await;
    assert_eq!(foreign.status(), 403);
    let other = get(&format!("{}/.well-known/oauth-protected-resource/other", app.base), &[]).await;
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn a_public_url_makes_the_resource_and_a_proxied_prefix_is_served_both_ways() {
    let app = App::start(|b| {
        b.protected_resource(metadata())
            .http(HttpOptions::default().with_public_url("https://Example.com/tools/"))
    })
    .await;
    for path in [
        "/.well-known/oauth-protected-resource/tools/mcp",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = get(&format!("{}{path}", app.base), &[]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().get("vary").is_none(), "{path}: not built from the request");
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["resource"], "https://example.com/tools/mcp", "{path}");
    }
    let response = call(&app, None, "").await;
    assert_eq!(
        challenge(&response),
        r#"Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource/tools/mcp", scope="mcp:tools mcp:admin""#
    );
}

#[tokio::test]
async fn a_401_names_the_metadata_and_scope_and_says_why_only_when_a_token_was_sent() {
    let app = App::start(|b| b.protected_resource(metadata()).required_scopes(["mcp:tools"])).await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);

    let response = call(&app, None, "").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!(r#"Bearer resource_metadata="{metadata_url}", scope="mcp:tools""#)
    );

    let response = call(&app, Some("garbage"), "").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!(
            r#"Bearer resource_metadata="{metadata_url}", scope="mcp:tools", error="invalid_token", error_description="the token is not a well-formed JWT""#
        )
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": "invalid_token", "error_description": "the token is not a well-formed JWT" })
    );
}

#[tokio::test]
async fn a_token_without_the_required_scopes_gets_403_naming_all_of_them() {
    let app = App::start(|b| {
        b.protected_resource(metadata()).required_scopes(["mcp:tools", "mcp:admin"])
    })
    .await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);

    let response = call(&app, Some(&token_with_scope("alice", "mcp:tools other")), "").await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        challenge(&response),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", error_description="the token lacks the scope(s): mcp:admin", resource_metadata="{metadata_url}""#
        )
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "mcp:tools mcp:admin");
    assert_eq!(app.server.stats().await.created, 0, "no instance for a refused caller");

    let response = call(&app, Some(&token_with_scope("alice", "mcp:admin mcp:tools")), "").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("alice"));
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused_and_never_used() {
    let app = App::start(|b| b.protected_resource(metadata())).await;
    let token = token_for("alice");
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    // Even next to a valid header, and whatever the token's worth: 400, nothing admitted.
    for (header, query) in [
        (None, format!("?access_token={token}")),
        (Some(token.as_str()), format!("?x=1&access_token={token}")),
        (Some(token.as_str()), "?access%5Ftoken=x".to_owned()),
    ] {
        let response = call(&app, header, &query).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            challenge(&response),
            format!(
                r#"Bearer error="invalid_request", error_description="access tokens are not accepted in the URL query; send an Authorization: Bearer header", resource_metadata="{metadata_url}""#
            )
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains(&token), "the token is not echoed");
    }
    // The legacy SSE routes too.
    let sse =
        get(&format!("{}/sse?access_token={token}", app.url), &[("accept", "text/event-stream")])
            .await;
    assert_eq!(sse.status(), 400);
    assert_eq!(app.server.stats().await.created, 0, "no instance was built");
}

#[tokio::test]
async fn a_missing_credential_names_the_connect_url() {
    let app = App::start(|b| {
        b.token_resolver(mcp_auth::JwtTokenResolver::new())
            .resource_type("github")
            .credential_connect_url("https://platform.example.com/connect/github")
    })
    .await;
    let response = call(&app, Some(&token_for("alice")), "").await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "no `github` credential is available for this user: connect it at \
         https://platform.example.com/connect/github, then retry"
    );
    assert_eq!(body["error"]["data"]["connectUrl"], "https://platform.example.com/connect/github");
}

fn mounted(path: &str) -> WrappedServer<support::server::TestServer> {
    wrap_server(Observed::default().factory())
        .auth_provider(jwt_provider())
        .protected_resource(ProtectedResource::new(AS))
        .http(HttpOptions::default().with_base_path(path))
        .build()
        .unwrap()
}

#[tokio::test]
async fn several_servers_on_one_listener_each_have_their_path_form_and_none_the_root() {
    let servers = [mounted("/a"), mounted("/b")];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = servers.clone();
    tokio::spawn(async move { WrappedServer::serve_all(&serving, listener).await });
    for mount in ["a", "b"] {
        let response =
            get(&format!("{base}/.well-known/oauth-protected-resource/{mount}"), &[]).await;
        assert_eq!(response.status(), 200, "{mount}");
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["resource"], format!("{base}/{mount}"));
    }
    // The root form describes one resource: with two, it would be wrong for one of them.
    let root = get(&format!("{base}/.well-known/oauth-protected-resource"), &[]).await;
    assert_eq!(root.status(), 404);
    servers[0].shutdown();
}

#[test]
fn metadata_settings_are_checked() {
    let build = |metadata: ProtectedResource, http: HttpOptions| {
        wrap_server(Observed::default().factory())
            .auth_provider(jwt_provider())
            .protected_resource(metadata)
            .http(http)
            .build()
            .err()
    };
    let dev = HttpOptions::default().with_environment(Environment::Development);
    let cases: [(ProtectedResource, HttpOptions, ConfigError); 4] = [
        (
            ProtectedResource::new(AS).with_scopes_supported(["offline_access"]),
            dev.clone(),
            ConfigError::invalid(
                "protected_resource.scopes_supported",
                "offline_access",
                "resource scopes, not offline_access",
            ),
        ),
        (
            ProtectedResource::new("auth.example.com"),
            dev.clone(),
            ConfigError::invalid(
                "protected_resource.authorization_servers",
                "auth.example.com",
                "an absolute http(s) URL without credentials, query or fragment",
            ),
        ),
        (
            ProtectedResource::new(AS).with_scopes_supported(["a b"]),
            dev.clone(),
            ConfigError::invalid(
                "protected_resource.scopes_supported",
                "a b",
                "a scope name: printable ASCII without space, `\"` or `\\`",
            ),
        ),
        (
            ProtectedResource::new(AS),
            HttpOptions::default().with_environment(Environment::Production),
            ConfigError::missing(
                "transport.public_url",
                "the URL clients use (the Protected Resource Metadata's `resource`) in production",
            ),
        ),
    ];
    for (metadata, http, expected) in cases {
        assert_eq!(build(metadata, http), Some(expected));
    }
    assert_eq!(build(ProtectedResource::new(AS), dev), None);
}
