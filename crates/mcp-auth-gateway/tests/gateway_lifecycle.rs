//! The life of a user's stdio child under `mcp-auth serve` (`mcp-auth demo --stdio`, a real
//! process per user, found through /proc): stopped when the user goes idle — but not while
//! their stream is open — replaced when their credential changes or their instance reaches its
//! maximum lifetime, and never started past the instance caps, which answer with the cap's name.

mod support;

use std::time::Duration;

use rmcp::{model::CallToolRequestParams, service::ClientLifecycleMode};
use serde_json::{Value, json};
use support::{
    gateway::{Gateway, answer, answer_text, client_with, stateless_call, text, token_embedding},
    procs::{alive, assert_all_gone, cmdline, descendants, environ_var, wait_until},
};

/// How long a child may take to be stopped once its instance is dropped.
const GONE_WITHIN: Duration = Duration::from_secs(15);

/// A gateway config serving `mcp-auth demo --stdio` per user: `sections` are more top-level
/// sections (`[credentials]`, `[server.limits]`) or empty, `server_keys` more keys of the
/// server, `instances` the `[servers.instances]` keys.
fn config(sections: &str, server_keys: &str, instances: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

{sections}

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]
{server_keys}

[servers.instances]
{instances}
"#,
        exe = env!("CARGO_BIN_EXE_mcp-auth"),
    )
}

const USER_ENV: &str = r#"env = { MCP_USER_ID = "{user_id}" }"#;

/// The pids of the demo servers (not their supervisors) under the gateway.
fn demo_children(gateway: &Gateway) -> Vec<u32> {
    descendants(gateway.pid())
        .into_iter()
        .filter(|&pid| {
            cmdline(pid).contains("demo --stdio") && !cmdline(pid).contains("__supervise")
        })
        .collect()
}

/// The one demo child under the gateway, once there is exactly one.
async fn the_only_child(gateway: &Gateway) -> u32 {
    let one = wait_until(GONE_WITHIN, || demo_children(gateway).len() == 1).await;
    let children = demo_children(gateway);
    assert!(one, "expected one child: {children:?}");
    children[0]
}

/// `whoami` as a stateless 2026-07-28 request, which holds no stream open.
async fn whoami(gateway: &Gateway, token: &str) -> String {
    let http = reqwest::Client::new();
    let response =
        stateless_call(&http, &gateway.url, token, "whoami", json!({})).send().await.unwrap();
    assert_eq!(response.status(), 200);
    answer_text(&answer(&response.text().await.unwrap(), 1))
}

fn whoami_params() -> CallToolRequestParams {
    CallToolRequestParams::new("whoami")
}

