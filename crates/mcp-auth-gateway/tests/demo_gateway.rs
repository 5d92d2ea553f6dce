//! `mcp-auth demo` is the gateway on its embedded config: each user is served by their own
//! `mcp-auth demo --stdio` child, and Ctrl-C stops the gateway and every child.

mod support;

use std::{process::Stdio, time::Duration};

use serde_json::json;
use support::{
    gateway::stateless_call,
    procs::{assert_all_gone, cmdline, descendants},
};
use tokio::io::{AsyncBufReadExt, BufReader};

const SECRET: &str = "demo-gateway-test-secret-of-at-least-32-bytes";

/// A 2026-07-28 stateless `whoami` call as `user`; the answer's body.
async fn whoami(url: &str, user: &str) -> String {
    let token = mcp_auth_gateway::token::mint(
        SECRET,
        user,
        Duration::from_secs(600),
        None,
        Some(url),
        None,
    )
    .unwrap();
    let response = stateless_call(&reqwest::Client::new(), url, &token, "whoami", json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn each_demo_user_gets_their_own_child_and_ctrl_c_stops_them_all() {
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
        .args(["demo", "--port", "0"])
        .env("MCP_AUTH_JWT_SECRET", SECRET)
        .env_remove("MCP_AUTH_PUBLIC_URL")
        .env_remove("MCP_AUTH_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mcp-auth demo");
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the banner within 30 s")
            .unwrap()
            .expect("stdout open until the banner is printed");
        if let Some(url) = line.strip_prefix("MCP endpoint: ") {
            break url.trim().to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    for user in ["alice", "bob"] {
        let body = whoami(&url, user).await;
        assert!(body.contains(&format!(r#""text":"{user}""#)), "{body}");
    }
    let pid = demo.id().unwrap();
    let children: Vec<u32> = descendants(pid)
        .into_iter()
        .filter(|&p| cmdline(p).contains("demo --stdio") && !cmdline(p).contains("__supervise"))
        .collect();
    assert_eq!(children.len(), 2, "one demo child per user: {:?}", descendants(pid));

    let tree = descendants(pid);
    // SAFETY: kill(2) on the pid of the process this test spawned.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let status = tokio::time::timeout(Duration::from_secs(30), demo.wait())
        .await
        .expect("the demo exits after Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_all_gone(&tree, Duration::from_secs(10)).await;
}
