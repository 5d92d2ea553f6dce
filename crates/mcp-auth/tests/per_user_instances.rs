//! `wrap_server` instance management over real HTTP: one instance per user, isolation, the
//! pool's bounds, and a fresh instance when the credential changes.

mod support;

use std::{sync::atomic::Ordering, time::Duration};

use mcp_auth::instances::{InstanceMode, InstanceOptions};
use serde_json::json;
use support::{DEADLINE, app::*, poll_until};

#[tokio::test]
async fn each_user_sees_their_own_identity_and_notes() {
    let app = App::start(|b| b).await;
    let (alice, _) = app.client("alice").await;
    let (bob, _) = app.client("bob").await;
    assert_eq!(call(&alice, "whoami", json!({})).await, "alice alice");
    assert_eq!(call(&bob, "whoami", json!({})).await, "bob bob");

    call(&alice, "notes_add", json!({ "text": "alice's secret plan" })).await;
    assert_eq!(call(&bob, "notes_list", json!({})).await, "");
    assert_eq!(call(&alice, "notes_list", json!({})).await, "alice's secret plan");

    // A second session of alice's shares her instance (per_user mode).
    let (alice_again, _) = app.client("alice").await;
    assert_eq!(call(&alice_again, "notes_list", json!({})).await, "alice's secret plan");
    assert_eq!(app.observed.instances.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn two_hundred_concurrent_users_each_get_exactly_one_instance() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let calls = (0..200).map(|i| {
        let (http, url) = (http.clone(), app.url.clone());
        async move {
            let user = format!("user-{i:03}");
            let token = token_for(&user);
            // Two concurrent first requests per user: one instance must come of them.
            let one = stateless_request(
                &http,
                &url,
                Some(&token),
                "whoami",
                &stateless_call(1, "whoami", json!({}), None),
            )
            .send();
            let two = stateless_request(
                &http,
                &url,
                Some(&token),
                "whoami",
                &stateless_call(2, "whoami", json!({}), None),
            )
            .send();
            let (one, two) = tokio::join!(one, two);
            for response in [one.unwrap(), two.unwrap()] {
                assert_eq!(response.status(), 200);
                let body = response.text().await.unwrap();
                assert!(body.contains(&format!("\"{user} {user}\"")), "{user} got {body}");
            }
        }
    });
    futures::future::join_all(calls).await;
    assert_eq!(app.observed.instances.load(Ordering::SeqCst), 200);
    let stats = app.server.stats().await;
    assert_eq!((stats.live, stats.created), (200, 200));
}

#[tokio::test]
async fn idle_instances_are_evicted_and_rebuilt_empty() {
    let options = InstanceOptions::default().with_idle_timeout(Duration::from_millis(300));
    let app = App::start(|b| b.instances(options)).await;
    let (alice, _) = app.client("alice").await;
    call(&alice, "notes_add", json!({ "text": "remember me" })).await;
    assert_eq!(app.server.stats().await.live, 1);

    // Closing the client ends its GET stream, which pinned the instance; then it goes idle.
    alice.cancel().await.unwrap();
    // `stats` runs the pool's pending maintenance, so polling it sees the eviction once due.
    poll_until("the idle instance to be evicted", DEADLINE, || async {
        (app.server.stats().await.live == 0).then_some(())
    })
    .await;

    // Its session went with it: a new client gets a new, empty instance.
    let (alice, _) = app.client("alice").await;
    assert_eq!(call(&alice, "notes_list", json!({})).await, "");
    assert_eq!(app.observed.instances.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_pool_is_bounded_by_max_instances() {
    let options = InstanceOptions::default().with_max_instances(5);
    let app = App::start(|b| b.instances(options)).await;
    let http = reqwest::Client::new();
    for i in 0..12 {
        let token = token_for(&format!("user-{i}"));
        let body = stateless_call(1, "whoami", json!({}), None);
        let response =
            stateless_request(&http, &app.url, Some(&token), "whoami", &body).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let stats = app.server.stats().await;
    assert_eq!(stats.created, 12);
    assert!(stats.live <= 5, "live instances {} exceed the bound", stats.live);
}

#[tokio::test]
async fn per_session_mode_builds_an_instance_per_session() {
    let options = InstanceOptions::default().with_mode(InstanceMode::PerSession);
    let app = App::start(|b| b.instances(options)).await;
    let (first, _) = app.client("alice").await;
    let (second, _) = app.client("alice").await;
    call(&first, "notes_add", json!({ "text": "only in the first session" })).await;
    assert_eq!(call(&second, "notes_list", json!({})).await, "");
    assert_eq!(call(&first, "notes_list", json!({})).await, "only in the first session");
    assert_eq!(call(&second, "whoami", json!({})).await, "alice alice");
}

#[tokio::test]
async fn only_allow_listed_headers_reach_the_factory_as_extras() {
    let allow = mcp_auth::extras::ExtrasAllowList::new().header("X-Workspace").query("region");
    let app = App::start(|b| b.extras(allow)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "extras", json!({}), None);
    let response = stateless_request(
        &http,
        &format!("{}?region=eu&debug=1", app.url),
        Some(&token_for("alice")),
        "extras",
        &body,
    )
    .header("x-workspace", "w1")
    .header("x-api-key", "not-an-extra")
    .header("x-forwarded-for", "10.0.0.1")
    .send()
    .await
    .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains(r#""text":"region=eu,workspace=w1""#), "{text}");
}