#[tokio::test]
async fn an_idle_users_child_is_stopped_and_the_next_call_starts_a_fresh_one() {
    let gateway = Gateway::start(&config("", USER_ENV, r#"idle_timeout = "1s""#)).await;
    let token = gateway.token("alice");
    assert_eq!(whoami(&gateway, &token).await, "alice");
    let first = the_only_child(&gateway).await;
    let tree = descendants(gateway.pid());

    // Nobody calls: the sweep drops the instance, and with it the child and its supervisor.
    assert_all_gone(&tree, GONE_WITHIN).await;
    assert_eq!(demo_children(&gateway), Vec::<u32>::new());

    assert_eq!(whoami(&gateway, &token).await, "alice");
    let second = the_only_child(&gateway).await;
    assert_ne!(second, first, "a fresh child");
}

#[tokio::test]
async fn a_user_calling_in_both_eras_has_a_child_for_each_and_idling_stops_both() {
    let gateway = Gateway::start(&config("", USER_ENV, r#"idle_timeout = "1s""#)).await;
    let token = gateway.token("alice");
    // A 2026-07-28 call: a child whose session was opened with `server/discover`.
    assert_eq!(whoami(&gateway, &token).await, "alice");
    the_only_child(&gateway).await;
    // A session-era client: a second child, opened with `initialize`.
    let (session, _) = client_with(&gateway, &token, ClientLifecycleMode::Initialize).await;
    assert_eq!(text(&session.call_tool(whoami_params()).await.unwrap()), "alice");
    let two = wait_until(GONE_WITHIN, || demo_children(&gateway).len() == 2).await;
    assert!(two, "one child per era: {:?}", demo_children(&gateway));
    // Each era keeps using its own.
    assert_eq!(whoami(&gateway, &token).await, "alice");
    assert_eq!(demo_children(&gateway).len(), 2);

    // The session ends, nobody calls: the instance goes, and both children with it.
    let tree = descendants(gateway.pid());
    session.cancel().await.unwrap();
    assert_all_gone(&tree, GONE_WITHIN).await;
    assert_eq!(demo_children(&gateway), Vec::<u32>::new());
}

#[tokio::test]
async fn an_open_stream_keeps_the_child_past_the_idle_timeout() {
    let gateway = Gateway::start(&config("", USER_ENV, r#"idle_timeout = "1s""#)).await;
    // Alice's rmcp client holds her session's GET stream open.
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    let alices = the_only_child(&gateway).await;
    // Bob calls after Alice, without a stream: once his child is gone, Alice's — idle as long
    // but for her stream — would have gone too.
    assert_eq!(whoami(&gateway, &gateway.token("bob")).await, "bob");
    let bobs: Vec<u32> = demo_children(&gateway).into_iter().filter(|&p| p != alices).collect();
    assert_eq!(bobs.len(), 1);
    assert_all_gone(&bobs, GONE_WITHIN).await;

    assert!(alive(alices), "alice's child was stopped while her stream was open");
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    assert_eq!(demo_children(&gateway), [alices], "alice's child was never replaced");

    // Her stream closes: now she is idle, and her child goes.
    alice.cancel().await.unwrap();
    assert_all_gone(&[alices], GONE_WITHIN).await;
}

#[tokio::test]
async fn a_changed_credential_stops_the_old_child_and_the_new_one_gets_the_new_credential() {
    let server_keys = r#"env = { MCP_USER_ID = "{user_id}", DEMO_CREDENTIAL = "{access_token}" }"#;
    let gateway = Gateway::start(&config("[credentials]\nmode = \"jwt\"", server_keys, "")).await;
    let first_token = token_embedding(&gateway, "alice", "credential-one");
    assert_eq!(whoami(&gateway, &first_token).await, "alice");
    let first = the_only_child(&gateway).await;
    assert_eq!(environ_var(first, "DEMO_CREDENTIAL").as_deref(), Some("credential-one"));

    let second_token = token_embedding(&gateway, "alice", "credential-two");
    assert_eq!(whoami(&gateway, &second_token).await, "alice");
    assert_all_gone(&[first], GONE_WITHIN).await;
    let second = the_only_child(&gateway).await;
    assert_eq!(environ_var(second, "DEMO_CREDENTIAL").as_deref(), Some("credential-two"));

    // The same credential again (a new JWT carrying it) keeps the child.
    let same_again = token_embedding(&gateway, "alice", "credential-two");
    assert_ne!(same_again, second_token);
    assert_eq!(whoami(&gateway, &same_again).await, "alice");
    assert_eq!(demo_children(&gateway), [second]);
}

#[tokio::test]
async fn max_lifetime_replaces_even_a_busy_users_child() {
    let gateway = Gateway::start(&config("", USER_ENV, r#"max_lifetime = "2s""#)).await;
    // An open stream keeps alice busy: the lifetime bound applies regardless.
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    let first = the_only_child(&gateway).await;

    // Without any further request, the child is stopped once its instance's lifetime ends.
    assert_all_gone(&[first], GONE_WITHIN).await;

    assert_eq!(whoami(&gateway, &gateway.token("alice")).await, "alice");
    let second = the_only_child(&gateway).await;
    assert_ne!(second, first);
    drop(alice);
}

/// A refusal's status, `Retry-After` and body.
async fn refusal(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, retry_after, response.json().await.unwrap())
}

#[tokio::test]
async fn over_max_instances_a_new_user_gets_503_naming_the_cap_and_no_child() {
    let gateway = Gateway::start(&config("", USER_ENV, "max_instances = 1")).await;
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    let alices = the_only_child(&gateway).await;

    let http = reqwest::Client::new();
    let bob = gateway.token("bob");
    let response = stateless_call(&http, &gateway.url, &bob, "whoami", json!({})).send().await;
    let (status, retry_after, body) = refusal(response.unwrap()).await;
    assert_eq!((status, retry_after.as_str()), (503, "5"));
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32000,
            "message": "Server busy: every server instance (max_instances) is held by an active \
                        user; retry later",
            "data": { "retryAfter": 5 } } })
    );
    assert_eq!(demo_children(&gateway), [alices], "no child was started for bob");

    // Alice leaves: her idle instance makes room, and bob gets his child.
    alice.cancel().await.unwrap();
    let deadline = tokio::time::Instant::now() + GONE_WITHIN;
    loop {
        let response =
            stateless_call(&http, &gateway.url, &bob, "whoami", json!({})).send().await.unwrap();
        if response.status() == 200 {
            assert_eq!(answer_text(&answer(&response.text().await.unwrap(), 1)), "bob");
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(tokio::time::Instant::now() < deadline, "alice's idle instance never made room");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_all_gone(&[alices], GONE_WITHIN).await;
    assert_eq!(demo_children(&gateway).len(), 1);
}

#[tokio::test]
async fn over_max_instances_per_user_the_user_gets_429_naming_the_cap_and_no_child() {
    let server_keys = format!("{USER_ENV}\nextras = [\"x-workspace\"]");
    let gateway = Gateway::start(&config("", &server_keys, "max_instances_per_user = 1")).await;
    let http = reqwest::Client::new();
    let token = gateway.token("mallory");
    let call = |workspace: &'static str| {
        stateless_call(&http, &gateway.url, &token, "whoami", json!({}))
            .header("x-workspace", workspace)
            .send()
    };
    let first = call("a").await.unwrap();
    assert_eq!(first.status(), 200);
    let child = the_only_child(&gateway).await;

    let (status, retry_after, body) = refusal(call("b").await.unwrap()).await;
    assert_eq!((status, retry_after.as_str()), (429, "1"));
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32029,
            "message": "Too many server instances for this user (max_instances_per_user)",
            "data": { "retryAfter": 1 } } })
    );
    assert_eq!(demo_children(&gateway), [child], "no second child for mallory");
    // Other users are not affected.
    assert_eq!(whoami(&gateway, &gateway.token("alice")).await, "alice");
}

