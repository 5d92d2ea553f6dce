//! The admin API over a real store on loopback: put, list (no secrets), delete, revoke and
//! rotate through HTTP; its own bearer token; bounded bodies; JSON errors that never echo a
//! secret; and the router's refusal of weak, missing or shared tokens.

mod support;

use mcp_auth_store::{NewCredential, TenantManagerService};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, SERVICE_TOKEN, TestStore, serve, serve_router};

async fn call(method: Method, url: String, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = Client::new().request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_credential_put_by_an_admin_is_served_to_gateways() {
    let t = TestStore::new().await;
    let url = serve(&t.store).await;
    let body = json!({
        "access_token": "gho_admin_put",
        "refresh_token": "ghr_admin_put",
        "expires_at": "2100-01-01T00:00:00Z",
        "scopes": ["repo", "read:org"],
    });

    let response =
        call(Method::PUT, format!("{url}/admin/credentials/alice/github"), ADMIN_TOKEN, Some(body))
            .await;

    let (status, info) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(info["user_id"], "alice");
    assert_eq!(info["key_id"], "k1");
    assert_eq!(info["status"], "active");
    assert_eq!(info["scopes"], json!(["repo", "read:org"]));
    assert_eq!(info["expires_at"], "2100-01-01T00:00:00Z");
    assert!(!info.to_string().contains("gho_admin_put"), "{info}");
    let stored = t.store.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.refresh_token.unwrap().expose(), "ghr_admin_put");
    let served =
        call(Method::GET, format!("{url}/api/credentials/alice/github"), SERVICE_TOKEN, None).await;
    assert_eq!(json_of(served).await.1["access_token"], "gho_admin_put");
    assert_eq!(t.audit()[0].actor, "admin-api");
}

#[tokio::test]
async fn list_shows_no_secrets_and_filters_by_user() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_alice_list"), "test").await.unwrap();
    t.store
        .put(
            "bob",
            "github",
            NewCredential::new("gho_bob_list").with_refresh_token("ghr_bob_list"),
            "test",
        )
        .await
        .unwrap();
    let url = serve(&t.store).await;

    let (status, all) =
        json_of(call(Method::GET, format!("{url}/admin/credentials"), ADMIN_TOKEN, None).await)
            .await;
    assert_eq!(status, 200);
    let users: Vec<&str> = all["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    for secret in ["gho_alice_list", "gho_bob_list", "ghr_bob_list"] {
        assert!(!all.to_string().contains(secret), "{all}");
    }
    let (_, bobs) = json_of(
        call(Method::GET, format!("{url}/admin/credentials?user=bob"), ADMIN_TOKEN, None).await,
    )
    .await;
    assert_eq!(bobs["credentials"].as_array().unwrap().len(), 1);
    let bad =
        call(Method::GET, format!("{url}/admin/credentials?owner=bob"), ADMIN_TOKEN, None).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    let url = serve(&t.store).await;
    let path = format!("{url}/admin/credentials/alice/github");

    assert_eq!(call(Method::DELETE, path.clone(), ADMIN_TOKEN, None).await.status(), 204);
    assert_eq!(call(Method::DELETE, path, ADMIN_TOKEN, None).await.status(), 404);
    assert!(t.store.get("alice", "github", "test").await.unwrap().is_none());
}

#[tokio::test]
async fn revoking_a_user_makes_the_credentials_endpoint_answer_410() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    t.store.put("alice", "slack", NewCredential::new("xoxp_a"), "test").await.unwrap();
    let url = serve(&t.store).await;

    let (status, body) = json_of(
        call(Method::POST, format!("{url}/admin/users/alice/revoke"), ADMIN_TOKEN, None).await,
    )
    .await;

    assert_eq!((status, body), (StatusCode::OK, json!({ "user_id": "alice", "deleted": 2 })));
    let served =
        call(Method::GET, format!("{url}/api/credentials/alice/slack"), SERVICE_TOKEN, None).await;
    assert_eq!(served.status(), 410);
}

#[tokio::test]
async fn rotate_key_re_encrypts_every_row_under_the_current_key() {
    let t = TestStore::new().await;
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        t.store
            .put(user, "github", NewCredential::new(format!("tok_{user}")), "test")
            .await
            .unwrap();
    }
    let store = t.reopen(t.keyring.clone().with_generated_key("k2").unwrap()).await;
    let url = serve(&store).await;

    let (status, report) =
        json_of(call(Method::POST, format!("{url}/admin/rotate-key"), ADMIN_TOKEN, None).await)
            .await;

    assert_eq!(status, 200);
    assert_eq!(report, json!({ "key_id": "k2", "rotated": 5, "failed": 0, "batches": 2 }));
    let infos = store.list(None, "test").await.unwrap();
    assert!(infos.iter().all(|info| info.key_id == "k2"), "{infos:?}");
}

