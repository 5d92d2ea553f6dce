//! `mcp-auth serve` wrapping a Streamable HTTP upstream: a real rmcp server on axum in this test
//! process, which records every request it receives. Each user reaches it with exactly the
//! headers the config templates for them — their own credential — and never with anything of
//! the client's: not its bearer JWT, not its cookies, not its other headers. Both protocol eras
//! downstream, each forwarded as it came (2025-11-25 sessions: `gateway_sessions.rs`; 2026-07-28
//! stateless requests: `gateway_passthrough.rs`).

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::response::IntoResponse as _;
use rmcp::{model::ProtocolVersion, service::ClientLifecycleMode};
use serde_json::{Value, json};
use support::{
    gateway::{Gateway, answer, answer_text, client_with, stateless_call, text, token_embedding},
    procs::wait_until,
    upstream::{
        Seen, Upstream, assert_each_request_carries_its_users_credential, assert_none_leaked,
        calls_holding, config, echo,
    },
};

#[tokio::test]
async fn alice_in_a_2025_session_and_bob_in_2026_07_28_each_reach_the_upstream_with_their_own_credential()
 {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let alice_jwt = token_embedding(&gateway, "alice", "alice-upstream-credential");
    let bob_jwt = token_embedding(&gateway, "bob", "bob-upstream-credential");

    let (alice, _) = client_with(&gateway, &alice_jwt, ClientLifecycleMode::Initialize).await;
    let modern =
        ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
    let (bob, _) = client_with(&gateway, &bob_jwt, modern).await;
    assert_eq!(
        alice.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25,
        "alice speaks the session era"
    );
    assert_eq!(bob.peer_info().unwrap().protocol_version, ProtocolVersion::V_2026_07_28);

    assert_eq!(text(&alice.call_tool(echo("alice was here")).await.unwrap()), "alice was here");
    assert_eq!(text(&bob.call_tool(echo("bob was here")).await.unwrap()), "bob was here");

    let seen = upstream.seen();
    assert_each_request_carries_its_users_credential(
        &seen,
        &[("alice", "alice-upstream-credential"), ("bob", "bob-upstream-credential")],
    );
    let alices = calls_holding(&seen, "alice was here");
    assert_eq!(alices.len(), 1, "{seen:?}");
    assert_eq!(alices[0].values("authorization"), ["Bearer alice-upstream-credential"]);
    let bobs = calls_holding(&seen, "bob was here");
    assert_eq!(bobs.len(), 1, "{seen:?}");
    assert_eq!(bobs[0].values("authorization"), ["Bearer bob-upstream-credential"]);
    assert_none_leaked(&seen, &[&alice_jwt, &bob_jwt]);
}

#[tokio::test]
async fn the_clients_token_cookie_and_other_headers_never_reach_the_upstream() {
    const COOKIE: &str = "session=cookie-value-the-upstream-must-not-see";
    const SECRET_HEADER: &str = "x-secret-header";
    const SECRET_VALUE: &str = "header-value-the-upstream-must-not-see";
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "carol", "carol-upstream-credential");
    let http = reqwest::Client::new();
    let post = |session: Option<&str>, body: Value| {
        let mut request = http
            .post(&gateway.url)
            .bearer_auth(&jwt)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("cookie", COOKIE)
            .header(SECRET_HEADER, SECRET_VALUE)
            .json(&body);
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };

    // A 2025-11-25 session, every request of it carrying the client's cookie and header.
    let initialize = post(
        None,
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" } } }),
    )
    .await
    .unwrap();
    assert_eq!(initialize.status(), 200);
    let session = initialize.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let info = answer(&initialize.text().await.unwrap(), 1);
    assert_eq!(info["result"]["serverInfo"]["name"], mcp_auth_gateway::demo::SERVER_NAME);
    let initialized =
        post(Some(&session), json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await
            .unwrap();
    assert_eq!(initialized.status(), 202);
    let call = post(
        Some(&session),
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": { "name": "echo", "arguments": { "text": "in a session" } } }),
    )
    .await
    .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(answer_text(&answer(&call.text().await.unwrap(), 2)), "in a session");

    // A 2026-07-28 stateless request with the same extras.
    let stateless =
        stateless_call(&http, &gateway.url, &jwt, "echo", json!({ "text": "stateless" }))
            .header("cookie", COOKIE)
            .header(SECRET_HEADER, SECRET_VALUE)
            .send()
            .await
            .unwrap();
    assert_eq!(stateless.status(), 200);
    assert_eq!(answer_text(&answer(&stateless.text().await.unwrap(), 1)), "stateless");

    let seen = upstream.seen();
    assert_eq!(calls_holding(&seen, "in a session").len(), 1, "{seen:?}");
    assert_eq!(calls_holding(&seen, "stateless").len(), 1, "{seen:?}");
    assert_each_request_carries_its_users_credential(
        &seen,
        &[("carol", "carol-upstream-credential")],
    );
    for request in &seen {
        assert!(request.values("cookie").is_empty(), "{request:?}");
        assert!(request.values(SECRET_HEADER).is_empty(), "{request:?}");
    }
    assert_none_leaked(&seen, &[&jwt, "cookie-value-the-upstream", SECRET_VALUE, SECRET_HEADER]);
}

