//! Header and lifetime rules beyond the signature: `crit` is always refused (RFC 7515 §4.1.11),
//! `typ` is checked when required (RFC 9068 `at+jwt`), and a maximum token lifetime makes `iat`
//! mandatory and bounded.

mod support;

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use mcp_auth::{AuthError, ConfigError, JwtAuthProvider, auth::jwks::JwksOptions};
use serde_json::{Value, json};
use support::{HS_SECRET, JwksServer, app::*, claims, encoding_key, now, public_jwk};

/// Signs `claims` with `key` under a header shaped by `shape`.
fn sign_with(alg: Algorithm, key: &str, shape: impl FnOnce(&mut Header), claims: &Value) -> String {
    let mut header = Header::new(alg);
    shape(&mut header);
    jsonwebtoken::encode(&header, claims, &encoding_key(key)).unwrap()
}

fn hs256_with(shape: impl FnOnce(&mut Header), claims: &Value) -> String {
    sign_with(Algorithm::HS256, "hs", shape, claims)
}

fn crit(header: &mut Header) {
    header.crit = Some(vec!["exp".to_owned()]);
}

fn typ(value: &'static str) -> impl FnOnce(&mut Header) {
    move |header| header.typ = Some(value.to_owned())
}

fn builder() -> mcp_auth::auth::JwtAuthProviderBuilder {
    JwtAuthProvider::builder().secret(HS_SECRET)
}

#[tokio::test]
async fn a_token_marking_any_extension_critical_is_refused() {
    let provider = builder().build().unwrap();
    let token = hs256_with(crit, &claims());
    assert_eq!(provider.verify(&token).await.unwrap_err(), AuthError::UnsupportedCritical);
    let empty = hs256_with(|h| h.crit = Some(vec![]), &claims());
    assert_eq!(provider.verify(&empty).await.unwrap_err(), AuthError::UnsupportedCritical);
    // The same token without `crit` is fine.
    assert!(provider.verify(&hs256_with(|_| {}, &claims())).await.is_ok());
}

#[tokio::test]
async fn a_crit_header_gets_401_over_http() {
    let app = App::start(|b| b).await;
    let token = hs256_with(crit, &claims());
    let response = post_tools_list(&app.url, &token).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        challenge,
        r#"Bearer error="invalid_token", error_description="the token's header marks extensions as critical (`crit`); none is supported""#
    );
}

#[tokio::test]
async fn a_crit_header_is_refused_before_the_key_set_is_fetched() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = JwtAuthProvider::builder()
        .jwks_url(&server.url)
        .jwks_options(JwksOptions::default().with_min_refresh_interval(Duration::ZERO))
        .build()
        .unwrap();
    let token = sign_with(
        Algorithm::RS256,
        "rsa-b",
        |h| {
            h.kid = Some("made-up".into());
            crit(h);
        },
        &claims(),
    );
    assert_eq!(provider.verify(&token).await.unwrap_err(), AuthError::UnsupportedCritical);
    assert_eq!(server.fetches(), 0);
    // A valid key's token with `crit` is refused too, after the fetch it needs.
    let signed = sign_with(
        Algorithm::RS256,
        "rsa-a",
        |h| {
            h.kid = Some("key-a".into());
            crit(h);
        },
        &claims(),
    );
    assert_eq!(provider.verify(&signed).await.unwrap_err(), AuthError::UnsupportedCritical);
}

#[tokio::test]
async fn a_required_typ_accepts_at_jwt_in_any_spelling_and_refuses_the_rest() {
    let provider = builder().required_typ("at+jwt").build().unwrap();
    for accepted in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = hs256_with(typ(accepted), &claims());
        assert_eq!(provider.verify(&token).await.unwrap().user_id(), "alice", "{accepted}");
    }
    let wrong = AuthError::WrongTokenType { expected: "at+jwt".into() };
    // `Header::new` sets `typ: JWT`; an ID token, say, is not an access token.
    assert_eq!(provider.verify(&hs256_with(|_| {}, &claims())).await.unwrap_err(), wrong);
    let untyped = hs256_with(|h| h.typ = None, &claims());
    assert_eq!(provider.verify(&untyped).await.unwrap_err(), wrong);
}

#[tokio::test]
async fn typ_is_not_checked_unless_required() {
    let provider = builder().build().unwrap();
    for shape in [typ("JWT"), typ("at+jwt"), typ("whatever")] {
        assert!(provider.verify(&hs256_with(shape, &claims())).await.is_ok());
    }
    assert!(provider.verify(&hs256_with(|h| h.typ = None, &claims())).await.is_ok());
}

#[tokio::test]
async fn a_maximum_lifetime_requires_iat_and_bounds_exp_minus_iat() {
    let provider = builder().max_token_lifetime(Duration::from_secs(3600)).build().unwrap();
    let t = now();
    let verify = |claims: Value| {
        let provider = provider.clone();
        async move { provider.verify(&hs256_with(|_| {}, &claims)).await.map(|_| ()) }
    };
    assert_eq!(verify(json!({"sub": "alice", "iat": t, "exp": t + 3600})).await, Ok(()));
    assert_eq!(
        verify(json!({"sub": "alice", "iat": t, "exp": t + 3601})).await,
        Err(AuthError::LifetimeTooLong { max_secs: 3600 })
    );
    assert_eq!(
        verify(json!({"sub": "alice", "exp": t + 60})).await,
        Err(AuthError::MissingClaim { claim: "iat".into() })
    );
    assert_eq!(
        verify(json!({"sub": "alice", "iat": "yesterday", "exp": t + 60})).await,
        Err(AuthError::MissingClaim { claim: "iat".into() })
    );
    // Issued in the future beyond the 60 s leeway: refused; within it: accepted.
    assert_eq!(
        verify(json!({"sub": "alice", "iat": t + 600, "exp": t + 1200})).await,
        Err(AuthError::InvalidClaim { claim: "iat".into() })
    );
    assert_eq!(verify(json!({"sub": "alice", "iat": t + 30, "exp": t + 1200})).await, Ok(()));
    // A huge `exp` against a tiny `iat` does not overflow: it is simply too long.
    assert_eq!(
        verify(json!({"sub": "alice", "iat": 0, "exp": 1u64 << 40})).await,
        Err(AuthError::LifetimeTooLong { max_secs: 3600 })
    );
}

#[tokio::test]
async fn without_a_maximum_lifetime_iat_is_optional() {
    let provider = builder().build().unwrap();
    let t = now();
    let long_lived =
        hs256_with(|_| {}, &json!({"sub": "alice", "iat": t, "exp": t + 86_400 * 365}));
    assert!(provider.verify(&long_lived).await.is_ok());
    let no_iat = hs256_with(|_| {}, &json!({"sub": "alice", "exp": t + 60}));
    assert!(provider.verify(&no_iat).await.is_ok());
}

#[test]
fn nonsense_limits_are_configuration_errors() {
    let key = |result: Result<JwtAuthProvider, ConfigError>| result.err().map(|e| e.key);
    assert_eq!(key(builder().max_token_bytes(0).build()).as_deref(), Some("jwt.max_token_bytes"));
    assert_eq!(key(builder().required_typ(" ").build()).as_deref(), Some("jwt.required_typ"));
    assert_eq!(
        key(builder().leeway(Duration::from_secs(86_401)).build()).as_deref(),
        Some("jwt.leeway")
    );
    assert!(builder().leeway(Duration::from_secs(86_400)).build().is_ok());
}
