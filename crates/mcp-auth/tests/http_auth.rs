//! Every HTTP route authenticates, and each refusal has the right status, headers and body:
//! 401 (+ `WWW-Authenticate`), 403 for a missing upstream credential, 503 (+ `Retry-After`)
//! when the tenant manager is down. Health and info need no token and say nothing internal.

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcp_auth::{ApiTokenResolver, JwtTokenResolver, http::HttpOptions};
use serde_json::{Value, json};
use support::{app::*, now, sign};

const SSE: &str = "text/event-stream";

/// Every MCP route, with the method and headers a client would use.
fn routes(app: &App, token: Option<&str>) -> Vec<(String, reqwest::RequestBuilder)> {
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let with_auth = |r: reqwest::RequestBuilder| match token {
        Some(t) => r.bearer_auth(t),
        None => r,
    };
    let post = |url: String| {
        with_auth(
            http.post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .json(&init),
        )
    };
    vec![
        ("POST /mcp".into(), post(app.url.clone())),
        ("POST /mcp/message".into(), post(format!("{}/message", app.url))),
        ("GET /mcp (stream)".into(), with_auth(http.get(&app.url).header("accept", SSE))),
        ("DELETE /mcp".into(), with_auth(http.delete(&app.url).header("mcp-session-id", "x"))),
        (
            "GET /mcp/sse".into(),
            with_auth(http.get(format!("{}/sse", app.url)).header("accept", SSE)),
        ),
        (
            "POST /mcp/messages".into(),
            with_auth(http.post(format!("{}/messages?sessionId=abc", app.url)).json(&init)),
        ),
        (
            "POST /mcp (2026-07-28)".into(),
            stateless_request(
                &http,
                &app.url,
                token,
                "whoami",
                &stateless_call(1, "whoami", json!({}), None),
            ),
        ),
    ]
}

#[tokio::test]
async fn every_mcp_route_refuses_a_request_without_a_valid_token() {
    let app = App::start(|b| b).await;
    let expired = sign(Algorithm::HS256, "hs", None, &json!({"sub": "alice", "exp": now() - 600}));
    let forged =
        sign(Algorithm::HS256, "hs-other", None, &json!({"sub": "alice", "exp": now() + 600}));
    for (token, reason) in [
        (None, "no credentials were presented"),
        (Some("garbage"), "the token is not a well-formed JWT"),
        (Some(expired.as_str()), "the token has expired"),
        (Some(forged.as_str()), "the token's signature does not verify"),
    ] {
        for (route, request) in routes(&app, token) {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{route} with {token:?}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
            // RFC 6750 §3.1: no error code when no token was sent (no metadata configured
            // here, so nothing else to name).
            match token {
                None => assert_eq!(challenge, "Bearer", "{route}"),
                Some(_) => assert_eq!(
                    challenge,
                    format!(r#"Bearer error="invalid_token", error_description="{reason}""#),
                    "{route}"
                ),
            }
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_token", "{route}");
            assert_eq!(body["error_description"], reason, "{route}");
        }
    }
    assert_eq!(app.server.stats().await.created, 0, "no instance was built for a refused caller");
}

#[tokio::test]
async fn a_valid_token_passes_on_every_route() {
    let app = App::start(|b| b).await;
    let token = token_for("alice");
    for (route, request) in routes(&app, Some(&token)) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        // Past authentication each route answers on its own terms (a made-up session id is a
        // 404, an SSE stream a 200…), never 401.
        assert!(![401, 403, 500, 503].contains(&status), "{route}: {status}");
    }
}

#[tokio::test]
async fn health_and_info_need_no_token_and_reveal_nothing_internal() {
    let app = App::start(|b| b.http(HttpOptions::default().with_name("my-server", "2.0.0"))).await;
    let http = reqwest::Client::new();
    let health = http.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({ "status": "ok" }));

    let info: Value = http.get(&app.url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (info["name"].as_str(), info["version"].as_str()),
        (Some("my-server"), Some("2.0.0"))
    );
    assert_eq!(info["endpoints"]["sse"], "GET /mcp/sse");
    // Exactly these keys: no pool sizes, modes, resource types or counts (the original leaked them).
    let mut keys: Vec<&str> = info.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["authentication", "endpoints", "name", "version"]);
}

