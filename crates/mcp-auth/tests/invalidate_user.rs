//! `WrappedServer::invalidate_user`: after a revocation nothing cached keeps serving the user —
//! their next request resolves the credential again at the tenant manager and gets a new
//! instance (a revoked user is then refused there) — while other users keep their instances,
//! sessions and cached credentials.

mod support;
mod tenant_manager;

use std::sync::atomic::Ordering;

use serde_json::json;
use support::app::*;
use tenant_manager::Manager;

#[tokio::test]
async fn invalidating_a_user_drops_their_credential_and_instance_and_nobody_elses() {
    let manager = Manager::start().await;
    manager.grant("alice", "default", json!({ "accessToken": "ghp_alice_1" }));
    manager.grant("bob", "default", json!({ "accessToken": "ghp_bob" }));
    let resolver = manager.resolver().build().unwrap();
    let app = App::start(|b| b.token_resolver(resolver)).await;
    let (alice, _) = app.client("alice").await;
    let (bob, _) = app.client("bob").await;
    assert_eq!(call(&alice, "credential", json!({})).await, "ghp_alice_1");
    assert_eq!(call(&bob, "credential", json!({})).await, "ghp_bob");
    assert_eq!(manager.calls(), 2);
    // The tenant manager now holds another credential for alice; the cache does not know.
    manager.grant("alice", "default", json!({ "accessToken": "ghp_alice_2" }));

    let closed = app.server.invalidate_user("alice").await;

    assert_eq!(closed, 1);
    let stats = app.server.stats().await;
    assert_eq!((stats.live, stats.created), (1, 2));
    // Her next request, in the same session, asks the tenant manager again and gets a new
    // instance built with what it answers (the session is hers: it is restored, not lost).
    assert_eq!(call(&alice, "credential", json!({})).await, "ghp_alice_2");
    assert_eq!(manager.calls(), 3);
    assert_eq!(app.server.stats().await.created, 3);
    // Bob kept his session, his instance and his cached credential.
    assert_eq!(call(&bob, "credential", json!({})).await, "ghp_bob");
    assert_eq!(manager.calls(), 3);
    assert_eq!(app.observed.instances.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn invalidating_everyone_drops_every_credential_and_instance() {
    let manager = Manager::start().await;
    manager.grant("alice", "default", json!({ "accessToken": "ghp_alice_1" }));
    manager.grant("bob", "default", json!({ "accessToken": "ghp_bob_1" }));
    let resolver = manager.resolver().build().unwrap();
    let app = App::start(|b| b.token_resolver(resolver)).await;
    let (alice, _) = app.client("alice").await;
    let (bob, _) = app.client("bob").await;
    assert_eq!(call(&alice, "credential", json!({})).await, "ghp_alice_1");
    assert_eq!(call(&bob, "credential", json!({})).await, "ghp_bob_1");
    manager.grant("alice", "default", json!({ "accessToken": "ghp_alice_2" }));
    manager.grant("bob", "default", json!({ "accessToken": "ghp_bob_2" }));

    let closed = app.server.invalidate_all().await;

    assert_eq!(closed, 2);
    let stats = app.server.stats().await;
    assert_eq!((stats.live, stats.created), (0, 2));
    // Both ask the tenant manager again and get new instances; their sessions are restored.
    assert_eq!(call(&alice, "credential", json!({})).await, "ghp_alice_2");
    assert_eq!(call(&bob, "credential", json!({})).await, "ghp_bob_2");
    assert_eq!(manager.calls(), 4);
    assert_eq!(app.server.stats().await.created, 4);
}
