//! `JwtAuthProvider` over a JWKS served by a real HTTP server on loopback: key rotation, the
//! refresh rate limit, single-flight fetching, and outages.

mod support;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcp_auth::{AuthError, JwtAuthProvider, auth::jwks::JwksOptions};
use serde_json::json;
use support::*;

fn provider(server: &JwksServer, min_refresh: Duration) -> JwtAuthProvider {
    JwtAuthProvider::builder()
        .jwks_url(&server.url)
        .jwks_options(JwksOptions::default().with_min_refresh_interval(min_refresh))
        .build()
        .unwrap()
}

fn rsa_token(key: &str, kid: &str) -> String {
    sign(Algorithm::RS256, key, Some(kid), &claims())
}

#[tokio::test]
async fn rotated_keys_are_picked_up_through_an_unknown_kid() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = provider(&server, Duration::ZERO);

    assert_eq!(provider.verify(&rsa_token("rsa-a", "key-a")).await.unwrap().user_id(), "alice");
    assert_eq!(server.fetches(), 1);

    // The identity provider rotates: key-b replaces key-a.
    server.serve(vec![public_jwk(Algorithm::RS256, "rsa-b", "key-b")]);
    assert_eq!(provider.verify(&rsa_token("rsa-b", "key-b")).await.unwrap().user_id(), "alice");
    assert_eq!(server.fetches(), 2, "the unknown kid triggered exactly one refetch");

    // Tokens signed by the retired key stop working once the set no longer lists it.
    assert_eq!(
        provider.verify(&rsa_token("rsa-a", "key-a")).await.err(),
        Some(AuthError::UnknownKey)
    );
}

#[tokio::test]
async fn unknown_kids_cannot_force_more_than_one_fetch_per_interval() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = provider(&server, Duration::from_secs(60));
    provider.verify(&rsa_token("rsa-a", "key-a")).await.unwrap();

    for i in 0..25 {
        let forged = rsa_token("rsa-b", &format!("made-up-{i}"));
        assert_eq!(provider.verify(&forged).await.err(), Some(AuthError::UnknownKey));
    }
    assert_eq!(server.fetches(), 1, "refreshes inside the interval are skipped");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::ES256, "ec-p256", "ec")]).await;
    let provider = provider(&server, Duration::ZERO);
    let token = sign(Algorithm::ES256, "ec-p256", Some("ec"), &claims());
    let results = futures::future::join_all((0..20).map(|_| provider.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn unreachable_keys_are_a_server_side_failure_and_recover() {
    let server = JwksServer::start(vec![]).await;
    server.fail();
    let provider = provider(&server, Duration::ZERO);
    let token = sign(Algorithm::EdDSA, "ed25519", Some("ed"), &claims());

    let err = provider.verify(&token).await.unwrap_err();
    assert_eq!(err, AuthError::KeysUnavailable);
    assert!(err.is_server_side());
    assert!(provider.prefetch().await.is_err());

    server.serve(vec![public_jwk(Algorithm::EdDSA, "ed25519", "ed")]);
    assert_eq!(provider.verify(&token).await.unwrap().user_id(), "alice");
}

#[tokio::test]
async fn an_outage_after_a_fetch_keeps_the_known_keys() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    // A zero cache TTL makes the set stale at once; without the verified-token cache every
    // verify goes to the key set (a remembered token would not show whether the key survived).
    let provider = JwtAuthProvider::builder()
        .jwks_url(&server.url)
        .jwks_options(
            JwksOptions::default()
                .with_min_refresh_interval(Duration::ZERO)
                .with_cache_ttl(Duration::ZERO),
        )
        .verified_cache_capacity(0)
        .build()
        .unwrap();
    provider.prefetch().await.unwrap();
    server.fail();
    let token = rsa_token("rsa-a", "key-a");

    // Each verify of the stale set starts a background refetch unless one is running; a third
    // fetch therefore means the second (failed) one has finished. The key verifies throughout.
    poll_until("a failed background refetch to finish", DEADLINE, async || {
        assert_eq!(provider.verify(&token).await.unwrap().user_id(), "alice");
        (server.fetches() >= 3).then_some(())
    })
    .await;
    assert_eq!(provider.verify(&token).await.unwrap().user_id(), "alice");
}

#[tokio::test]
async fn symmetric_and_encryption_keys_in_a_jwks_are_ignored() {
    let hs = json!({ "kty": "oct", "kid": "hs", "k": base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD, HS_SECRET) });
    let mut enc = public_jwk(Algorithm::RS256, "rsa-b", "enc");
    enc["use"] = json!("enc");
    let server =
        JwksServer::start(vec![hs, enc, public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = provider(&server, Duration::from_secs(60));

    assert!(provider.verify(&rsa_token("rsa-a", "key-a")).await.is_ok());
    let hs_token = sign(Algorithm::HS256, "hs", Some("hs"), &claims());
    assert_eq!(provider.verify(&hs_token).await.err(), Some(AuthError::UnknownKey));
    assert_eq!(
        provider.verify(&rsa_token("rsa-b", "enc")).await.err(),
        Some(AuthError::UnknownKey)
    );
}

#[tokio::test]
async fn a_jwk_declaring_its_alg_refuses_other_algorithms() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = provider(&server, Duration::from_secs(60));
    let ps = sign(Algorithm::PS256, "rsa-a", Some("key-a"), &claims());
    assert_eq!(
        provider.verify(&ps).await.err(),
        Some(AuthError::DisallowedAlgorithm { alg: "PS256".into() })
    );
}

#[tokio::test]
async fn a_token_without_kid_uses_a_single_key_set_only() {
    let server = JwksServer::start(vec![public_jwk(Algorithm::RS256, "rsa-a", "key-a")]).await;
    let provider = provider(&server, Duration::from_secs(60));
    let no_kid = sign(Algorithm::RS256, "rsa-a", None, &claims());
    assert!(provider.verify(&no_kid).await.is_ok());

    let server = JwksServer::start(vec![
        public_jwk(Algorithm::RS256, "rsa-a", "key-a"),
        public_jwk(Algorithm::RS256, "rsa-b", "key-b"),
    ])
    .await;
    let provider = self::provider(&server, Duration::from_secs(60));
    assert_eq!(provider.verify(&no_kid).await.err(), Some(AuthError::UnknownKey));
}
