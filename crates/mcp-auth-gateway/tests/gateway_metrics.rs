//! `server.metrics = "public"`: the real binary serves `/metrics`, whose counters and gauges
//! follow a real client's session, child process included, and name no user.

mod support;

use support::gateway::{Gateway, demo_stdio_config, text};

#[tokio::test]
async fn metrics_follow_a_session_and_its_child_without_naming_the_user() {
    let config = format!("[server]\nmetrics = \"public\"\n{}", demo_stdio_config(""));
    let gateway = Gateway::start(&config).await;
    let origin = gateway.url.trim_end_matches("/mcp").to_owned();
    let (client, _) = gateway.client("alice").await;
    let answer = client.call_tool(rmcp::model::CallToolRequestParams::new("whoami")).await.unwrap();
    assert!(text(&answer).contains("alice"));

    let response = reqwest::get(format!("{origin}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let body = response.text().await.unwrap();
    for line in ["mcp_auth_child_processes 1", r#"mcp_auth_instances{server="demo"} 1"#] {
        assert!(body.lines().any(|l| l == line), "no line `{line}` in:\n{body}");
    }
    // The handshake and the call, whatever era the client settled on.
    let answered: f64 = body
        .lines()
        .filter(|l| {
            l.starts_with(r#"mcp_auth_http_requests_total{server="demo",route="mcp",method="POST""#)
                && l.contains(r#"status="200""#)
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert!(answered >= 2.0, "{body}");
    assert!(!body.contains("alice"), "the user id is never a label");
    client.cancel().await.unwrap();
}
