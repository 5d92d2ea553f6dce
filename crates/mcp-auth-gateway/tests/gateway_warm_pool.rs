//! `instances.warm_pool`: stdio servers started before any user asks. A new user is served by a
//! child that was already running, the pool is refilled, and shutdown leaves none behind.

mod support;

use std::{collections::HashSet, time::Duration};

use rmcp::model::CallToolRequestParams;
use support::{
    gateway::{Gateway, text},
    procs::{assert_all_gone, cmdline, descendants, wait_until},
};

/// `mcp-auth demo --stdio` with nothing of the user in its command line or environment (what a
/// warm pool requires), two children kept ready.
fn warm_config() -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]

[servers.instances]
warm_pool = 2
"#,
        exe = env!("CARGO_BIN_EXE_mcp-auth"),
    )
}

/// The supervisors of the demo servers under the gateway (the pids the gateway logs).
fn supervisors(gateway: &Gateway) -> HashSet<u32> {
    descendants(gateway.pid())
        .into_iter()
        .filter(|&pid| cmdline(pid).contains("__supervise") && cmdline(pid).contains("demo"))
        .collect()
}

/// The pid the gateway logged when it handed a warm child to a user.
fn warm_handouts(gateway: &Gateway) -> Vec<u32> {
    gateway
        .logs()
        .lines()
        .filter(|line| line.contains("serving the user with a warm child"))
        .filter_map(|line| line.split("pid=").nth(1))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn a_new_user_gets_a_child_started_before_they_asked_and_the_pool_refills() {
    let gateway = Gateway::start(&warm_config()).await;
    let started = wait_until(Duration::from_secs(20), || supervisors(&gateway).len() == 2).await;
    assert!(started, "two warm children before any client: {:?}", supervisors(&gateway));
    let warm = supervisors(&gateway);

    let (alice, _) = gateway.client("alice").await;
    let who = alice.call_tool(CallToolRequestParams::new("whoami")).await.unwrap();
    // The warm child was started for nobody: it serves its own fixed identity.
    assert_eq!(text(&who), "local-user");

    let handed = warm_handouts(&gateway);
    assert_eq!(handed.len(), 1, "one hand-out logged:\n{}", gateway.logs());
    assert!(warm.contains(&handed[0]), "alice got {} which was not warm: {warm:?}", handed[0]);
    // One for alice, and the pool back at two.
    let refilled = wait_until(Duration::from_secs(20), || supervisors(&gateway).len() == 3).await;
    assert!(refilled, "the pool refills: {:?}", supervisors(&gateway));
}

#[tokio::test]
async fn sigterm_stops_the_waiting_warm_children_too() {
    let mut gateway = Gateway::start(&warm_config()).await;
    let started = wait_until(Duration::from_secs(20), || supervisors(&gateway).len() == 2).await;
    assert!(started, "{:?}", supervisors(&gateway));
    let tree = descendants(gateway.pid());
    gateway.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), gateway.child.wait())
        .await
        .expect("the gateway exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_all_gone(&tree, Duration::from_secs(10)).await;
}
