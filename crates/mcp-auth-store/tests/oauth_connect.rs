//! Connecting an account: the authorize URL carries PKCE (S256) and a state; alice logs in at a
//! real provider (oidc-provider, a child process), the callback stores her access and refresh
//! tokens, expiry and scopes, sealed — the database file holds none of them in the clear.

mod support;

use std::time::{Duration, SystemTime};

use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{CredentialStatus, StoreTokenResolver, oauth::OAuthConnector};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider},
};

#[tokio::test]
async fn connecting_alice_stores_her_tokens_sealed() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();

    let request = connector.authorize("alice", RESOURCE).unwrap();
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(param("code_challenge_method"), Some("S256"));
    assert_eq!(param("code_challenge").map(str::len), Some(43));
    assert_eq!(param("state"), Some(request.state.as_str()));
    assert_eq!(param("response_type"), Some("code"));
    let callback = provider.login(&request.url, "alice").await;
    let before = SystemTime::now();
    let info = connector.complete("alice", &callback.state, &callback.code).await.unwrap();

    assert_eq!((info.user_id.as_str(), info.resource_type.as_str()), ("alice", RESOURCE));
    assert_eq!(info.status, CredentialStatus::Active);
    assert!(info.scopes.iter().any(|s| s == "offline_access"), "{:?}", info.scopes);
    let expires_at = info.expires_at.expect("an expiry from expires_in");
    assert!(
        expires_at > before + Duration::from_secs(3500)
            && expires_at < before + Duration::from_secs(3700)
    );
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    let access = stored.access_token.expose().to_owned();
    let refresh = stored.refresh_token.as_ref().expect("a refresh token").expose().to_owned();
    assert!(!access.is_empty() && !refresh.is_empty() && access != refresh);
    t.assert_absent_from_disk(&[&access, &refresh, &callback.code]);
    assert_eq!(t.audit().last().unwrap().actor, "test");
    assert!(t.audit().iter().any(|row| row.actor == "oauth" && row.action == "put"));

    let resolver = StoreTokenResolver::new(t.store.clone());
    let resolved = resolver.resolve(&Principal::new("alice").unwrap(), RESOURCE).await.unwrap();
    assert_eq!(resolved.secret().expose(), access);
}

#[tokio::test]
async fn connecting_a_resource_without_a_provider_is_refused() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();

    let err = connector.authorize("alice", "elsewhere").unwrap_err();

    assert_eq!(err.to_string(), "no OAuth provider is configured for resource type `elsewhere`");
}
