//! A supervised server's exit status is the server's: its exit code, 128 + the signal number
//! when a signal killed it, 127 when its program does not exist.
#![cfg(target_os = "linux")]

use std::time::Duration;

use mcp_auth_gateway::child::{ChildSpec, Launcher};

const SUPERVISOR: &str = env!("CARGO_BIN_EXE_mcp-auth");

fn spec(program: &str, args: &[&str]) -> ChildSpec {
    ChildSpec {
        program: program.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
        cwd: None,
        server: "exit-test".into(),
        user_hash: "0123abcd".into(),
    }
}

async fn exit_code(spec: &ChildSpec) -> Option<i32> {
    let mut child = Launcher::new(SUPERVISOR.into()).spawn(spec).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), child.exited()).await;
    status.expect("the child exited").expect("its status was read").code()
}

#[tokio::test]
async fn the_servers_exit_code_is_the_childs() {
    assert_eq!(exit_code(&spec("sh", &["-c", "exit 3"])).await, Some(3));
    assert_eq!(exit_code(&spec("sh", &["-c", "exit 0"])).await, Some(0));
}

#[tokio::test]
async fn a_server_killed_by_a_signal_exits_with_128_plus_its_number() {
    assert_eq!(exit_code(&spec("sh", &["-c", "kill -KILL $$"])).await, Some(128 + 9));
}

#[tokio::test]
async fn a_program_that_does_not_exist_exits_127() {
    assert_eq!(exit_code(&spec("mcp-auth-no-such-program", &[])).await, Some(127));
}

#[tokio::test]
async fn the_program_is_looked_up_on_the_childs_path_and_from_its_working_directory() {
    // A symlink to `false` (exit 1, unlike "not found"): nothing is written and then executed,
    // which a concurrent fork could make fail with ETXTBSY.
    let path = std::env::var("PATH").unwrap_or_default();
    let false_bin = std::env::split_paths(&path)
        .map(|dir| dir.join("false"))
        .find(|bin| bin.is_file())
        .expect("false(1) on PATH");
    let dir = std::env::temp_dir().join(format!("mcp-auth-child-path-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&false_bin, dir.join("mcp-auth-test-false")).unwrap();

    assert_eq!(exit_code(&spec("mcp-auth-test-false", &[])).await, Some(127), "not on our PATH");
    let mut on_path = spec("mcp-auth-test-false", &[]);
    on_path.env = vec![("PATH".into(), format!("{}:{path}", dir.display()))];
    assert_eq!(exit_code(&on_path).await, Some(1));
    let mut relative = spec("./mcp-auth-test-false", &[]);
    relative.cwd = Some(dir.clone());
    assert_eq!(exit_code(&relative).await, Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}
