//! Sessions belong to the user who created them. Another user's token with that session id gets
//! 404 on POST, GET and DELETE (and on the legacy SSE message endpoint), and the owner's session
//! keeps working.

mod support;

use serde_json::{Value, json};
use support::{DEADLINE, app::*, poll_until};

#[tokio::test]
async fn other_users_session_id_gets_404_on_post_get_and_delete() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let (alice, mallory) = (token_for("alice"), token_for("mallory"));
    let session = open_session(&http, &app.url, &alice).await;

    let post = whoami_in_session(&http, &app.url, &mallory, &session).await;
    assert_eq!(post.status(), 404);
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Session not found");

    let get = in_session(http.get(&app.url), &mallory, &session)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);

    let delete = in_session(http.delete(&app.url), &mallory, &session).send().await.unwrap();
    assert_eq!(delete.status(), 404);

    // Alice's session survived all of it.
    let response = whoami_in_session(&http, &app.url, &alice, &session).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("alice alice"));

    // And her own DELETE ends it.
    let delete = in_session(http.delete(&app.url), &alice, &session).send().await.unwrap();
    assert_eq!(delete.status(), 200);
    let after = whoami_in_session(&http, &app.url, &alice, &session).await;
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn other_users_legacy_sse_session_gets_404_and_the_owner_keeps_it() {
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let (alice, mallory) = (token_for("alice"), token_for("mallory"));
    let (mut events, post_url) = app.legacy_sse(&alice).await;
    let prefix = format!("{}/mcp/messages?sessionId=", app.base);
    assert!(post_url.starts_with(&prefix), "{post_url}");

    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let hijack = http.post(&post_url).bearer_auth(&mallory).json(&init).send().await.unwrap();
    assert_eq!(hijack.status(), 404);
    let anonymous = http.post(&post_url).json(&init).send().await.unwrap();
    assert_eq!(anonymous.status(), 401, "the session id in the URL is not a credential");

    let accepted = http.post(&post_url).bearer_auth(&alice).json(&init).send().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let (_, data) = events.next().await.unwrap();
    let response: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(response["id"], 1);
    assert!(response["result"]["serverInfo"].is_object(), "{response}");

    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(
        http.post(&post_url).bearer_auth(&alice).json(&initialized).send().await.unwrap().status(),
        202
    );
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}});
    assert_eq!(
        http.post(&post_url).bearer_auth(&alice).json(&call).send().await.unwrap().status(),
        202
    );
    let (_, data) = events.next().await.unwrap();
    assert!(data.contains("alice alice"), "{data}");

    // Closing the stream ends the session: nothing is leaked.
    drop(events);
    poll_until("the legacy SSE session to end with its stream", DEADLINE, || async {
        (app.server.stats().await.legacy_sse_sessions == 0).then_some(())
    })
    .await;
    let late = http.post(&post_url).bearer_auth(&alice).json(&call).send().await.unwrap();
    assert_eq!(late.status(), 404);
}