/// A raw 2025-11-25 `initialize` POST.
async fn initialize(gateway: &Gateway, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(&gateway.url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "raw", "version": "1" } } }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn per_session_each_session_has_its_own_child_which_ends_with_it() {
    let gateway = Gateway::start(&config(
        "[server.limits]\nmax_sessions_per_user = 2",
        USER_ENV,
        r#"mode = "per_session""#,
    ))
    .await;
    let (first, _) = gateway.client("alice").await;
    let note = CallToolRequestParams::new("notes_add")
        .with_arguments(json!({ "text": "first session's note" }).as_object().unwrap().clone());
    first.call_tool(note).await.unwrap();
    let first_child = the_only_child(&gateway).await;
    let (second, _) = gateway.client("alice").await;
    let notes = second.call_tool(CallToolRequestParams::new("notes_list")).await.unwrap();
    assert_eq!(text(&notes), "no notes", "the second session has a child of its own");
    let children = demo_children(&gateway);
    assert_eq!(children.len(), 2, "{children:?}");
    let second_child = children.into_iter().find(|&pid| pid != first_child).unwrap();

    // A third session is over the user's cap: refused, and no child is started for it.
    let (status, retry_after, body) =
        refusal(initialize(&gateway, &gateway.token("alice")).await).await;
    assert_eq!((status, retry_after.as_str()), (429, "1"));
    assert_eq!(
        body["error"]["message"],
        "Too many open sessions for this user; close one (DELETE) first"
    );
    assert_eq!(demo_children(&gateway).len(), 2);

    // The first session ends: its child goes, the second's stays.
    first.cancel().await.unwrap();
    assert_all_gone(&[first_child], GONE_WITHIN).await;
    assert_eq!(demo_children(&gateway), [second_child]);

    // A stateless request gets an instance of its own, stopped once it is answered.
    assert_eq!(whoami(&gateway, &gateway.token("alice")).await, "alice");
    let only_second = wait_until(GONE_WITHIN, || demo_children(&gateway) == [second_child]).await;
    assert!(only_second, "the stateless request's child stayed: {:?}", demo_children(&gateway));
    assert_eq!(text(&second.call_tool(whoami_params()).await.unwrap()), "alice");
}

/// Per session, each session holds its own child: `max_instances_per_user` bounds a user's
/// sessions, or a user could start one child per session up to the session limits.
#[tokio::test]
async fn per_session_max_instances_per_user_bounds_the_users_sessions_and_children() {
    let instances = "mode = \"per_session\"\nmax_instances_per_user = 1";
    let gateway = Gateway::start(&config("", USER_ENV, instances)).await;
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    let alices = the_only_child(&gateway).await;

    let (status, retry_after, body) =
        refusal(initialize(&gateway, &gateway.token("alice")).await).await;
    assert_eq!((status, retry_after.as_str()), (429, "1"));
    assert_eq!(
        body["error"]["message"],
        "Too many open sessions for this user; close one (DELETE) first"
    );
    assert_eq!(demo_children(&gateway), [alices], "no second child for alice");
    // Another user still gets a session and a child.
    let (bob, _) = gateway.client("bob").await;
    assert_eq!(text(&bob.call_tool(whoami_params()).await.unwrap()), "bob");
}

