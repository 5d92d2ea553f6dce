//! `[redis] credential_key_env` with two real `mcp-auth serve` processes, one real
//! `redis-server`, one tenant manager that counts its calls and one http upstream: a user's
//! credential fetched through one gateway is used by the other without a second call, and
//! Redis holds it sealed.
#![cfg(target_os = "linux")]

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use mcp_auth_redis::testing::RedisServer;
use rmcp::service::ClientLifecycleMode;
use serde_json::json;
use support::{
    gateway::{Gateway, client_with, text},
    upstream::{
        Upstream, assert_each_request_carries_its_users_credential, config_with_credentials, echo,
    },
};

const SERVICE_TOKEN: &str = "svc-token-of-the-credential-cache-test";
/// The AES key of both gateways (32 bytes, base64).
const CREDENTIAL_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// A tenant manager answering `{user}-from-the-tenant-manager` to every request with the service
/// token; counts every request.
async fn start_tenant_manager() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let grant =
        move |axum::extract::Path((user, _resource)): axum::extract::Path<(String, String)>,
              headers: axum::http::HeaderMap| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some(&format!("Bearer {SERVICE_TOKEN}"));
                if !authorized {
                    return Err(axum::http::StatusCode::UNAUTHORIZED);
                }
                Ok(axum::Json(json!({ "accessToken": format!("{user}-from-the-tenant-manager") })))
            }
        };
    let app =
        axum::Router::new().route("/api/credentials/{user}/{resource}", axum::routing::get(grant));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_fetched_through_one_gateway_is_used_by_another_and_sealed_in_redis() {
    let redis = RedisServer::start_unix();
    let upstream = Upstream::start().await;
    let (manager, calls) = start_tenant_manager().await;
    let credentials =
        format!("mode = \"api\"\nurl = \"{manager}\"\nservice_token_env = \"TENANT_TOKEN\"");
    let config = format!(
        "{}\n[redis]\nurl = \"{}\"\nkey_prefix = \"gw-cred:\"\n\
         credential_key_env = \"MCP_AUTH_CREDENTIAL_KEY\"\n",
        config_with_credentials(&upstream.url, "default", &credentials),
        redis.url()
    );
    let env = [("TENANT_TOKEN", SERVICE_TOKEN), ("MCP_AUTH_CREDENTIAL_KEY", CREDENTIAL_KEY)];
    let one = Gateway::start_with_env(&config, &env).await;
    let two = Gateway::start_with_env(&config, &env).await;

    for (gateway, said) in [(&one, "alice on one"), (&two, "alice on two")] {
        let (alice, _) =
            client_with(gateway, &gateway.token("alice"), ClientLifecycleMode::Initialize).await;
        assert_eq!(text(&alice.call_tool(echo(said)).await.unwrap()), said);
    }

    assert_eq!(calls.load(Ordering::SeqCst), 1, "one tenant-manager call for both gateways");
    assert_each_request_carries_its_users_credential(
        &upstream.seen(),
        &[("alice", "alice-from-the-tenant-manager")],
    );
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis.connection()).unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("gw-cred:cred:default:") && !keys[0].contains("alice"), "{keys:?}");
    let value: Vec<u8> = redis::cmd("GET").arg(&keys[0]).query(&mut redis.connection()).unwrap();
    let secret = b"alice-from-the-tenant-manager";
    assert!(!value.windows(secret.len()).any(|w| w == secret), "the secret is in Redis in clear");
}
