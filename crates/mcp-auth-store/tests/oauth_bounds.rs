//! The connector's and the refresher's tables are bounded, and traffic reaches the bounds: the
//! pending `state`s (globally and per user), the backoff table and the refused-token table. A
//! bound never costs the newest entry: a state just issued always completes, a failure just
//! seen is always backed off.

mod support;

use std::{sync::Arc, time::Duration, time::SystemTime};

use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{
    NewCredential, StoreTokenResolver,
    oauth::{ConnectorOptions, MAX_PENDING_PER_USER, OAuthConnector, OAuthError},
};
use support::{
    TestStore,
    provider::{RESOURCE, TestProvider},
};

/// Whether `state` is still pending for `user`: a pending state reaches the provider, which
/// refuses the made-up code; a forgotten one is refused before any request.
async fn pending(connector: &OAuthConnector, user: &str, state: &str) -> bool {
    match connector.complete(user, state, "made-up-code").await.unwrap_err() {
        OAuthError::UnknownState => false,
        OAuthError::Refused { .. } => true,
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn pending_connections_stay_within_their_bound_and_the_newest_completes() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let options = ConnectorOptions::default().with_max_pending(100);
    let connector =
        OAuthConnector::with_options(t.store.clone(), [provider.config()], options).unwrap();

    let mut states = Vec::new();
    for n in 0..2_000 {
        let user = format!("user-{n}");
        let request = connector.authorize(&user, RESOURCE).unwrap();
        let state = request.url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        states.push((user, state));
    }

    let held = connector.pending_connections();
    assert!((1..=100).contains(&held), "{held} pending");
    let (newest_user, newest) = states.last().unwrap();
    assert!(pending(&connector, newest_user, newest).await, "the newest state was dropped");
    let (oldest_user, oldest) = &states[0];
    assert!(!pending(&connector, oldest_user, oldest).await);
}

#[tokio::test]
async fn one_user_holds_at_most_five_pending_connections() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    let state_of = |request: mcp_auth_store::oauth::AuthorizationRequest| {
        request.url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned()
    };
    let bob = state_of(connector.authorize("bob", RESOURCE).unwrap());

    let alice: Vec<_> =
        (0..8).map(|_| state_of(connector.authorize("alice", RESOURCE).unwrap())).collect();

    assert_eq!(MAX_PENDING_PER_USER, 5);
    for (n, state) in alice.iter().enumerate() {
        assert_eq!(pending(&connector, "alice", state).await, n >= 3, "alice's state {n}");
    }
    assert!(pending(&connector, "bob", &bob).await, "alice pushed bob's state out");
}

#[tokio::test]
async fn refused_tokens_and_backoffs_are_remembered_within_their_bound() {
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    let refresher = Arc::new(connector.refresher().with_max_tracked(10));
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(refresher.clone())
        .with_refresh_margin(Duration::from_secs(60));
    let soon = SystemTime::now() + Duration::from_secs(30);
    for n in 0..40 {
        // Refresh tokens the provider never issued: every refresh is refused (invalid_grant).
        let credential = NewCredential::new(format!("at-{n}"))
            .with_refresh_token(format!("made-up-refresh-token-{n}"))
            .with_expiry(soon);
        t.store.put(&format!("user-{n}"), RESOURCE, credential, "test").await.unwrap();
    }

    for n in 0..20 {
        let user = Principal::new(format!("user-{n}")).unwrap();
        assert!(resolver.resolve(&user, RESOURCE).await.is_err());
    }
    let (_, refused) = refresher.tracked();
    assert!((1..=10).contains(&refused), "{refused} refused tokens remembered");

    provider.outage(true).await;
    for n in 20..40 {
        let user = Principal::new(format!("user-{n}")).unwrap();
        // Still valid: served while the refresh backs off.
        assert!(resolver.resolve(&user, RESOURCE).await.is_ok());
    }
    let (backing_off, _) = refresher.tracked();
    assert!((1..=10).contains(&backing_off), "{backing_off} keys backing off");
}
