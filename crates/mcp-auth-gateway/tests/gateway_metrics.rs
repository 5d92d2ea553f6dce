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

#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_is_exposed() {
    // Every family needs a sample to be listed: a resolver, a good call, a refused token and a
    // token in the query.
    let config = format!(
        "[server]\nmetrics = \"public\"\n[credentials]\nmode = \"env\"\n{}",
        demo_stdio_config("")
    );
    let gateway = Gateway::start_with_env(&config, &[("DEFAULT_ACCESS_TOKEN", "t")]).await;
    let origin = gateway.url.trim_end_matches("/mcp").to_owned();
    let (client, _) = gateway.client("alice").await;
    client.call_tool(rmcp::model::CallToolRequestParams::new("whoami")).await.unwrap();
    let http = reqwest::Client::new();
    for url in [gateway.url.clone(), format!("{}?access_token=x", gateway.url)] {
        let status = http.post(url).body("{}").send().await.unwrap().status();
        assert!([400, 401].contains(&status.as_u16()), "{status}");
    }
    let body = reqwest::get(format!("{origin}/metrics")).await.unwrap().text().await.unwrap();
    client.cancel().await.unwrap();
    let typed: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    ))
    .unwrap();
    let mut queried: Vec<&str> = dashboard
        .match_indices("mcp_auth_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap();
            rest[..end].trim_end_matches("_bucket")
        })
        .collect();
    queried.sort_unstable();
    queried.dedup();
    assert!(queried.len() >= 10, "{queried:?}");
    for name in queried {
        assert!(
            typed.contains(&name),
            "the dashboard queries {name}, which is not exposed: {typed:?}"
        );
    }
}
