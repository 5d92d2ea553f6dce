//! A server's stderr reaches the gateway's log line by line, with the server's name and the
//! user's hash, cut at 8 KiB, lossy for invalid UTF-8, rate-limited — and nothing of ours (its
//! environment, its credential) is added.
#![cfg(target_os = "linux")]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use mcp_auth_gateway::child::{ChildSpec, Launcher, MAX_LINE_BYTES, STDERR_BURST};
use tracing_subscriber::fmt::MakeWriter;

const SUPERVISOR: &str = env!("CARGO_BIN_EXE_mcp-auth");
const USER_HASH: &str = "5e1f0c0ffee";
const TOKEN: &str = "ghp_s3cr3t-token-never-logged";

/// The log, written into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `program args` with a credential in its environment, waits for it to exit and for the
/// log to hold `until`, and returns the log.
async fn log_of(program: &str, args: &[&str], until: &str) -> String {
    log_until(program, args, |log| log.contains(until)).await
}

/// [`log_of`], waiting until `done` holds for the log.
async fn log_until(program: &str, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let spec = ChildSpec {
        program: program.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("GITHUB_TOKEN".into(), TOKEN.into()),
        ],
        cwd: None,
        server: "memory".into(),
        user_hash: USER_HASH.into(),
    };
    let mut child = Launcher::new(SUPERVISOR.into()).spawn(&spec).unwrap();
    tokio::time::timeout(Duration::from_secs(15), child.exited()).await.expect("the child exited");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done(&capture.text()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log = capture.text();
    assert!(done(&log), "the awaited lines were never logged: {log}");
    assert!(!log.contains(TOKEN), "the credential was logged: {log}");
    log
}

/// The log lines that carry `text`.
fn lines_with<'a>(log: &'a str, text: &str) -> Vec<&'a str> {
    log.lines().filter(|line| line.contains(text)).collect()
}

#[tokio::test]
async fn stderr_lines_are_logged_with_the_server_and_the_user_hash() {
    let script =
        "echo 'first line' >&2; echo \"$GITHUB_TOKEN\" | wc -c >&2; printf 'no newline' >&2";
    let log = log_of("sh", &["-c", script], "no newline").await;
    for text in ["first line", "no newline"] {
        let lines = lines_with(&log, text);
        assert_eq!(lines.len(), 1, "{text:?}: {log}");
        assert!(lines[0].contains(" INFO "), "{}", lines[0]);
        assert!(lines[0].contains("server=memory"), "{}", lines[0]);
        assert!(lines[0].contains(&format!("user={USER_HASH}")), "{}", lines[0]);
    }
}

#[tokio::test]
async fn a_long_line_is_cut_at_the_limit() {
    let script = "head -c 20000 /dev/zero | tr '\\0' a >&2; echo >&2; echo after >&2";
    let log = log_of("sh", &["-c", script], "line=after").await;
    let line = lines_with(&log, "aaaa");
    assert_eq!(line.len(), 1, "{log}");
    let longest = line[0].split(|c| c != 'a').map(str::len).max().unwrap_or(0);
    assert_eq!(longest, MAX_LINE_BYTES);
    assert!(line[0].contains("truncated=true"), "{}", line[0]);
}

#[tokio::test]
async fn invalid_utf8_and_control_characters_are_made_harmless() {
    let script = r"printf 'bad \377 byte\n' >&2; printf 'esc \033[31m red\n' >&2";
    let log = log_of("sh", &["-c", script], "red").await;
    assert_eq!(lines_with(&log, "bad \u{FFFD} byte").len(), 1, "{log}");
    assert_eq!(lines_with(&log, "esc \\u{1b}[31m red").len(), 1, "{log}");
    assert!(!log.contains('\u{1b}'), "{log}");
}

#[tokio::test]
async fn the_supervisors_own_messages_are_logged_for_the_server() {
    let log = log_of("mcp-auth-no-such-program", &[], "mcp-auth supervisor: cannot start").await;
    let lines = lines_with(&log, "mcp-auth supervisor: cannot start");
    assert!(lines[0].contains("server=memory"), "{}", lines[0]);
}

#[tokio::test]
async fn a_flood_of_lines_is_cut_to_the_rate_and_the_rest_is_counted() {
    // 20,000 lines in a few milliseconds: the burst is logged, the rest counted. Drops are
    // reported with the next line let through, so there may be several reports, the last once
    // the pipe is read to its end: wait for the counts to add up, or for the deadline.
    let log = log_until("sh", &["-c", "seq 1 20000 >&2"], |log| {
        let (logged, dropped) = counts(log);
        logged + dropped >= 20_000
    })
    .await;
    for line in log.lines().filter(|l| l.contains("lines dropped")) {
        assert!(line.contains(" WARN ") && line.contains("server=memory"), "{line}");
    }
    let (logged, dropped) = counts(&log);
    assert!(dropped > 0, "nothing was dropped: {log}");
    let burst = STDERR_BURST as usize;
    // A few more than the burst may pass while the lines are read (50 per second).
    assert!((burst..burst + 50).contains(&logged), "{logged} lines logged");
    assert_eq!(logged + dropped, 20_000, "every line is either logged or counted");
}

/// Lines of the child logged, and lines reported dropped.
fn counts(log: &str) -> (usize, usize) {
    let logged = log.lines().filter(|l| l.contains("server stderr") && l.contains("line=")).count();
    let dropped = log
        .lines()
        .filter(|l| l.contains("lines dropped"))
        .filter_map(|l| l.split("dropped=").nth(1)?.split(' ').next()?.parse::<usize>().ok())
        .sum();
    (logged, dropped)
}
