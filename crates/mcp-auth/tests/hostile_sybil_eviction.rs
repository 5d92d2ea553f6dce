//! A caller holding many identities cannot push active users out: an instance with an open
//! stream or a request in flight is never evicted to make room, nor dropped as idle. When every
//! slot is busy, a new user gets `503` + `Retry-After`; idle users make room as before.

mod support;

use std::time::Duration;

use mcp_auth::{Limits, extras::ExtrasAllowList, instances::InstanceOptions};
use serde_json::{Value, json};
use support::{DEADLINE, app::*, poll_until};

async fn whoami(http: &reqwest::Client, app: &App, user: &str) -> reqwest::Response {
    let body = stateless_call(1, "whoami", json!({}), None);
    let request = stateless_request(http, &app.url, Some(&token_for(user)), "whoami", &body);
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_full_registry_of_active_users_refuses_newcomers_instead_of_evicting() {
    let app = App::start(|b| b.instances(InstanceOptions::default().with_max_instances(3))).await;
    // Three users with a session each: the rmcp client holds the GET stream open.
    let mut clients = Vec::new();
    for user in ["alice", "bob", "carol"] {
        let (client, _) = app.client(user).await;
        call(&client, "notes_add", json!({ "text": format!("{user}'s note") })).await;
        clients.push(client);
    }
    let http = reqwest::Client::new();
    for sybil in 0..5 {
        let refused = whoami(&http, &app, &format!("sybil-{sybil}")).await;
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()["retry-after"], "5");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32000);
    }
    // Nobody active lost anything.
    for (client, user) in clients.iter().zip(["alice", "bob", "carol"]) {
        assert_eq!(call(client, "notes_list", json!({})).await, format!("{user}'s note"));
    }
    assert_eq!(app.server.stats().await.created, 3);

    // Once a user leaves (their stream closes), their idle instance makes room.
    let carol = clients.pop().unwrap();
    carol.cancel().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = whoami(&http, &app, "dave").await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(tokio::time::Instant::now() < deadline, "the idle instance never made room");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (client, user) in clients.iter().zip(["alice", "bob"]) {
        assert_eq!(call(client, "notes_list", json!({})).await, format!("{user}'s note"));
    }
}

#[tokio::test]
async fn an_open_stream_keeps_its_instance_past_the_idle_timeout() {
    let options = InstanceOptions::default().with_idle_timeout(Duration::from_millis(200));
    let app = App::start(|b| b.instances(options)).await;
    let (alice, _) = app.client("alice").await;
    call(&alice, "notes_add", json!({ "text": "still here" })).await;
    // Bob calls after Alice, without a stream: once the sweep has dropped his idle instance,
    // Alice's — idle as long, but for its open stream — would have gone with it.
    let http = reqwest::Client::new();
    assert_eq!(whoami(&http, &app, "bob").await.status(), 200);
    assert_eq!(app.server.stats().await.live, 2);
    poll_until("the idle sweep to drop bob's instance", DEADLINE, async || {
        (app.server.stats().await.live == 1).then_some(())
    })
    .await;
    assert_eq!(call(&alice, "notes_list", json!({})).await, "still here");
    assert_eq!(app.server.stats().await.created, 2, "alice's instance was never rebuilt");
}

#[tokio::test]
async fn one_user_cannot_multiply_instances_through_extras() {
    let limits = Limits::default().with_max_instances_per_user(2);
    let allow = ExtrasAllowList::default().header("x-workspace");
    let app = App::start(|b| b.limits(limits).extras(allow)).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let mut statuses = Vec::new();
    for workspace in ["a", "b", "c"] {
        let request =
            stateless_request(&http, &app.url, Some(&token_for("mallory")), "whoami", &body)
                .header("x-workspace", workspace);
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(whoami(&http, &app, "alice").await.status(), 200);
}
