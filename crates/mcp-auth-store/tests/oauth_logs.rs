//! No OAuth secret reaches the logs or the errors: a whole connect / refresh / outage /
//! `invalid_grant` life, traced at TRACE for every target (reqwest and hyper included), and
//! every error's `Display` and `Debug`, are searched for the tokens, the code and the client
//! secret.
//!
//! A file of its own: it installs the process-wide `tracing` subscriber.

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{Refresher, StoreTokenResolver, oauth::OAuthConnector};
use support::{
    TestStore,
    captured::Captured,
    provider::{CLIENT_SECRET, RESOURCE, TestProvider, shorten},
};

#[tokio::test]
async fn no_token_code_or_client_secret_is_logged_or_in_an_error() {
    let captured = Captured::default();
    let subscriber = captured.subscriber();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let provider = TestProvider::start(3600).await;
    let t = TestStore::new().await;
    let connector = OAuthConnector::new(t.store.clone(), [provider.config()]).unwrap();
    let refresher = Arc::new(connector.refresher());
    let resolver = StoreTokenResolver::new(t.store.clone())
        .with_refresher(refresher.clone())
        .with_refresh_margin(Duration::from_secs(60));
    let alice = Principal::new("alice").unwrap();
    let mut secrets = vec![CLIENT_SECRET.to_owned()];
    let mut errors = Vec::new();

    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;
    secrets.push(callback.code.clone());
    errors.push(format!("{:?}", connector.complete("bob", &callback.state, "x").await));
    let request = connector.authorize("alice", RESOURCE).unwrap();
    let callback = provider.login(&request.url, "alice").await;
    secrets.push(callback.code.clone());
    connector.complete("alice", &callback.state, &callback.code).await.unwrap();
    shorten(&t.store, "alice", Duration::from_secs(30)).await;
    errors
        .push(format!("{:?}", connector.complete("alice", &callback.state, &callback.code).await));
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    secrets.push(stored.access_token.expose().to_owned());
    secrets.push(stored.refresh_token.as_ref().unwrap().expose().to_owned());
    provider.outage(true).await;
    errors.push(format!("{:?}", resolver.resolve(&alice, RESOURCE).await));
    provider.outage(false).await;
    // A refresher of its own: the resolver's is backing off after the outage.
    let refresher = connector.refresher();
    let fresh = refresher.refresh(&t.store, &stored).await;
    errors.push(format!("{fresh:?} {connector:?} {refresher:?} {resolver:?}"));
    let stored = t.store.get("alice", RESOURCE, "test").await.unwrap().unwrap();
    secrets.push(stored.access_token.expose().to_owned());
    secrets.push(stored.refresh_token.as_ref().unwrap().expose().to_owned());
    provider.revoke("alice").await;
    let refused = refresher.refresh(&t.store, &stored).await;
    errors.push(format!("{refused:?} {}", refused.as_ref().unwrap_err()));
    errors.push(format!("{:?}", provider.config()));

    let logs = captured.text();
    assert!(logs.contains("invalid_grant"), "the refusal was not logged:\n{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret in the logs:\n{logs}");
        for error in &errors {
            assert!(!error.contains(secret.as_str()), "a secret in {error}");
        }
    }
}
