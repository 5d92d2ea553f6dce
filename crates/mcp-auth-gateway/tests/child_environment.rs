//! A server's environment is the allow-list and its configured values, nothing else: not the
//! gateway's secrets, not the gateway's other variables, not the supervisor's own.
#![cfg(target_os = "linux")]

use std::{collections::BTreeMap, time::Duration};

use mcp_auth_gateway::child::{ChildSpec, Launcher, env_allow_list};
use tokio::io::AsyncReadExt;

const SUPERVISOR: &str = env!("CARGO_BIN_EXE_mcp-auth");

#[tokio::test]
async fn the_child_sees_only_allow_listed_and_configured_variables() {
    let path = std::env::var("PATH").unwrap_or_default();
    let gateway_env = [
        ("PATH", path.as_str()),
        ("HOME", "/home/gateway"),
        ("SECRET", "x"),
        ("MCP_AUTH_JWT_SECRET", "jwt-secret-value"),
        ("NODE_OPTIONS", "--no-warnings"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let env = env_allow_list(
        gateway_env.into_iter(),
        &["NODE_OPTIONS".to_owned()],
        vec![("CONFIGURED".to_owned(), "yes".to_owned()), ("HOME".to_owned(), "/srv".to_owned())],
    );
    let spec = ChildSpec {
        program: "env".into(),
        args: vec![],
        env,
        cwd: None,
        server: "env-test".into(),
        user_hash: "0123abcd".into(),
    };
    let mut child = Launcher::new(SUPERVISOR.into()).spawn(&spec).unwrap();
    let mut printed = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let read = tokio::time::timeout(Duration::from_secs(15), stdout.read_to_string(&mut printed));
    read.await.expect("env printed its environment").unwrap();
    child.shutdown().await;

    let seen: BTreeMap<&str, &str> = printed.lines().filter_map(|l| l.split_once('=')).collect();
    let expected = BTreeMap::from([
        ("CONFIGURED", "yes"),
        ("HOME", "/srv"),
        ("NODE_OPTIONS", "--no-warnings"),
        ("PATH", path.as_str()),
    ]);
    assert_eq!(seen, expected);
}
