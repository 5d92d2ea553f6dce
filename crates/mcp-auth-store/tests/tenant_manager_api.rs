//! The tenant-manager endpoint, `GET /api/credentials/{userId}/{resourceType}`, served over a
//! real store on loopback and consumed by the library's real `ApiTokenResolver`: the
//! credential, `404` as not found, a revoked user's `410` as not found, a wrong service token as
//! "unavailable", and a failing row as `503`.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use mcp_auth::{ApiTokenResolver, CredentialError, Environment, Principal, TokenResolver};
use mcp_auth_store::NewCredential;
use support::{ADMIN_TOKEN, SERVICE_TOKEN, TestStore, serve};

/// A resolver aimed at `url` that asks on every call (no caching) and retries fast.
fn resolver(url: &str, token: &str) -> ApiTokenResolver {
    ApiTokenResolver::builder(url, token)
        .cache_ttl(Duration::ZERO)
        .negative_ttl(Duration::ZERO)
        .stale_if_error(Duration::ZERO)
        .failure_cooldown(Duration::ZERO)
        .retry_base_delay(Duration::from_millis(5))
        .environment(Environment::Development)
        .build()
        .unwrap()
}

fn principal(user: &str) -> Principal {
    Principal::new(user).unwrap()
}

fn not_found(resource_type: &str) -> CredentialError {
    CredentialError::NotFound { resource_type: resource_type.into() }
}

async fn get(url: &str, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{url}{path}")).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn the_resolver_gets_the_stored_credential_and_its_expiry() {
    let t = TestStore::new().await;
    let expiry = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    let credential =
        NewCredential::new("gho_alice").with_refresh_token("ghr_alice").with_expiry(expiry);
    t.store.put("alice", "github", credential, "test").await.unwrap();
    let url = serve(&t.store).await;

    let credential =
        resolver(&url, SERVICE_TOKEN).resolve(&principal("alice"), "github").await.unwrap();

    assert_eq!(credential.secret().expose(), "gho_alice");
    assert_eq!(credential.expires_at(), Some(expiry));
    // The wire format is the documented contract, and never carries the refresh token.
    let response = get(&url, "/api/credentials/alice/github", SERVICE_TOKEN).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "access_token": "gho_alice", "expires_at": "2100-01-01T00:00:00Z" })
    );
    let last = t.audit().pop().unwrap();
    assert_eq!((last.actor.as_str(), last.action.as_str()), ("tenant-api", "get"));
}

#[tokio::test]
async fn ids_that_need_encoding_reach_the_right_credential() {
    let t = TestStore::new().await;
    t.store
        .put("alice smith/ops", "github", NewCredential::new("gho_smith"), "test")
        .await
        .unwrap();
    t.store.put("alice", "github", NewCredential::new("gho_alice"), "test").await.unwrap();
    let url = serve(&t.store).await;

    let credential = resolver(&url, SERVICE_TOKEN)
        .resolve(&principal("alice smith/ops"), "github")
        .await
        .unwrap();

    assert_eq!(credential.secret().expose(), "gho_smith");
}

#[tokio::test]
async fn a_missing_or_needs_reconnect_credential_is_404_and_not_found() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice"), "test").await.unwrap();
    t.store.mark_needs_reconnect("alice", "github", "test").await.unwrap();
    let url = serve(&t.store).await;
    let resolver = resolver(&url, SERVICE_TOKEN);

    assert_eq!(
        resolver.resolve(&principal("bob"), "github").await.unwrap_err(),
        not_found("github")
    );
    assert_eq!(
        resolver.resolve(&principal("alice"), "github").await.unwrap_err(),
        not_found("github")
    );
    let response = get(&url, "/api/credentials/bob/github", SERVICE_TOKEN).await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn a_revoked_user_is_410_and_not_found() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice"), "test").await.unwrap();
    let url = serve(&t.store).await;
    let resolver = resolver(&url, SERVICE_TOKEN);
    assert!(resolver.resolve(&principal("alice"), "github").await.is_ok());

    t.store.revoke_user("alice", "test").await.unwrap();

    assert_eq!(get(&url, "/api/credentials/alice/github", SERVICE_TOKEN).await.status(), 410);
    assert_eq!(
        resolver.resolve(&principal("alice"), "github").await.unwrap_err(),
        not_found("github")
    );
}

#[tokio::test]
async fn a_wrong_service_token_is_401_and_unavailable_to_the_resolver() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice"), "test").await.unwrap();
    let url = serve(&t.store).await;

    for token in ["svc-token-5f1e9a-stor", "svc-token-5f1e9a-storf", ADMIN_TOKEN] {
        let err = resolver(&url, token).resolve(&principal("alice"), "github").await.unwrap_err();
        assert!(matches!(err, CredentialError::TenantManagerUnavailable { .. }), "{err:?}");
        let response = get(&url, "/api/credentials/alice/github", token).await;
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(!response.text().await.unwrap().contains("gho_alice"));
    }
    let response = reqwest::get(format!("{url}/api/credentials/alice/github")).await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_undecryptable_row_is_503_with_retry_after_and_unavailable() {
    let t = TestStore::new().await;
    t.store.put("bob", "github", NewCredential::new("gho_bob"), "test").await.unwrap();
    t.raw().execute("UPDATE credentials SET user_id = 'alice'", []).unwrap();
    let url = serve(&t.store).await;

    let response = get(&url, "/api/credentials/alice/github", SERVICE_TOKEN).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(!response.text().await.unwrap().contains("gho_bob"));
    let err =
        resolver(&url, SERVICE_TOKEN).resolve(&principal("alice"), "github").await.unwrap_err();
    assert!(matches!(err, CredentialError::TenantManagerUnavailable { .. }), "{err:?}");
}