#[tokio::test]
async fn a_changed_credential_reaches_the_upstream_on_the_next_call() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let http = reqwest::Client::new();
    for (credential, text) in [("first-credential", "first"), ("second-credential", "second")] {
        let jwt = token_embedding(&gateway, "dana", credential);
        let response = stateless_call(&http, &gateway.url, &jwt, "echo", json!({ "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(answer_text(&answer(&response.text().await.unwrap(), 1)), text);
        let seen = upstream.seen();
        let calls = calls_holding(&seen, &format!("\"{text}\""));
        assert_eq!(calls.len(), 1, "{seen:?}");
        assert_eq!(calls[0].values("authorization"), [format!("Bearer {credential}")]);
    }
}

#[tokio::test]
async fn a_replaced_instance_closes_its_upstream_session_with_the_credential_it_opened_it_with() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    for (credential, text) in [("first-credential", "first"), ("second-credential", "second")] {
        let jwt = token_embedding(&gateway, "dana", credential);
        let (dana, _) = client_with(&gateway, &jwt, ClientLifecycleMode::Initialize).await;
        assert_eq!(support::gateway::text(&dana.call_tool(echo(text)).await.unwrap()), text);
        // Closed here, not on drop: a close racing the next handshake would present the old
        // JWT, whose credential replaces the instance again.
        dana.cancel().await.unwrap();
    }
    let closed = wait_until(Duration::from_secs(10), || {
        upstream.seen().iter().any(|r| {
            r.method == "DELETE" && r.values("authorization") == ["Bearer first-credential"]
        })
    })
    .await;
    assert!(closed, "the old upstream session was never closed: {:?}", upstream.seen());
}

#[tokio::test]
async fn an_upstream_that_lost_its_session_gets_a_new_one_and_the_call_goes_through() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "erin", "erin-upstream-credential");
    let (erin, _) = client_with(&gateway, &jwt, ClientLifecycleMode::Initialize).await;
    assert_eq!(text(&erin.call_tool(echo("before")).await.unwrap()), "before");

    // The upstream restarts (it forgets the session): the caller gets the 404 the spec has for
    // that, and its client (rmcp's) opens a new session, with the same credential upstream, and
    // the call goes through.
    upstream.forget_sessions().await;
    let after = tokio::time::timeout(Duration::from_secs(30), erin.call_tool(echo("after")))
        .await
        .expect("an answer, not a hang");
    assert_eq!(text(&after.unwrap()), "after");
    let seen = upstream.seen();
    assert_each_request_carries_its_users_credential(
        &seen,
        &[("erin", "erin-upstream-credential")],
    );
    let initializes = seen.iter().filter(|r| r.body.contains("\"initialize\"")).count();
    assert_eq!(initializes, 2, "one handshake before, one after the restart");
}

#[tokio::test]
async fn a_down_upstream_fails_the_call_promptly_and_the_first_call_after_it_is_back_works() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "fred", "fred-upstream-credential");
    let (fred, _) = client_with(&gateway, &jwt, ClientLifecycleMode::Initialize).await;
    assert_eq!(text(&fred.call_tool(echo("up")).await.unwrap()), "up");

    upstream.down.store(true, std::sync::atomic::Ordering::SeqCst);
    // Far below the request timeout (60 s): the upstream's answer is an error, not silence.
    let failed = tokio::time::timeout(Duration::from_secs(10), fred.call_tool(echo("down")))
        .await
        .expect("an answer, not a hang");
    let error = failed.expect_err("the upstream is down");
    assert_eq!(
        error.to_string(),
        "Mcp error: -32603: the upstream server failed (HTTP 502)",
        "{error}"
    );

    upstream.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let back = tokio::time::timeout(Duration::from_secs(10), fred.call_tool(echo("back")))
        .await
        .expect("an answer, not a hang");
    assert_eq!(text(&back.expect("the first call after the upstream is back works")), "back");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_json_rpc_error_that_does_not_reveal_its_address() {
    // Nothing listens on port 1; the URL's query holds what an operator may keep secret.
    let gateway = Gateway::start(&config("http://127.0.0.1:1/mcp?key=kept-in-the-url")).await;
    let jwt = token_embedding(&gateway, "gina", "gina-upstream-credential");
    let http = reqwest::Client::new();
    let response = tokio::time::timeout(
        Duration::from_secs(30),
        stateless_call(&http, &gateway.url, &jwt, "echo", json!({ "text": "hello" })).send(),
    )
    .await
    .expect("an answer, not a hang")
    .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(
        answer(&body, 1)["error"],
        json!({ "code": -32603, "message": "the upstream server failed to initialize: it could \
                                            not be reached (send initialize request)" })
    );
    assert!(!body.contains("kept-in-the-url") && !body.contains("127.0.0.1:1"), "{body}");
    let logs = gateway.logs();
    assert!(logs.contains("127.0.0.1:1/mcp?[redacted]"), "the log names the upstream: {logs}");
    assert!(!logs.contains("kept-in-the-url"), "the URL's query reached the log: {logs}");
}

