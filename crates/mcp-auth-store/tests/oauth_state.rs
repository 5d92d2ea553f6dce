//! The OAuth `state` is bound to the user and resource that started the connection, single use,
//! and expires: a forged, replayed, other user's or expired state is refused with a clear error
//! and stores nothing, against a real provider.

mod support;

use std::time::Duration;

use mcp_auth_store::oauth::{ConnectorOptions, OAuthConnector, OAuthError};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider},
};

async fn setup(options: ConnectorOptions) -> (TestProvider, TestStore, OAuthConnector) {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector =
        OAuthConnector::with_options(t.store.clone(), [provider.config()], options).unwrap();
    (provider, t, connector)
}

#[tokio::test]
async fn a_forged_state_is_refused() {
    let (provider, t, connector) = setup(ConnectorOptions::default()).await;
    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;

    let err = connector.complete("alice", "forged-state", &callback.code).await.unwrap_err();

    assert!(matches!(err, OAuthError::UnknownState), "{err:?}");
    assert!(err.to_string().contains("forged, already used"), "{err}");
    assert!(t.store.get("alice", RESOURCE, "test").await.unwrap().is_none());
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let (provider, t, connector) = setup(ConnectorOptions::default()).await;
    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;
    connector.complete("alice", &callback.state, &callback.code).await.unwrap();
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();

    let err = connector.complete("alice", &callback.state, &callback.code).await.unwrap_err();

    assert!(matches!(err, OAuthError::UnknownState), "{err:?}");
    let after = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    assert_eq!(after.access_token, stored.access_token);
}

#[tokio::test]
async fn another_users_state_is_refused_and_spent() {
    let (provider, t, connector) = setup(ConnectorOptions::default()).await;
    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;

    let err = connector.complete("bob", &callback.state, &callback.code).await.unwrap_err();

    assert!(matches!(err, OAuthError::StateMismatch), "{err:?}");
    assert_eq!(err.to_string(), "the OAuth state was issued to another user");
    assert!(t.store.list(None, "test").await.unwrap().is_empty());
    // Spent: not even alice can use it now.
    let err = connector.complete("alice", &callback.state, &callback.code).await.unwrap_err();
    assert!(matches!(err, OAuthError::UnknownState), "{err:?}");
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let (provider, t, connector) =
        setup(ConnectorOptions::default().with_state_ttl(Duration::ZERO)).await;
    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;

    let err = connector.complete("alice", &callback.state, &callback.code).await.unwrap_err();

    assert!(matches!(err, OAuthError::ExpiredState), "{err:?}");
    assert!(t.store.get("alice", RESOURCE, "test").await.unwrap().is_none());
}

#[tokio::test]
async fn a_code_without_its_pkce_verifier_is_refused_by_the_provider() {
    let (provider, t, connector) = setup(ConnectorOptions::default()).await;
    let first = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&first.url, "alice").await;
    // A second pending connection of alice's, whose verifier does not match the first's code.
    let second = connector.authorize("alice", RESOURCE).unwrap();

    let err = connector.complete("alice", &second.state, &callback.code).await.unwrap_err();

    assert!(matches!(&err, OAuthError::Refused { error } if error == "invalid_grant"), "{err:?}");
    assert!(t.store.get("alice", RESOURCE, "test").await.unwrap().is_none());
}

/// RFC 9207: with the provider's issuer configured, a callback must name it in `iss`. A code
/// brought back under another issuer (a mix-up) or none is never redeemed, and the state is
/// spent.
#[tokio::test]
async fn a_callback_from_another_issuer_or_none_is_refused() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    // oidc-provider's issuer identifier, as it names itself (no trailing slash).
    let issuer = provider.issuer.as_str().trim_end_matches('/').to_owned();
    let config = provider.config().with_issuer(&issuer);
    let connector = OAuthConnector::new(t.store.clone(), [config]).unwrap();

    let request = connector.authorize("alice", RESOURCE).unwrap();
    let mixed_up = provider.login(&request.url, "alice").await;
    assert_eq!(mixed_up.iss.as_deref(), Some(issuer.as_str()), "the provider sends iss");
    let err = connector
        .complete_callback(&mixed_up.state, &mixed_up.code, Some("https://attacker.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::IssuerMismatch), "{err:?}");
    let again = connector.complete_callback(&mixed_up.state, &mixed_up.code, Some(&issuer)).await;
    assert!(matches!(again, Err(OAuthError::UnknownState)), "the state was not spent: {again:?}");

    let bare = provider.login(&connector.authorize("alice", RESOURCE).unwrap().url, "alice").await;
    let err = connector.complete_callback(&bare.state, &bare.code, None).await.unwrap_err();
    assert!(matches!(err, OAuthError::IssuerMismatch), "{err:?}");
    assert!(t.store.get("alice", RESOURCE, "test").await.unwrap().is_none());

    let good = provider.login(&connector.authorize("alice", RESOURCE).unwrap().url, "alice").await;
    connector.complete_callback(&good.state, &good.code, good.iss.as_deref()).await.unwrap();
    assert!(t.store.get("alice", RESOURCE, "test").await.unwrap().is_some());
}
