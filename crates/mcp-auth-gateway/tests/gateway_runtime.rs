//! `server.worker_threads` sizes the runtime of `mcp-auth serve` (a real process).

mod support;

use std::time::Duration;

use support::gateway::{Gateway, demo_stdio_config};

#[tokio::test]
async fn the_runtime_has_the_configured_number_of_worker_threads() {
    // 3: neither tokio's default on the 2-core machines this runs on nor 1.
    let config = format!("[server]\nworker_threads = 3\n{}", demo_stdio_config(""));
    let gateway = Gateway::start(&config).await;
    // The line is logged before the banner, but stderr is read by another task: poll for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !gateway.logs().contains("serving on") && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = gateway.logs();
    let line = logs.lines().find(|line| line.contains("serving on")).unwrap_or_default();
    assert!(line.contains("worker_threads=3"), "the startup line names 3 workers:\n{logs}");
}
