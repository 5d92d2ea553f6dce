//! Server → client traffic reaches only the user and request it belongs to: two users running
//! `slow` at the same time (whose clients pick the same progress tokens) each see exactly their
//! own progress, in both protocol eras.

mod support;

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use support::app::*;

#[tokio::test]
async fn concurrent_users_receive_only_their_own_progress() {
    let app = App::start(|b| b).await;
    let (alice, alice_seen) = app.client("alice").await;
    let (bob, bob_seen) = app.client("bob").await;

    let (a, b) = tokio::join!(
        alice.call_tool(call_params("slow", json!({ "steps": 3, "delay_ms": 40 }))),
        bob.call_tool(call_params("slow", json!({ "steps": 5, "delay_ms": 25 }))),
    );
    assert_eq!(text_of(&a.unwrap()), "done");
    assert_eq!(text_of(&b.unwrap()), "done");

    for (seen, steps) in [(&alice_seen, 3), (&bob_seen, 5)] {
        eventually("all progress", || seen.progress.lock().unwrap().len() >= steps).await;
        let mut progress = seen.progress.lock().unwrap().clone();
        progress.sort_by(|x, y| x.progress.total_cmp(&y.progress));
        assert_eq!(progress.len(), steps, "exactly one notification per step of this user's call");
        for (i, p) in progress.iter().enumerate() {
            assert_eq!(p.progress, (i + 1) as f64);
            assert_eq!(
                p.total,
                Some(steps as f64),
                "a notification of the other user's call leaked"
            );
            assert_eq!(p.message.as_deref(), Some(format!("step {}", i + 1).as_str()));
        }
    }
}

#[tokio::test]
async fn stateless_requests_stream_their_own_progress() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    // Both users pick the same progress token on purpose.
    let run = |user: &'static str, steps: u32| {
        let (http, url) = (http.clone(), app.url.clone());
        async move {
            let body =
                stateless_call(1, "slow", json!({ "steps": steps, "delay_ms": 30 }), Some("tok-1"));
            let response = stateless_request(&http, &url, Some(&token_for(user)), "slow", &body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let mut events = SseReader::new(response);
            let mut totals = Vec::new();
            while let Some((_, data)) = events.next().await {
                let message: Value = serde_json::from_str(&data).unwrap();
                if message["method"] == "notifications/progress" {
                    assert_eq!(message["params"]["progressToken"], "tok-1");
                    totals.push(message["params"]["total"].as_f64().unwrap());
                } else if message["id"] == 1 {
                    assert_eq!(message["result"]["content"][0]["text"], "done");
                    break;
                }
            }
            totals
        }
    };
    let (alice, bob) = tokio::join!(run("alice", 3), run("bob", 6));
    assert_eq!(alice, vec![3.0; 3]);
    assert_eq!(bob, vec![6.0; 6]);
    assert_eq!(app.observed.steps_of("alice").load(Ordering::SeqCst), 3);
}
