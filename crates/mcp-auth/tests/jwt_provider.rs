//! `JwtAuthProvider` with static keys: every provider kind against the same table of tokens.

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcp_auth::{
    AuthError, AuthProvider, ConfigError, Environment, JwtAuthProvider,
    auth::{RequestContext, TransportKind},
};
use serde_json::{Value, json};
use support::*;

const ISS: &str = "https://tenants.example.test";
const AUD: &str = "https://mcp.example.test";

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn good_claims() -> Value {
    with(with(claims(), "iss", json!(ISS)), "aud", json!(AUD))
}

/// A provider for one key kind, checking `iss` and `aud`.
fn provider(kind: &str) -> JwtAuthProvider {
    let builder = JwtAuthProvider::builder().issuer(ISS).audience(AUD);
    let builder = match kind {
        "hs" => builder.secret(HS_SECRET),
        "rsa-a" => builder.public_key_pem(Algorithm::RS256, fixture("rsa-a.pub.pem")),
        "ps-rsa-a" => builder.public_key_pem(Algorithm::PS256, fixture("rsa-a.pub.pem")),
        "ec-p256" => builder.public_key_pem(Algorithm::ES256, fixture("ec-p256.pub.pem")),
        "ed25519" => builder.public_key_pem(Algorithm::EdDSA, fixture("ed25519.pub.pem")),
        other => panic!("unknown kind {other}"),
    };
    builder.build().unwrap()
}

/// Signs `claims` the way the provider of `kind` expects.
fn good_token(kind: &str, claims: &Value) -> String {
    match kind {
        "hs" => sign(Algorithm::HS256, "hs", None, claims),
        "rsa-a" => sign(Algorithm::RS256, "rsa-a", None, claims),
        "ps-rsa-a" => sign(Algorithm::PS256, "rsa-a", None, claims),
        "ec-p256" => sign(Algorithm::ES256, "ec-p256", None, claims),
        "ed25519" => sign(Algorithm::EdDSA, "ed25519", None, claims),
        other => panic!("unknown kind {other}"),
    }
}

/// The same claims signed by a different key of the same algorithm.
fn forged_token(kind: &str, claims: &Value) -> String {
    match kind {
        "hs" => sign(Algorithm::HS256, "hs-other", None, claims),
        "rsa-a" => sign(Algorithm::RS256, "rsa-b", None, claims),
        "ps-rsa-a" => sign(Algorithm::PS256, "rsa-b", None, claims),
        // Re-sign with the right algorithm but flip the payload under the original signature.
        other => {
            let token = good_token(other, claims);
            let parts: Vec<&str> = token.split('.').collect();
            let tampered = with(claims.clone(), "sub", json!("mallory"));
            let payload = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                serde_json::to_vec(&tampered).unwrap(),
            );
            format!("{}.{payload}.{}", parts[0], parts[2])
        }
    }
}

/// An HS256 token whose HMAC key is the provider's public key: the classic confusion attack.
fn confused_token(kind: &str, claims: &Value) -> String {
    let public_pem = match kind {
        "rsa-a" | "ps-rsa-a" => fixture("rsa-a.pub.pem"),
        "ec-p256" => fixture("ec-p256.pub.pem"),
        "ed25519" => fixture("ed25519.pub.pem"),
        _ => return sign(Algorithm::HS512, "hs", None, claims), // HS512 against an HS256 config
    };
    let key = jsonwebtoken::EncodingKey::from_secret(&public_pem);
    jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), claims, &key).unwrap()
}

async fn authenticate(provider: &JwtAuthProvider, token: &str) -> Result<String, AuthError> {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    let ctx = RequestContext::new(TransportKind::StreamableHttp, &headers);
    provider.authenticate(&ctx).await.map(|p| p.user_id().to_owned())
}