#[tokio::test]
async fn a_wrong_or_missing_admin_token_is_401_on_every_admin_route() {
    let t = TestStore::new().await;
    t.store.put("alice", "github", NewCredential::new("gho_a"), "test").await.unwrap();
    let url = serve(&t.store).await;
    let routes = [
        (Method::PUT, "/admin/credentials/alice/github"),
        (Method::GET, "/admin/credentials"),
        (Method::DELETE, "/admin/credentials/alice/github"),
        (Method::POST, "/admin/users/alice/revoke"),
        (Method::POST, "/admin/rotate-key"),
    ];
    for (method, path) in routes {
        for token in [SERVICE_TOKEN, "adm-token-c07d2b-storf", ""] {
            let body = Some(json!({ "access_token": "gho_overwrite" }));
            let response = call(method.clone(), format!("{url}{path}"), token, body).await;
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let (_, body) = json_of(response).await;
            assert_eq!(body, json!({ "error": "missing or wrong bearer token" }));
        }
    }
    let stored = t.store.get("alice", "github", "test").await.unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), "gho_a");
    assert!(!t.store.is_revoked("alice").await.unwrap());
}

#[tokio::test]
async fn bodies_are_bounded_and_bad_bodies_are_refused_without_being_echoed() {
    let t = TestStore::new().await;
    let url = serve(&t.store).await;
    let put = |body: String| {
        Client::new()
            .put(format!("{url}/admin/credentials/alice/github"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let secret = "gho_must_not_echo_4417";
    let cases = [
        (format!(r#"{{"access_token": "{secret}", "extra": 1}}"#), 400),
        (format!(r#"{{"access_token": "{secret}""#), 400),
        (format!(r#"{{"access_token": ["{secret}"]}}"#), 400),
        // serde's own message would quote the string here.
        (format!(r#"{{"access_token": "t", "scopes": "{secret}"}}"#), 400),
        (format!(r#"{{"access_token": "{secret}", "expires_at": "tomorrow"}}"#), 400),
        (format!(r#"{{"access_token": "{secret}", "scopes": ["a b"]}}"#), 400),
        (r#"{"access_token": ""}"#.to_owned(), 400),
        (format!(r#"{{"access_token": "{secret}{}"}}"#, "x".repeat(5000)), 413),
    ];
    for (body, expected) in cases {
        let response = put(body.clone()).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{body:.80}: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert!(error["error"].is_string(), "{text}");
        assert!(!text.contains(secret), "{text}");
    }
    assert!(t.store.list(None, "test").await.unwrap().is_empty());
}

#[tokio::test]
async fn the_router_refuses_missing_short_or_shared_tokens() {
    let t = TestStore::new().await;
    let service = || TenantManagerService::new(t.store.clone());

    let err = service().router().unwrap_err();
    assert_eq!(err.key, "tenant_manager.service_token");
    let err = service().with_service_token("short").router().unwrap_err();
    assert_eq!(err.key, "tenant_manager.service_token");
    assert!(!err.to_string().contains("short"), "{err}");
    let err = service()
        .with_service_token(SERVICE_TOKEN)
        .with_admin_token("x y z 1234567890123")
        .router()
        .unwrap_err();
    assert_eq!(err.key, "tenant_manager.admin_token");
    let err = service()
        .with_service_token(SERVICE_TOKEN)
        .with_admin_token(SERVICE_TOKEN)
        .router()
        .unwrap_err();
    assert_eq!(err.key, "tenant_manager.admin_token");
    assert!(!err.to_string().contains(SERVICE_TOKEN), "{err}");
}

#[tokio::test]
async fn without_an_admin_token_the_admin_api_is_not_served() {
    let t = TestStore::new().await;
    let router = TenantManagerService::new(t.store.clone())
        .with_service_token(SERVICE_TOKEN)
        .router()
        .unwrap();
    let url = serve_router(router).await;

    let response = call(Method::GET, format!("{url}/admin/credentials"), ADMIN_TOKEN, None).await;

    assert_eq!(response.status(), 404);
}
