//! `max_lifetime` rebuilds an instance, but a request the instance is serving when its lifetime
//! ends is answered first: eviction used to cancel the instance at once, and the call in flight
//! failed (through the gateway: a 500 "no response message received from handler").

mod support;

use std::time::Duration;

use mcp_auth::instances::InstanceOptions;
use serde_json::json;
use support::app::{App, call};

#[tokio::test]
async fn a_call_in_flight_when_the_lifetime_ends_is_answered() {
    // A lifetime of 300 ms (swept every 75 ms), and a call that takes 1.2 s.
    let options = InstanceOptions::default().with_max_lifetime(Duration::from_millis(300));
    let app = App::start(|builder| builder.instances(options)).await;
    let (client, _) = app.client("alice").await;
    // Before the fix the session ended under the call, which was never answered.
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        call(&client, "slow", json!({ "steps": 3, "delay_ms": 400 })),
    )
    .await
    .expect("the call in flight is answered");
    assert_eq!(answer, "done");
    assert_eq!(app.observed.steps_of("alice").load(std::sync::atomic::Ordering::SeqCst), 3);
}
