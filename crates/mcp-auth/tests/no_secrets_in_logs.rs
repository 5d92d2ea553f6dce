//! Captures every log line (all crates, TRACE) while authentication fails in every way and the
//! resolvers run against a real tenant manager, then searches the capture for secrets.
//!
//! Its own binary: the capturing subscriber is process-global.

mod support;

use std::time::Duration;

use axum::{Json, Router, extract::Path, http::StatusCode, routing::get};
use jsonwebtoken::Algorithm;
use mcp_auth::{
    ApiTokenResolver, AuthProvider, JwtAuthProvider, JwtTokenResolver, TokenResolver,
    auth::{RequestContext, TransportKind, jwks::JwksOptions},
};
use serde_json::json;
use support::{log_capture::LogCapture, *};

const SERVICE_TOKEN: &str = "svc-token-7f3a9c-never-log-me";
const CREDENTIAL: &str = "ghp_credential_4b1d8e_never_log_me";
const EMBEDDED: &str = "ghp_embedded_9e2f_never_log_me";

/// A tenant manager that knows `alice`, fails for `flaky`, and rejects a wrong service token.
async fn tenant_manager() -> String {
    let app =
        Router::new().route(
            "/api/credentials/{user}/{resource}",
            get(
                |Path((user, _resource)): Path<(String, String)>,
                 headers: axum::http::HeaderMap| async move {
                    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
                        == Some(&format!("Bearer {SERVICE_TOKEN}"));
                    match (authorized, user.as_str()) {
                        (false, _) => (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"error": "Invalid service token"})),
                        ),
                        (true, "alice") => {
                            (StatusCode::OK, Json(json!({"accessToken": CREDENTIAL})))
                        }
                        (true, "flaky") => {
                            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": CREDENTIAL})))
                        }
                        (true, _) => (StatusCode::NOT_FOUND, Json(json!({"error": "Not Found"}))),
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn authenticate(provider: &dyn AuthProvider, header: &str) -> String {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, header.parse().unwrap());
    let ctx = RequestContext::new(TransportKind::StreamableHttp, &headers);
    match provider.authenticate(&ctx).await {
        Ok(principal) => {
            tracing::info!(?principal, "authenticated");
            principal.user_id().to_owned()
        }
        Err(error) => {
            tracing::warn!(%error, ?error, ?ctx, "authentication failed");
            String::new()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_token_or_credential_reaches_the_logs() {
    let capture = LogCapture::default();
    capture.subscriber().init();

    let mut secrets: Vec<String> =
        vec![HS_SECRET.into(), SERVICE_TOKEN.into(), CREDENTIAL.into(), EMBEDDED.into()];

    // Every kind of JWT refusal, plus one success carrying an embedded token.
    let hs = JwtAuthProvider::builder().secret(HS_SECRET).audience("mcp").build().unwrap();
    let base = || json!({"sub": "alice", "aud": "mcp", "exp": now() + 600});
    let mut tokens = vec![
        sign(
            Algorithm::HS256,
            "hs",
            None,
            &json!({"sub": "alice", "aud": "mcp", "exp": now() - 900}),
        ),
        sign(Algorithm::HS256, "hs-other", None, &base()),
        sign(
            Algorithm::HS256,
            "hs",
            None,
            &json!({"sub": "alice", "aud": "other", "exp": now() + 600}),
        ),
        sign(Algorithm::HS512, "hs", None, &base()),
        unsigned(&base()),
        "not-a-jwt-but-still-secret-5c1e".to_owned(),
    ];
    let embedded_claims = {
        let mut c = base();
        c["tokens"] = json!({"github": EMBEDDED});
        c
    };
    let good = sign(Algorithm::HS256, "hs", None, &embedded_claims);
    tokens.push(good.clone());
    for token in &tokens {
        authenticate(&hs, &format!("Bearer {token}")).await;
        authenticate(&hs, &format!("Basic {token}")).await;
    }
    secrets.extend(tokens.iter().cloned());
    // The signature alone must not leak either.
    secrets.extend(
        tokens
            .iter()
            .filter_map(|t| t.rsplit('.').next())
            .filter(|s| s.len() > 10)
            .map(str::to_owned),
    );

    // A JWKS endpoint that is down.
    let jwks = JwksServer::start(vec![]).await;
    jwks.fail();
    let jwks_provider = JwtAuthProvider::builder()
        .jwks_url(&jwks.url)
        .jwks_options(JwksOptions::default().with_min_refresh_interval(Duration::ZERO))
        .build()
        .unwrap();
    let rsa = sign(Algorithm::RS256, "rsa-a", Some("k"), &base());
    authenticate(&jwks_provider, &format!("Bearer {rsa}")).await;
    secrets.push(rsa);

    // The JWT resolver, successful.
    let principal = hs.verify(&good).await.unwrap();
    let credential = JwtTokenResolver::new().resolve(&principal, "github").await.unwrap();
    tracing::info!(?credential, "embedded credential resolved");

    // The tenant-manager resolver: success, 404, 500 with retries, 401, and an unreachable host.
    let url = tenant_manager().await;
    let resolver = ApiTokenResolver::builder(&url, SERVICE_TOKEN)
        .retry_base_delay(Duration::from_millis(1))
        .build()
        .unwrap();
    for user in ["alice", "alice", "nobody", "flaky"] {
        let principal = mcp_auth::Principal::new(user).unwrap();
        let result = resolver.resolve(&principal, "github").await;
        tracing::info!(?result, "resolved");
    }
    let wrong_token = ApiTokenResolver::builder(&url, "wrong-service-token-6d2a").build().unwrap();
    secrets.push("wrong-service-token-6d2a".into());
    let result = wrong_token.resolve(&mcp_auth::Principal::new("alice").unwrap(), "github").await;
    tracing::info!(?result, "resolved with a rejected service token");
    let unreachable = ApiTokenResolver::builder("http://127.0.0.1:9", SERVICE_TOKEN)
        .retry_base_delay(Duration::from_millis(1))
        .build()
        .unwrap();
    let result = unreachable.resolve(&mcp_auth::Principal::new("alice").unwrap(), "github").await;
    tracing::info!(?result, ?resolver, "resolved against an unreachable tenant manager");

    let logs = capture.text();
    // The capture must really hold the events, or the search below proves nothing.
    for expected in ["authentication failed", "JWKS fetch failed", "resolved", "authenticated"] {
        assert!(logs.contains(expected), "capture lacks {expected:?}:\n{logs}");
    }
    assert!(logs.lines().count() > 40, "suspiciously few log lines:\n{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs: {secret}\n{logs}");
    }
}
