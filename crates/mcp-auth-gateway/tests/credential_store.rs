//! The built-in credential store through the real binary: `mcp-auth credentials` puts each
//! user's upstream token, and `mcp-auth serve` with `[credentials] mode = "store"` hands each
//! user theirs (and nobody else's) — or, with `mcp-auth tenant-manager` serving the same store,
//! a gateway in `mode = "api"` does. The store file never holds a token in the clear, and
//! `list` never prints one.

mod support;

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
    time::Duration,
};

use support::{
    gateway::tempdir::Dir,
    gateway::{Gateway, stateless_call, text},
    upstream::{
        Upstream, assert_each_request_carries_its_users_credential, config_with_credentials, echo,
    },
};
use tokio::io::AsyncBufReadExt as _;

const ALICE_TOKEN: &str = "ghp_alice-upstream-token-7c1f93";
const BOB_TOKEN: &str = "ghp_bob-upstream-token-52be04";

/// Runs `mcp-auth ARGS` to completion, `stdin` written to it.
fn cli(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-auth");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A new keyring, from `mcp-auth credentials gen-key`.
fn new_keys() -> String {
    let keys = ok(cli(&["credentials", "gen-key"], "", &[])).trim().to_owned();
    assert!(keys.starts_with("*k1:"), "{keys}");
    keys
}

/// A gateway config mounting `upstream`, each user's `github` credential templated into
/// `Authorization`, with `credentials` (the body of `[credentials]`).
fn gateway_config(upstream: &str, credentials: &str) -> String {
    config_with_credentials(upstream, "github", credentials)
}

/// Every file of the store (the database and its WAL) holds none of `secrets`.
fn assert_no_plaintext(dir: &Dir, secrets: &[&str]) {
    let mut files = 0;
    for entry in std::fs::read_dir(&dir.0).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("credentials.db") {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{} holds {secret} in the clear", path.display());
        }
    }
    assert!(files > 0, "no store file in {}", dir.0.display());
}

#[tokio::test]
async fn tokens_put_with_the_cli_reach_each_users_upstream_from_the_store_and_nobody_elses() {
    let dir = Dir::new("store");
    let keys = new_keys();
    std::fs::write(dir.0.join("store.keys"), format!("{keys}\n")).unwrap();
    let upstream = Upstream::start().await;
    // Relative paths: the store and its keys are next to the config, wherever the gateway and
    // the CLI run from.
    let config = gateway_config(&upstream.url, "mode = \"store\"\nkey_file = \"store.keys\"");
    let config_path = dir.0.join("gateway.toml");
    std::fs::write(&config_path, &config).unwrap();
    let config_arg = config_path.to_str().unwrap();
    let env = [("BOB_TOKEN", BOB_TOKEN)];
    let put = ["credentials", "put", "--config", config_arg, "--resource", "github"];
    ok(cli(&[&put[..], &["--user", "alice", "--expires-in", "1h"]].concat(), ALICE_TOKEN, &env));
    ok(cli(&[&put[..], &["--user", "bob", "--token-env", "BOB_TOKEN"]].concat(), "", &env));
    assert!(dir.0.join("credentials.db").exists(), "the store is next to the config");

    let gateway = Gateway::start_file(&config_path, &[], Dir::new("store-gateway")).await;
    let (alice, _) = gateway.client("alice").await;
    let (bob, _) = gateway.client("bob").await;
    assert_eq!(text(&alice.call_tool(echo("from alice")).await.unwrap()), "from alice");
    assert_eq!(text(&bob.call_tool(echo("from bob")).await.unwrap()), "from bob");
    assert_each_request_carries_its_users_credential(
        &upstream.seen(),
        &[("alice", ALICE_TOKEN), ("bob", BOB_TOKEN)],
    );

    // Carol has nothing stored: the "connect your account" refusal, before any upstream call.
    let before = upstream.seen().len();
    let http = reqwest::Client::new();
    let carol = stateless_call(&http, &gateway.url, &gateway.token("carol"), "echo", echo_args());
    let response = carol.send().await.unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], mcp_auth::http::CREDENTIAL_REQUIRED_CODE, "{body}");
    assert_eq!(upstream.seen().len(), before, "carol reached the upstream");

    let listed = ok(cli(&["credentials", "list", "--config", config_arg], "", &[]));
    assert!(listed.contains("alice\tgithub\tactive\t"), "{listed}");
    assert!(listed.contains("bob\tgithub\tactive\t-\t"), "bob's has no expiry: {listed}");
    assert!(!listed.contains(ALICE_TOKEN) && !listed.contains(BOB_TOKEN), "{listed}");
    assert_no_plaintext(&dir, &[ALICE_TOKEN, BOB_TOKEN]);
    let logs = gateway.logs();
    assert!(!logs.contains(ALICE_TOKEN) && !logs.contains(BOB_TOKEN), "{logs}");
}

fn echo_args() -> serde_json::Value {
    serde_json::json!({ "text": "from carol" })
}

#[tokio::test]
async fn a_store_without_its_keys_is_a_config_error_naming_the_key() {
    let dir = Dir::new("store-keys");
    let config = gateway_config("http://127.0.0.1:9/mcp", "mode = \"store\"");
    let path = dir.0.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["check", "--config", path.to_str().unwrap()])
        .env("MCP_AUTH_JWT_SECRET", support::gateway::SECRET)
        .env_remove("MCP_AUTH_STORE_KEYS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("credentials.key_env"), "{stderr}");
    assert!(stderr.contains("MCP_AUTH_STORE_KEYS"), "{stderr}");
}

/// `mcp-auth tenant-manager` on `config`, and the URL it printed.
async fn tenant_manager(
    config: &std::path::Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["tenant-manager", "--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mcp-auth tenant-manager");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("the tenant manager's banner within 30 s")
        .unwrap()
        .expect("the tenant manager exited");
    let url = line.rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

#[tokio::test]
async fn the_tenant_manager_serves_the_store_to_a_gateway_in_api_mode() {
    let dir = Dir::new("tenant-manager");
    let keys = new_keys();
    let service_token = "service-token-0f9e8d7c6b5a";
    let tm_config = dir.0.join("tenant-manager.toml");
    std::fs::write(
        &tm_config,
        "service_token_env = \"TM_SERVICE_TOKEN\"\n\n[store]\nkey_env = \"MCP_AUTH_STORE_KEYS\"\n",
    )
    .unwrap();
    let env = [("MCP_AUTH_STORE_KEYS", keys.as_str()), ("TM_SERVICE_TOKEN", service_token)];
    let tm_arg = tm_config.to_str().unwrap();
    let put = ["credentials", "put", "--config", tm_arg, "--resource", "github", "--user", "alice"];
    ok(cli(&put, ALICE_TOKEN, &env));
    let (_tm, tm_url) = tenant_manager(&tm_config, &env).await;

    let upstream = Upstream::start().await;
    let credentials =
        format!("mode = \"api\"\nurl = \"{tm_url}\"\nservice_token_env = \"TM_SERVICE_TOKEN\"");
    let gateway = Gateway::start_with_env(&gateway_config(&upstream.url, &credentials), &env).await;
    let (alice, _) = gateway.client("alice").await;
    assert_eq!(text(&alice.call_tool(echo("via api")).await.unwrap()), "via api");
    assert_each_request_carries_its_users_credential(&upstream.seen(), &[("alice", ALICE_TOKEN)]);
    // The store is next to the tenant manager's config, by default.
    assert_no_plaintext(&dir, &[ALICE_TOKEN]);
}
