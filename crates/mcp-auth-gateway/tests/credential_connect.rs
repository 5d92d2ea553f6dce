//! Connecting an upstream account through the gateway, end to end against a real OAuth 2.1 /
//! OpenID provider (oidc-provider, pinned, a child process; `tests/oauth-provider/`): alice and
//! bob each go from the "connect your account" `403` through `GET /connect/upstream`, the
//! provider's login and consent pages and the gateway's callback, and then their own server
//! receives their own token — alice's, alice's; bob's, bob's.

mod support;

/// The store crate's provider harness, shared rather than copied (it reads `super::DEADLINE`).
#[path = "../../mcp-auth-store/tests/support/provider.rs"]
#[allow(dead_code)]
mod provider;

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

use mcp_auth_store::{CredentialStore, Keyring};
use provider::{CLIENT_SECRET, RESOURCE, TestProvider};
use reqwest::{StatusCode, header};
use support::{
    gateway::{Gateway, stateless_call, tempdir::Dir, text},
    upstream::{
        Upstream, assert_each_request_carries_its_users_credential, config_with_credentials, echo,
    },
};

/// Connects `user` through the gateway as a platform and a browser would: the connect URL from
/// the `403`, followed with the user's bearer token to the provider, the provider's pages, and
/// the callback. Returns the callback's status and body, and the callback URL (for a replay).
async fn connect(gateway: &Gateway, provider: &TestProvider, user: &str) -> String {
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let token = gateway.token(user);
    let refused =
        stateless_call(&http, &gateway.url, &token, "echo", serde_json::json!({"text": "x"}))
            .send()
            .await
            .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{user} has no credential yet");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], mcp_auth::http::CREDENTIAL_REQUIRED_CODE, "{body}");
    let base = gateway.url.trim_end_matches("/mcp");
    let connect_url = body["error"]["data"]["connectUrl"].as_str().expect("a connect URL");
    assert_eq!(connect_url, format!("{base}/connect/{RESOURCE}"));

    let unauthenticated = http.get(connect_url).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED, "connecting needs the token");
    let started = http.get(connect_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::FOUND);
    let location = started.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(provider.authorization_endpoint.as_str()), "{location}");
    let authorize = url::Url::parse(&location).unwrap();

    let callback_prefix = format!("{base}/connect/callback");
    let back = provider.login_to(&authorize, user, &callback_prefix).await;
    let callback = format!("{callback_prefix}?code={}&state={}", back.code, back.state);
    let done = http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(
        done.text().await.unwrap(),
        format!("Connected {RESOURCE}. You can close this window.\n")
    );
    callback
}

#[tokio::test]
async fn alice_and_bob_connect_through_the_flow_and_each_server_gets_its_own_users_token() {
    // A native client: its loopback redirect URI matches whatever port the gateway gets.
    let provider =
        TestProvider::start_with(3600, "http://127.0.0.1/connect/callback", "native").await;
    let upstream = Upstream::start().await;
    let dir = Dir::new("connect");
    let keys = Keyring::generate();
    std::fs::write(dir.0.join("store.keys"), keys.export().expose()).unwrap();
    let path = dir.0.join("gateway.toml");
    let credentials = provider.gateway_credentials("CONNECT_CLIENT_SECRET");
    std::fs::write(&path, config_with_credentials(&upstream.url, RESOURCE, &credentials)).unwrap();
    let env = [("CONNECT_CLIENT_SECRET", CLIENT_SECRET)];
    let gateway = Gateway::start_file(&path, &env, Dir::new("connect-gateway")).await;

    let alices_callback = connect(&gateway, &provider, "alice").await;
    connect(&gateway, &provider, "bob").await;

    // A replayed callback is refused, and changes nothing.
    let http = reqwest::Client::new();
    let replay = http.get(&alices_callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let forged =
        format!("{}/connect/callback?code=x&state=forged", gateway.url.trim_end_matches("/mcp"));
    assert_eq!(http.get(&forged).send().await.unwrap().status(), StatusCode::BAD_REQUEST);

    let (alice, _) = gateway.client("alice").await;
    let (bob, _) = gateway.client("bob").await;
    assert_eq!(text(&alice.call_tool(echo("alice, connected")).await.unwrap()), "alice, connected");
    assert_eq!(text(&bob.call_tool(echo("bob, connected")).await.unwrap()), "bob, connected");

    // The tokens the provider issued, as the store holds them.
    let store = CredentialStore::open(dir.0.join("credentials.db"), keys).await.unwrap();
    let token_of = |user: &'static str| {
        let store = store.clone();
        async move {
            let stored = store.get(user, RESOURCE, "test").await.unwrap().expect("stored");
            assert!(stored.refresh_token.is_some(), "{user}'s refresh token is stored");
            stored.access_token.expose().to_owned()
        }
    };
    let (alices, bobs) = (token_of("alice").await, token_of("bob").await);
    assert_ne!(alices, bobs);
    assert_each_request_carries_its_users_credential(
        &upstream.seen(),
        &[("alice", alices.as_str()), ("bob", bobs.as_str())],
    );
    let logs = gateway.logs();
    assert!(!logs.contains(&alices) && !logs.contains(&bobs), "a token in the logs");
    assert!(!logs.contains(CLIENT_SECRET), "the client secret in the logs");
}