#[tokio::test]
async fn over_max_sessions_total_a_new_session_gets_503_naming_the_cap_and_no_child() {
    let limits = "[server.limits]\nmax_sessions_total = 1";
    let gateway = Gateway::start(&config(limits, USER_ENV, r#"mode = "per_session""#)).await;
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(whoami_params()).await.unwrap()), "alice");
    let alices = the_only_child(&gateway).await;

    let (status, retry_after, body) =
        refusal(initialize(&gateway, &gateway.token("bob")).await).await;
    assert_eq!((status, retry_after.as_str()), (503, "5"));
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": null, "error": {
            "code": -32000,
            "message": "Server busy: the server holds its most sessions (max_sessions_total); \
                        retry later",
            "data": { "retryAfter": 5 } } })
    );
    assert_eq!(demo_children(&gateway), [alices], "no child was started for bob");
}

#[tokio::test]
async fn a_stream_whose_client_vanished_does_not_keep_the_child() {
    let gateway = Gateway::start(&config("", USER_ENV, r#"idle_timeout = "1s""#)).await;
    let token = gateway.token("alice");
    let initialized = initialize(&gateway, &token).await;
    assert_eq!(initialized.status(), 200);
    let session = initialized.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    // A client of its own, so that dropping it closes the stream's connection.
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(&gateway.url)
            .bearer_auth(&token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body)
            .send()
    };
    let done = post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    assert_eq!(done.await.unwrap().status(), 202);
    let call = post(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                            "params": { "name": "whoami", "arguments": {} } }));
    assert_eq!(answer_text(&answer(&call.await.unwrap().text().await.unwrap(), 2)), "alice");
    let child = the_only_child(&gateway).await;
    let stream = http
        .get(&gateway.url)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // While the stream is open, the child outlives a user who called later (bob's is gone).
    assert_eq!(whoami(&gateway, &gateway.token("bob")).await, "bob");
    let bobs: Vec<u32> = demo_children(&gateway).into_iter().filter(|&p| p != child).collect();
    assert_eq!(bobs.len(), 1);
    assert_all_gone(&bobs, GONE_WITHIN).await;
    assert!(alive(child), "the child was stopped while its stream was open");

    // The client vanishes without closing its session (no DELETE): its connection drops, and
    // the idle timeout runs again.
    drop(stream);
    drop(http);
    assert_all_gone(&[child], GONE_WITHIN).await;
}

#[tokio::test]
async fn a_user_at_max_instances_per_user_is_not_refused_when_their_instance_expires() {
    calls_across_lifetimes_are_never_refused("max_instances_per_user = 1").await;
}

#[tokio::test]
async fn a_full_server_does_not_refuse_the_user_whose_instance_expired() {
    calls_across_lifetimes_are_never_refused("max_instances = 1").await;
}

/// With `cap` reached by one user's one instance, that user calls back to back across a few
/// lifetimes of 1 s: every call is answered.
async fn calls_across_lifetimes_are_never_refused(cap: &str) {
    let instances = format!("max_lifetime = \"1s\"\n{cap}");
    // Back-to-back calls would pass the default rate limit (20/s, bursts of 100).
    let server_keys = format!("{USER_ENV}\n[servers.rate_limit]\nenabled = false");
    let gateway = Gateway::start(&config("", &server_keys, &instances)).await;
    let http = reqwest::Client::new();
    let token = gateway.token("alice");
    let mut children = Vec::new();
    // Calls back to back across a few lifetimes: each expiry hands the user a new instance,
    // and the expired one must not count against their cap meanwhile.
    let until = tokio::time::Instant::now() + Duration::from_millis(3500);
    while tokio::time::Instant::now() < until {
        let response =
            stateless_call(&http, &gateway.url, &token, "whoami", json!({})).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{body}\ngateway log:\n{}", gateway.logs());
        for pid in demo_children(&gateway) {
            if !children.contains(&pid) {
                children.push(pid);
            }
        }
    }
    assert!(children.len() >= 3, "a new child per lifetime: {children:?}");
}
