//! A factory that panics fails that user's request cleanly (`500`, JSON-RPC -32603, nothing
//! internal), and the server and other users are unaffected.

mod support;

use mcp_auth::wrap_server;
use serde_json::{Value, json};
use support::{
    app::*,
    server::{Observed, TestServer},
};

#[tokio::test]
async fn a_panicking_factory_fails_only_that_users_request() {
    let observed = Observed::default();
    let build = observed.factory();
    let server = wrap_server(move |token, user: String, extras| -> TestServer {
        if user == "boom" {
            panic!("factory failed for {user}");
        }
        build(token, user, extras)
    })
    .auth_provider(jwt_provider())
    .build()
    .unwrap();
    let url = serve_on_loopback(&server).await;

    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    for _ in 0..2 {
        let failed = stateless_request(&http, &url, Some(&token_for("boom")), "whoami", &body)
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(failed.status(), 500);
        let error: Value = failed.json().await.unwrap();
        assert_eq!(error["error"]["code"], -32603);
        assert_eq!(
            error["error"]["message"],
            "Internal error: the server could not be started for this user"
        );
    }
    let ok = stateless_request(&http, &url, Some(&token_for("alice")), "whoami", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("alice alice"));
    let stats = server.stats().await;
    assert_eq!(stats.live, 1, "the failed user holds no entry");
    server.shutdown();
}
