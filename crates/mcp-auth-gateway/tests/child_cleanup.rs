//! No process of a server's tree outlives it: not on `shutdown`, not on drop, not when the
//! server ignores SIGTERM, not when a descendant escapes with `setsid`, not when the gateway is
//! killed with SIGKILL. Real processes; the tree is read from /proc (independently of the
//! crate's own walk) and every wait polls it against a deadline.
#![cfg(target_os = "linux")]

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use mcp_auth_gateway::child::{ChildSpec, Launcher};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SUPERVISOR: &str = env!("CARGO_BIN_EXE_mcp-auth");
/// Deadline of every wait: generous, since the host may be busy.
const LIMIT: Duration = Duration::from_secs(15);

/// One process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    start: u64,
    comm: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After the name: state ppid pgrp … and starttime, field 22 of the file.
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
        comm,
    })
}

/// Every descendant of `root`, by parent links.
fn descendants(root: i32) -> Vec<Proc> {
    let all: Vec<Proc> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect();
    let mut found = vec![root];
    let mut tree = Vec::new();
    let mut next = 0;
    while let Some(&parent) = found.get(next) {
        for proc in all.iter().filter(|p| p.ppid == parent && p.pid != root) {
            found.push(proc.pid);
            tree.push(proc.clone());
        }
        next += 1;
    }
    tree
}

/// The process still exists (a zombie does: it has not been reaped).
fn exists(proc: &Proc) -> bool {
    read_proc(proc.pid).is_some_and(|now| now.start == proc.start)
}

/// Polls `condition` every 10 ms until it holds or [`LIMIT`] passes; true if it held.
async fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LIMIT;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `root` and its descendants once `ready` holds for the descendants.
async fn tree_once(root: i32, ready: impl Fn(&[Proc]) -> bool) -> Vec<Proc> {
    let mut tree = Vec::new();
    let seen = wait_until(|| {
        tree = descendants(root);
        ready(&tree)
    })
    .await;
    assert!(seen, "the tree of {root} never got ready: {tree:?}");
    tree.push(read_proc(root).expect("the root is running"));
    tree
}

/// Waits for every process of `tree` to be gone (reaped, not a zombie).
async fn assert_gone(tree: &[Proc]) {
    let gone = wait_until(|| !tree.iter().any(exists)).await;
    let left: Vec<_> = tree.iter().filter(|p| exists(p)).collect();
    assert!(gone, "processes left behind: {left:?}");
}

fn sleeps(tree: &[Proc]) -> usize {
    tree.iter().filter(|p| p.comm == "sleep").count()
}

fn sh(script: &str) -> ChildSpec {
    ChildSpec {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
        cwd: None,
        server: "cleanup-test".into(),
        user_hash: "0123abcd".into(),
    }
}

fn launcher() -> Launcher {
    Launcher::new(SUPERVISOR.into())
}

fn has_setsid() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("setsid").is_file())
}

#[tokio::test]
async fn shutdown_ends_every_process_of_the_tree() {
    let child = launcher().spawn(&sh("sleep 600 & sleep 600 & wait")).unwrap();
    let supervisor = child.id().unwrap() as i32;
    let tree = tree_once(supervisor, |t| sleeps(t) == 2).await;
    child.shutdown().await;
    assert_gone(&tree).await;
}

#[tokio::test]
async fn shutdown_ends_descendants_that_left_the_group_and_were_orphaned() {
    if !has_setsid() {
        eprintln!("setsid(1) not found; skipped");
        return;
    }
    // One sleep leaves the group with setsid; another also loses its parent (the subshell
    // exits), so only the subreaper keeps it in the supervisor's subtree.
    let script = "(setsid sleep 600 &); setsid sleep 600 & sleep 600 & wait";
    let child = launcher().spawn(&sh(script)).unwrap();
    let supervisor = child.id().unwrap() as i32;
    let tree = tree_once(supervisor, |t| {
        let escaped = t.iter().filter(|p| p.comm == "sleep" && p.pgrp != supervisor).count();
        let adopted = t.iter().any(|p| p.comm == "sleep" && p.ppid == supervisor);
        sleeps(t) == 3 && escaped == 2 && adopted
    })
    .await;
    child.shutdown().await;
    assert_gone(&tree).await;
}

#[tokio::test]
async fn dropping_the_child_ends_every_process_of_the_tree() {
    let script = if has_setsid() {
        "setsid sleep 600 & sleep 600 & sleep 600 & wait"
    } else {
        "sleep 600 & sleep 600 & sleep 600 & wait"
    };
    let child = launcher().spawn(&sh(script)).unwrap();
    let supervisor = child.id().unwrap() as i32;
    let tree = tree_once(supervisor, |t| sleeps(t) == 3).await;
    drop(child);
    assert_gone(&tree).await;
}

#[tokio::test]
async fn a_server_ignoring_sigterm_is_killed_after_the_grace_period() {
    let grace = Duration::from_millis(500);
    let child = launcher()
        .with_grace(grace)
        .spawn(&sh(r#"trap "" TERM; sleep 600 & sleep 600; wait"#))
        .unwrap();
    let supervisor = child.id().unwrap() as i32;
    let tree = tree_once(supervisor, |t| sleeps(t) == 2).await;
    let started = Instant::now();
    child.shutdown().await;
    assert!(started.elapsed() >= grace, "ended after {:?}, before the grace", started.elapsed());
    assert_gone(&tree).await;
}

#[tokio::test]
async fn when_the_server_exits_the_rest_of_its_tree_is_ended() {
    let mut child = launcher().spawn(&sh("sleep 600 & echo ready; read line; exit 3")).unwrap();
    let supervisor = child.id().unwrap() as i32;
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    assert_eq!(line, "ready\n");
    let tree = tree_once(supervisor, |t| sleeps(t) == 1).await;
    child.stdin.as_mut().unwrap().write_all(b"go\n").await.unwrap();
    let status = tokio::time::timeout(LIMIT, child.exited()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_gone(&tree).await;
}

#[tokio::test]
async fn killing_the_gateway_with_sigkill_ends_the_tree() {
    // The "gateway": a shell that starts the supervisor and waits. Without the launcher's
    // environment the supervisor takes its parent at start (this shell) as the gateway.
    let script = r#""$0" __supervise -- sh -c 'sleep 600 & sleep 600 & wait' & wait"#;
    let mut gateway = std::process::Command::new("sh")
        .args(["-c", script, SUPERVISOR])
        .env_remove("MCP_AUTH_SUPERVISOR_PARENT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let gateway_pid = gateway.id() as i32;
    let tree = tree_once(gateway_pid, |t| sleeps(t) == 2).await;
    assert!(tree.iter().any(|p| p.ppid == gateway_pid && p.comm == "mcp-auth"), "{tree:?}");
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(gateway_pid, libc::SIGKILL) }, 0);
    gateway.wait().unwrap();
    let without_gateway: Vec<Proc> = tree.into_iter().filter(|p| p.pid != gateway_pid).collect();
    assert_gone(&without_gateway).await;
}

#[tokio::test]
async fn a_supervisor_whose_gateway_is_already_gone_starts_nothing() {
    let marker = std::env::temp_dir().join(format!("mcp-auth-child-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    // pid 1 is not our parent: as if the gateway had died and we had been re-parented.
    let status = std::process::Command::new(SUPERVISOR)
        .args(["__supervise", "--", "touch"])
        .arg(&marker)
        .env("MCP_AUTH_SUPERVISOR_PARENT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(125));
    assert!(!marker.exists(), "the program was started");
}