#[tokio::test]
async fn a_user_without_an_upstream_credential_gets_403() {
    let app =
        App::start(|b| b.token_resolver(JwtTokenResolver::new()).resource_type("github")).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "credential", json!({}), None);

    let without = token_for("alice");
    let response = stateless_request(&http, &app.url, Some(&without), "credential", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Not a scope problem: no challenge, a JSON-RPC error saying to connect the account.
    assert!(response.headers().get("www-authenticate").is_none());
    let json: Value = response.json().await.unwrap();
    assert_eq!(
        json,
        json!({
            "jsonrpc": "2.0",
            "error": {
                "code": mcp_auth::http::CREDENTIAL_REQUIRED_CODE,
                "message": "no `github` credential is available for this user: connect it, then retry",
                "data": { "reason": "credential_required", "resourceType": "github" },
            },
            "id": null,
        })
    );
    assert!(!json.to_string().contains("alice"), "the user id is not echoed: {json}");

    let with = sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({"sub": "alice", "exp": now() + 600, "tokens": {"github": "ghp_alice"}}),
    );
    let response =
        stateless_request(&http, &app.url, Some(&with), "credential", &body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("ghp_alice"));
}

#[tokio::test]
async fn a_new_credential_gets_a_new_instance() {
    let app =
        App::start(|b| b.token_resolver(JwtTokenResolver::new()).resource_type("github")).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "credential", json!({}), None);
    for (credential, instances) in [("ghp_one", 1), ("ghp_one", 1), ("ghp_two", 2)] {
        let token = sign(
            Algorithm::HS256,
            "hs",
            None,
            &json!({"sub": "alice", "exp": now() + 600, "tokens": {"github": credential}}),
        );
        let response = stateless_request(&http, &app.url, Some(&token), "credential", &body)
            .send()
            .await
            .unwrap();
        assert!(response.text().await.unwrap().contains(credential));
        assert_eq!(app.observed.instances.load(std::sync::atomic::Ordering::SeqCst), instances);
    }
    assert_eq!(app.server.stats().await.live, 1, "the replaced instance is gone");
}

#[tokio::test]
async fn an_unreachable_tenant_manager_gives_503_with_retry_after_and_no_internals() {
    let resolver = ApiTokenResolver::builder("http://127.0.0.1:9", "service-token")
        .retry_base_delay(Duration::from_millis(1))
        .default_retry_after(Duration::from_secs(7))
        .build()
        .unwrap();
    let app = App::start(|b| b.token_resolver(resolver).resource_type("github")).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let response = stateless_request(&http, &app.url, Some(&token_for("alice")), "whoami", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    let text = response.text().await.unwrap();
    for internal in ["127.0.0.1", "connect", "service-token", "alice", "error sending"] {
        assert!(!text.contains(internal), "503 body leaks {internal:?}: {text}");
    }
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused_before_authentication() {
    let app = App::start(|b| {
        b.http(HttpOptions::default().with_cors_origins(["https://app.example.test"]))
    })
    .await;
    let http = reqwest::Client::new();
    let token = token_for("alice");
    let body = stateless_call(1, "whoami", json!({}), None);

    let rebinding = stateless_request(&http, &app.url, Some(&token), "whoami", &body)
        .header("host", "evil.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);

    let origin = stateless_request(&http, &app.url, None, "whoami", &body)
        .header("origin", "https://evil.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(origin.status(), 403, "a bad Origin is refused even before the missing token");
    let json: Value = origin.json().await.unwrap();
    assert_eq!(json["jsonrpc"], "2.0");

    let allowed = stateless_request(&http, &app.url, Some(&token), "whoami", &body)
        .header("origin", "https://app.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.test");

    let preflight = http
        .request(reqwest::Method::OPTIONS, &app.url)
        .header("origin", "https://app.example.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, mcp-session-id")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "preflight: {}", preflight.status());
    let allow_headers =
        preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allow_headers.contains("mcp-session-id") && allow_headers.contains("authorization"));
}

#[test]
fn a_wildcard_origin_is_refused_in_production() {
    let options = HttpOptions::default()
        .with_cors_origins(["*"])
        .with_environment(mcp_auth::Environment::Production);
    let observed = support::server::Observed::default();
    let err = mcp_auth::wrap_server(observed.factory())
        .auth_provider(jwt_provider())
        .http(options)
        .build()
        .err()
        .expect("refused");
    assert_eq!(err.key, "transport.cors_origins");
}