#[tokio::test]
async fn every_key_kind_accepts_good_tokens_and_names_each_refusal() {
    let alice = || Ok("alice".to_owned());
    for kind in ["hs", "rsa-a", "ps-rsa-a", "ec-p256", "ed25519"] {
        let provider = provider(kind);
        let alg = match kind {
            "hs" => "HS512",
            _ => "HS256",
        };
        let cases: Vec<(&str, String, Result<String, AuthError>)> = vec![
            ("valid", good_token(kind, &good_claims()), alice()),
            (
                "expired",
                good_token(kind, &with(good_claims(), "exp", json!(now() - 3600))),
                Err(AuthError::Expired),
            ),
            (
                "expired within leeway",
                good_token(kind, &with(good_claims(), "exp", json!(now() - 30))),
                alice(),
            ),
            (
                "not yet valid",
                good_token(kind, &with(good_claims(), "nbf", json!(now() + 3600))),
                Err(AuthError::NotYetValid),
            ),
            ("bad signature", forged_token(kind, &good_claims()), Err(AuthError::BadSignature)),
            (
                "wrong issuer",
                good_token(kind, &with(good_claims(), "iss", json!("https://evil.test"))),
                Err(AuthError::WrongIssuer),
            ),
            (
                "missing issuer",
                good_token(kind, &without(good_claims(), "iss")),
                Err(AuthError::MissingClaim { claim: "iss".into() }),
            ),
            (
                "wrong audience",
                good_token(kind, &with(good_claims(), "aud", json!("https://other.test"))),
                Err(AuthError::WrongAudience),
            ),
            (
                "audience list containing ours",
                good_token(kind, &with(good_claims(), "aud", json!(["https://x.test", AUD]))),
                alice(),
            ),
            (
                "missing audience",
                good_token(kind, &without(good_claims(), "aud")),
                Err(AuthError::MissingClaim { claim: "aud".into() }),
            ),
            (
                "missing exp",
                good_token(kind, &without(good_claims(), "exp")),
                Err(AuthError::MissingClaim { claim: "exp".into() }),
            ),
            (
                "alg none",
                unsigned(&good_claims()),
                Err(AuthError::DisallowedAlgorithm { alg: "none".into() }),
            ),
            (
                "algorithm confusion",
                confused_token(kind, &good_claims()),
                Err(AuthError::DisallowedAlgorithm { alg: alg.into() }),
            ),
            (
                "missing user claim",
                good_token(kind, &without(good_claims(), "sub")),
                Err(AuthError::MissingUserId { claim: "sub`, `userId".into() }),
            ),
            (
                "user id with control characters",
                good_token(kind, &with(good_claims(), "sub", json!("al\nice"))),
                Err(AuthError::InvalidUserId),
            ),
            ("malformed: one segment", "abc".to_owned(), Err(AuthError::MalformedToken)),
            ("malformed: junk segments", "a.b.c".to_owned(), Err(AuthError::MalformedToken)),
            (
                "exp is a string",
                good_token(kind, &with(good_claims(), "exp", json!("tomorrow"))),
                Err(AuthError::MissingClaim { claim: "exp".into() }),
            ),
        ];
        for (name, token, expected) in cases {
            let got = authenticate(&provider, &token).await;
            assert_eq!(got, expected, "{kind}: {name}");
            if let Err(err) = &got {
                let message = err.to_string();
                assert!(!message.contains(&token), "{kind}: {name}: error echoes the token");
            }
        }
    }
}

#[tokio::test]
async fn user_id_claim_is_configurable_and_falls_back_to_user_id_then_sub() {
    let custom =
        JwtAuthProvider::builder().secret(HS_SECRET).user_id_claim("email").build().unwrap();
    let token = |c: &Value| sign(Algorithm::HS256, "hs", None, c);

    let with_email = with(claims(), "email", json!("alice@example.test"));
    assert_eq!(authenticate(&custom, &token(&with_email)).await, Ok("alice@example.test".into()));

    let user_id_only = with(without(claims(), "sub"), "userId", json!("bob"));
    assert_eq!(authenticate(&custom, &token(&user_id_only)).await, Ok("bob".into()));
    assert_eq!(authenticate(&custom, &token(&claims())).await, Ok("alice".into()));

    let numeric = with(claims(), "sub", json!(12345));
    assert_eq!(authenticate(&custom, &token(&numeric)).await, Ok("12345".into()));
}

#[tokio::test]
async fn scopes_and_embedded_tokens_reach_the_principal() {
    let provider = JwtAuthProvider::builder().secret(HS_SECRET).build().unwrap();
    let claims = with(
        with(claims(), "scope", json!("repo:read issues:write")),
        "tokens",
        json!({ "github": "ghp_embedded", "empty": "" }),
    );
    let principal = provider.verify(&sign(Algorithm::HS256, "hs", None, &claims)).await.unwrap();
    assert_eq!(principal.scopes(), ["repo:read", "issues:write"]);
    assert!(principal.has_scope("issues:write") && !principal.has_scope("admin"));
    assert_eq!(principal.embedded_credential("github").unwrap().expose(), "ghp_embedded");
    assert!(principal.embedded_credential("empty").is_none());
    assert!(!principal.claims().contains_key("tokens"), "embedded tokens stay out of the claims");
    assert!(principal.expires_at().is_some());

    let not_extracting =
        JwtAuthProvider::builder().secret(HS_SECRET).extract_tokens(false).build().unwrap();
    let principal =
        not_extracting.verify(&sign(Algorithm::HS256, "hs", None, &claims)).await.unwrap();
    assert!(principal.embedded_credential("github").is_none());
}

