//! Validly signed but hostile tokens: time claims no clock can hold, oversized tokens, user ids
//! that would hide their true form. Each is refused with a plain 401, never a panic, and an
//! oversized token is refused before any key lookup or signature check.

mod support;

use jsonwebtoken::Algorithm;
use mcp_auth::{AuthError, JwtAuthProvider, auth::jwks::JwksOptions};
use serde_json::{Value, json};
use support::{HS_SECRET, JwksServer, app::*, claims, now, public_jwk, sign};

const LIMIT: usize = 8192;

fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, "hs", None, claims)
}

/// POSTs an initialize with `token` and returns the status and `WWW-Authenticate` value.
async fn post_with_token(app: &App, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(&app.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},
            "clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .expect("the server answers instead of dropping the connection");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

/// `exp` values that pass jsonwebtoken's own check (they are in the future) but name an instant
/// no `SystemTime` can hold: 2^63 s, `u64::MAX` s, and a float just under `u64::MAX`.
fn unrepresentable_expiries() -> [Value; 3] {
    [json!(1u64 << 63), json!(u64::MAX), json!(1.8e19)]
}

#[tokio::test]
async fn an_exp_beyond_any_representable_time_is_refused_without_panicking() {
    let provider = jwt_provider();
    for exp in unrepresentable_expiries() {
        let token = hs256(&json!({ "sub": "alice", "exp": exp }));
        let verifying = provider.clone();
        let outcome = tokio::spawn(async move { verifying.verify(&token).await })
            .await
            .unwrap_or_else(|e| panic!("exp {exp}: verification panicked: {e}"));
        assert_eq!(
            outcome.map(|p| p.user_id().to_owned()),
            Err(AuthError::InvalidClaim { claim: "exp".into() }),
            "exp {exp}"
        );
    }
    // A float too large even for a u64 is no valid `exp` at all.
    let token = hs256(&json!({ "sub": "alice", "exp": 1e300 }));
    assert_eq!(
        provider.verify(&token).await.unwrap_err(),
        AuthError::MissingClaim { claim: "exp".into() }
    );
}

#[tokio::test]
async fn an_exp_beyond_any_representable_time_gets_401_over_http() {
    let app = App::start(|b| b).await;
    for exp in unrepresentable_expiries() {
        let token = hs256(&json!({ "sub": "alice", "exp": exp }));
        let (status, challenge) = post_with_token(&app, &token).await;
        assert_eq!(status, 401, "exp {exp}");
        assert!(challenge.starts_with(r#"Bearer error="invalid_token""#), "{challenge}");
        assert!(challenge.contains("the token's `exp` claim is out of range"), "{challenge}");
    }
    // The server is still serving.
    let (status, _) = post_with_token(&app, &token_for("alice")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_fractional_exp_still_sets_the_principal_expiry() {
    let provider = JwtAuthProvider::builder().secret(HS_SECRET).build().unwrap();
    let exp = now() as f64 + 600.4;
    let principal = provider.verify(&hs256(&json!({ "sub": "alice", "exp": exp }))).await.unwrap();
    let expected = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now() as u64 + 600);
    let actual = principal.expires_at().expect("a float exp is an expiry too");
    let skew = actual.duration_since(expected).unwrap_or_else(|e| e.duration());
    assert!(skew.as_secs() <= 2, "{actual:?} vs {expected:?}");
}

/// An HS256 token for `alice` of exactly `len` bytes, padded with a filler claim.
fn token_of_length(len: usize) -> String {
    let exp = now() + 3600;
    let padded = |pad: usize| hs256(&json!({ "sub": "alice", "exp": exp, "pad": "x".repeat(pad) }));
    // base64url makes every 3 payload bytes 4 token bytes: start just below the estimate.
    let estimate = (len.saturating_sub(padded(0).len()) * 3 / 4).saturating_sub(4);
    (estimate..estimate + 16)
        .map(padded)
        .find(|token| token.len() == len)
        .unwrap_or_else(|| panic!("no padding gives a {len}-byte token"))
}

#[tokio::test]
async fn a_token_of_exactly_the_limit_passes_the_size_check() {
    let provider = jwt_provider();
    let at_limit = token_of_length(LIMIT);
    assert_eq!(provider.verify(&at_limit).await.unwrap().user_id(), "alice");
    let over = token_of_length(LIMIT + 1);
    assert_eq!(
        provider.verify(&over).await.unwrap_err(),
        AuthError::TokenTooLarge { limit: LIMIT }
    );

    let small = JwtAuthProvider::builder().secret(HS_SECRET).max_token_bytes(1024).build().unwrap();
    assert_eq!(
        small.verify(&token_of_length(1025)).await.unwrap_err(),
        AuthError::TokenTooLarge { limit: 1024 }
    );
}

#[tokio::test]
async fn a_token_over_8_kib_gets_401_naming_the_limit_not_the_token() {
    let app = App::start(|b| b).await;
    let token = token_of_length(9 * 1024);
    let response = post_tools_list(&app.url, &token).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        r#"Bearer error="invalid_token", error_description="the token is longer than the 8192-byte limit""#
    );
    let body = response.text().await.unwrap();
    assert!(!body.contains(&token[..40]), "the token is not echoed: {body}");
}

#[tokio::test]
async fn an_oversized_token_never_reaches_the_jwks_endpoint() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = JwtAuthProvider::builder()
        .jwks_url(&server.url)
        .jwks_options(JwksOptions::default().with_min_refresh_interval(std::time::Duration::ZERO))
        .build()
        .unwrap();
    let mut padded = claims();
    padded["pad"] = json!("x".repeat(LIMIT));
    // An unknown `kid` would make the provider fetch the key set, if it got that far.
    let oversized = sign(Algorithm::RS256, "rsa-b", Some("made-up"), &padded);
    for _ in 0..10 {
        assert_eq!(
            provider.verify(&oversized).await.unwrap_err(),
            AuthError::TokenTooLarge { limit: LIMIT }
        );
    }
    assert_eq!(server.fetches(), 0, "no key lookup for an oversized token");

    // The same unknown `kid` in a token of ordinary size does reach the endpoint.
    let ordinary = sign(Algorithm::RS256, "rsa-b", Some("made-up"), &claims());
    assert_eq!(provider.verify(&ordinary).await.unwrap_err(), AuthError::UnknownKey);
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_user_id_with_invisible_or_reordering_characters_gets_401() {
    let app = App::start(|b| b).await;
    for sub in ["alice\u{202E}", "a\u{200B}b", "\u{FEFF}alice", "alice\u{2066}"] {
        let token = hs256(&json!({ "sub": sub, "exp": now() + 3600 }));
        assert_eq!(jwt_provider().verify(&token).await.unwrap_err(), AuthError::InvalidUserId);
        let (status, challenge) = post_with_token(&app, &token).await;
        assert_eq!(status, 401, "{sub:?}");
        assert_eq!(
            challenge,
            r#"Bearer error="invalid_token", error_description="the user id is empty, longer than 255 bytes or contains control or invisible formatting characters""#,
            "{sub:?}"
        );
    }
    assert_eq!(app.server.stats().await.created, 0, "no instance for a look-alike user");
}
