//! Crash safety of token refresh, through the real gateway: `mcp-auth serve` with
//! `[credentials] mode = "store"` is killed with SIGKILL while it is refreshing twenty users'
//! credentials at a real OAuth provider (oidc-provider, a child process). Reopened, the store
//! holds every credential whole — the old access token with the old refresh token, or the new
//! one with the rotated one, never a mix — sealed, and nothing in the clear.
//!
//! What a kill does lose, and this test does not hide: a refresh the provider completed after
//! the gateway died rotated that user's refresh token at the provider, so the stored (old) one
//! is spent; the user's next refresh gets `invalid_grant` and they are asked to connect again.
//! No store can keep a token it never received.

mod support;

#[path = "../../mcp-auth-store/tests/support/provider.rs"]
#[allow(dead_code)]
mod provider;

use std::{collections::HashMap, time::Duration};

use mcp_auth_store::{CredentialStore, Keyring, oauth::OAuthConnector};
use provider::{CLIENT_SECRET, RESOURCE, TestProvider, connect_expiring, eventually};
use support::{
    gateway::{Gateway, stateless_call, tempdir::Dir},
    upstream::{Upstream, config_with_credentials},
};

const DEADLINE: Duration = Duration::from_secs(30);
const USERS: usize = 20;

#[tokio::test]
async fn a_gateway_killed_mid_refresh_leaves_every_credential_whole_and_sealed() {
    let provider = TestProvider::start(3600).await;
    let dir = Dir::new("refresh-kill");
    let keys = Keyring::generate();
    std::fs::write(dir.0.join("store.keys"), keys.export().expose()).unwrap();
    let db = dir.0.join("credentials.db");

    // Twenty users connected, each credential due for refresh (30 s left, a 60 s margin).
    let mut before = HashMap::new();
    {
        let store = CredentialStore::open(&db, keys.clone()).await.unwrap();
        let connector = OAuthConnector::new(store.clone(), [provider.config()]).unwrap();
        for i in 0..USERS {
            let user = format!("user-{i}");
            connect_expiring(&connector, &provider, &store, &user).await;
            let stored = store.get(&user, RESOURCE, "test").await.unwrap().unwrap();
            let refresh = stored.refresh_token.unwrap().expose().to_owned();
            before.insert(user, (stored.access_token.expose().to_owned(), refresh));
        }
    }

    let upstream = Upstream::start().await;
    let path = dir.0.join("gateway.toml");
    let credentials = provider.gateway_credentials("CONNECT_CLIENT_SECRET");
    std::fs::write(&path, config_with_credentials(&upstream.url, RESOURCE, &credentials)).unwrap();
    let env = [("CONNECT_CLIENT_SECRET", CLIENT_SECRET)];
    let mut gateway = Gateway::start_file(&path, &env, Dir::new("refresh-kill-gateway")).await;

    // Every user at once, the provider answering one refresh every 100 ms: the gateway dies
    // once a quarter of them are answered, with the first long stored and the rest in flight.
    provider.stagger(Duration::from_millis(100)).await;
    let http = reqwest::Client::new();
    let calls: Vec<_> = (0..USERS)
        .map(|i| {
            let token = gateway.token(&format!("user-{i}"));
            let call = stateless_call(&http, &gateway.url, &token, "echo", serde_json::json!({}));
            tokio::spawn(async move { call.send().await.map(|r| r.status()) })
        })
        .collect();
    eventually("a quarter of the refreshes answered", || async {
        (provider.counters().await.refresh_grants >= (USERS / 4) as u64).then_some(())
    })
    .await;
    gateway.signal(libc::SIGKILL);
    gateway.child.wait().await.unwrap();
    for call in calls {
        let _ = call.await;
    }

    let reopened = CredentialStore::open(&db, keys).await.unwrap();
    let mut secrets = Vec::new();
    let mut refreshed = 0;
    for (user, (old_access, old_refresh)) in &before {
        let stored = reopened.get(user, RESOURCE, "test").await.unwrap();
        let stored = stored.unwrap_or_else(|| panic!("{user}'s credential is lost"));
        let access = stored.access_token.expose().to_owned();
        let refresh = stored.refresh_token.expect("a refresh token").expose().to_owned();
        if access == *old_access {
            assert_eq!(
                refresh, *old_refresh,
                "{user}: the old access token beside a new refresh token"
            );
        } else {
            assert_ne!(
                refresh, *old_refresh,
                "{user}: a new access token beside the spent refresh token"
            );
            refreshed += 1;
        }
        secrets.extend([access, refresh, old_access.clone(), old_refresh.clone()]);
    }
    assert!(
        (1..USERS).contains(&refreshed),
        "the kill landed mid-run: {refreshed} of {USERS} refreshed and stored"
    );
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let file = entry.unwrap().path();
        if !file.file_name().unwrap().to_string_lossy().starts_with("credentials.db") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        for secret in &secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{} holds a token in the clear", file.display());
        }
    }
}
