//! A refreshed token keeps the user's instance and sessions: only a changed *secret* rebuilds
//! the instance, never a new expiry (issue 9, bug 2).

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::JwtTokenResolver;
use serde_json::json;
use support::{app::*, now, sign};

/// A token for alice carrying the upstream credential `upstream`, valid for `ttl` seconds.
fn token(upstream: &str, ttl: i64) -> String {
    let claims = json!({ "sub": "alice", "exp": now() + ttl, "tokens": { "default": upstream } });
    sign(Algorithm::HS256, "hs", None, &claims)
}

#[tokio::test]
async fn a_refreshed_jwt_keeps_the_instance_and_its_sessions() {
    let app = App::start(|b| b.token_resolver(JwtTokenResolver::new())).await;
    let (first, _) = app.client_with_token(&token("ghp_same", 3600)).await;
    call(&first, "notes_add", json!({ "text": "kept" })).await;

    // The refreshed token: same embedded credential, a later expiry.
    let (refreshed, _) = app.client_with_token(&token("ghp_same", 7200)).await;
    assert_eq!(call(&refreshed, "notes_list", json!({})).await, "kept");

    // The first client's session survived the second client's admission.
    assert_eq!(call(&first, "notes_list", json!({})).await, "kept");
    assert_eq!(app.observed.instances.load(std::sync::atomic::Ordering::SeqCst), 1);
    let stats = app.server.stats().await;
    assert_eq!((stats.live, stats.created), (1, 1));
}

#[tokio::test]
async fn a_changed_secret_still_gets_a_fresh_instance() {
    let app = App::start(|b| b.token_resolver(JwtTokenResolver::new())).await;
    let (first, _) = app.client_with_token(&token("ghp_old", 3600)).await;
    assert_eq!(call(&first, "credential", json!({})).await, "ghp_old");
    let (second, _) = app.client_with_token(&token("ghp_new", 3600)).await;
    assert_eq!(call(&second, "credential", json!({})).await, "ghp_new");
    assert_eq!(app.server.stats().await.created, 2);
}