#[tokio::test]
async fn a_credential_the_upstream_refuses_is_reported_as_such_without_the_credential() {
    let upstream = Upstream::start().await;
    let gateway = Gateway::start(&config(&upstream.url)).await;
    let jwt = token_embedding(&gateway, "hank", "revoked-credential");
    let http = reqwest::Client::new();
    let response = stateless_call(&http, &gateway.url, &jwt, "echo", json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(
        answer(&body, 1)["error"],
        json!({ "code": -32603,
                "message": "the upstream server failed to initialize: it refused the credential" })
    );
    assert!(!body.contains("revoked-credential"), "{body}");
}

/// The service token the gateway presents to the tenant manager.
const SERVICE_TOKEN: &str = "service-token-only-the-tenant-manager-sees";

/// A tenant manager on loopback: `GET /api/credentials/{user}/{resource}` with the service
/// token answers `{"accessToken": "{user}-from-the-tenant-manager"}`; every call is recorded.
async fn start_tenant_manager() -> (String, Arc<Mutex<Vec<Seen>>>) {
    use axum::extract::Path;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let grant = move |Path((user, resource)): Path<(String, String)>,
                      headers: axum::http::HeaderMap| {
        let sink = sink.clone();
        async move {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let authorized = headers
                .iter()
                .any(|(n, v)| n == "authorization" && *v == format!("Bearer {SERVICE_TOKEN}"));
            sink.lock().unwrap().push(Seen {
                method: "GET".into(),
                headers,
                body: format!("{user}/{resource}"),
            });
            if !authorized {
                return axum::http::StatusCode::UNAUTHORIZED.into_response();
            }
            axum::Json(json!({ "accessToken": format!("{user}-from-the-tenant-manager") }))
                .into_response()
        }
    };
    let app =
        axum::Router::new().route("/api/credentials/{user}/{resource}", axum::routing::get(grant));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn credentials_from_a_tenant_manager_reach_the_upstream_and_nothing_else_does() {
    let upstream = Upstream::start().await;
    let (manager, manager_saw) = start_tenant_manager().await;
    let config = config(&upstream.url).replace(
        "[credentials]\nmode = \"jwt\"",
        &format!(
            "[credentials]\nmode = \"api\"\nurl = \"{manager}\"\nservice_token_env = \"TENANT_TOKEN\""
        ),
    );
    assert!(config.contains("mode = \"api\""), "{config}");
    let gateway = Gateway::start_with_env(&config, &[("TENANT_TOKEN", SERVICE_TOKEN)]).await;
    let (alice_jwt, bob_jwt) = (gateway.token("alice"), gateway.token("bob"));
    let (alice, _) = client_with(&gateway, &alice_jwt, ClientLifecycleMode::Initialize).await;
    let (bob, _) = client_with(&gateway, &bob_jwt, ClientLifecycleMode::Initialize).await;
    assert_eq!(text(&alice.call_tool(echo("alice via api")).await.unwrap()), "alice via api");
    assert_eq!(text(&bob.call_tool(echo("bob via api")).await.unwrap()), "bob via api");

    let seen = upstream.seen();
    assert_each_request_carries_its_users_credential(
        &seen,
        &[("alice", "alice-from-the-tenant-manager"), ("bob", "bob-from-the-tenant-manager")],
    );
    assert_eq!(calls_holding(&seen, "alice via api")[0].values("x-user"), ["alice"]);
    assert_none_leaked(&seen, &[&alice_jwt, &bob_jwt, SERVICE_TOKEN]);
    // The tenant manager was asked for each user's credential with the service token, and never
    // saw a client's token.
    let asked = manager_saw.lock().unwrap().clone();
    let mut paths: Vec<&str> = asked.iter().map(|r| r.body.as_str()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths, ["alice/default", "bob/default"]);
    for request in &asked {
        assert_eq!(request.values("authorization"), [format!("Bearer {SERVICE_TOKEN}")]);
    }
    assert_none_leaked(&asked, &[&alice_jwt, &bob_jwt]);
}