#[tokio::test]
async fn leeway_is_configurable() {
    let strict =
        JwtAuthProvider::builder().secret(HS_SECRET).leeway(Duration::ZERO).build().unwrap();
    let just_expired = sign(Algorithm::HS256, "hs", None, &with(claims(), "exp", json!(now() - 5)));
    assert_eq!(authenticate(&strict, &just_expired).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn missing_or_malformed_authorization_header_is_refused() {
    let provider = provider("hs");
    let headers = http::HeaderMap::new();
    let ctx = RequestContext::new(TransportKind::StreamableHttp, &headers);
    assert_eq!(provider.authenticate(&ctx).await.unwrap_err(), AuthError::MissingCredentials);
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
    let ctx = RequestContext::new(TransportKind::StreamableHttp, &headers);
    assert_eq!(provider.authenticate(&ctx).await.unwrap_err(), AuthError::MalformedHeader);
}

#[test]
fn configuration_errors_name_the_key_and_hide_secrets() {
    let err = |b: mcp_auth::auth::JwtAuthProviderBuilder| b.build().err().unwrap();

    let short = err(JwtAuthProvider::builder().secret("short-secret"));
    assert_eq!(short.key, "jwt.secret");
    assert!(!short.to_string().contains("short-secret"), "{short}");

    let hs512_short = err(JwtAuthProvider::builder().hmac_secret(Algorithm::HS512, HS_SECRET));
    assert!(hs512_short.expected.contains("64 bytes"), "{hs512_short}");

    assert_eq!(err(JwtAuthProvider::builder()).key, "jwt.key");
    let two = err(JwtAuthProvider::builder().secret(HS_SECRET).jwks_url("https://a.test/jwks"));
    assert_eq!(two.key, "jwt.key");

    let bad_pem = err(JwtAuthProvider::builder().public_key_pem(Algorithm::RS256, "not a pem"));
    assert_eq!(bad_pem.key, "jwt.public_key");
    let wrong_alg = err(JwtAuthProvider::builder().public_key_pem(Algorithm::HS256, "x"));
    assert_eq!(wrong_alg.key, "jwt.algorithm");

    let insecure = err(JwtAuthProvider::builder().jwks_url("http://idp.example.test/jwks"));
    assert_eq!(insecure.key, "jwt.jwks_url");

    let prod: ConfigError =
        err(JwtAuthProvider::builder().secret(HS_SECRET).environment(Environment::Production));
    assert_eq!(prod.key, "jwt.audience");
    assert!(
        JwtAuthProvider::builder()
            .secret(HS_SECRET)
            .audience(AUD)
            .environment(Environment::Production)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_remembered_token_is_not_served_past_its_expiry() {
    let provider =
        JwtAuthProvider::builder().secret(HS_SECRET).leeway(Duration::ZERO).build().unwrap();
    let exp = now() + 2;
    let token = sign(Algorithm::HS256, "hs", None, &with(claims(), "exp", json!(exp)));
    assert_eq!(authenticate(&provider, &token).await, Ok("alice".into()));
    assert_eq!(authenticate(&provider, &token).await, Ok("alice".into()), "served from the cache");
    // `exp` has whole-second resolution and jsonwebtoken accepts `exp == now`. Until then the
    // token is accepted; after, refused, whether or not it is still remembered.
    poll_until("the token to expire", DEADLINE, async || {
        let checked_at = now();
        match authenticate(&provider, &token).await {
            Ok(user) => {
                assert_eq!(user, "alice");
                assert!(checked_at <= exp, "accepted at {checked_at}, past its exp {exp}");
                None
            }
            Err(err) => Some(err),
        }
    })
    .await;
    assert_eq!(authenticate(&provider, &token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn the_verified_cache_can_be_disabled_and_never_holds_failures() {
    let provider =
        JwtAuthProvider::builder().secret(HS_SECRET).verified_cache_capacity(0).build().unwrap();
    let token = sign(Algorithm::HS256, "hs", None, &claims());
    assert_eq!(authenticate(&provider, &token).await, Ok("alice".into()));
    let forged = forged_token("hs", &claims());
    for _ in 0..2 {
        assert_eq!(authenticate(&provider, &forged).await, Err(AuthError::BadSignature));
    }
}
