//! `Metrics`: the exposition parses as the Prometheus text format, counters move when
//! expected, gauges follow the instances, and no user id or token is ever a label.

mod support;
mod tenant_manager;

use std::collections::HashMap;

use jsonwebtoken::Algorithm;
use mcp_auth::Metrics;
use serde_json::json;
use support::{
    app::{App, stateless_call, stateless_request, token_for},
    now, sign,
};

/// One sample: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the Prometheus text format (0.0.4) strictly: `# HELP`/`# TYPE` lines, then samples
/// `name{label="value",…} number`. Panics on anything else.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.split_once(' ').is_some(), "HELP without text: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let value: f64 = value.parse().unwrap_or_else(|_| {
            assert!(["+Inf", "-Inf", "NaN"].contains(&value), "value of {line}");
            f64::INFINITY
        });
        let (name, labels) = match series.split_once('{') {
            None => (series, HashMap::new()),
            Some((name, rest)) => {
                let rest = rest.strip_suffix('}').expect("labels end with }");
                let labels = rest
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                        (key.to_owned(), value.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "metric name {name}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| typed.contains_key(*f)))
            .unwrap_or(name);
        assert!(typed.contains_key(family), "sample before its TYPE: {line}");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

/// The value of the sample `name` whose labels include `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name && want.iter().all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn requests_refusals_and_instances_are_counted_without_user_ids() {
    let metrics = Metrics::default();
    let app = App::start(|b| b.metrics(&metrics).required_scopes(["mcp:tools"])).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let scoped = sign(
        Algorithm::HS256,
        "hs",
        None,
        &json!({ "sub": "alice", "exp": now() + 600, "scope": "mcp:tools" }),
    );
    let send = |token: Option<String>| {
        let request = stateless_request(&http, &app.url, token.as_deref(), "whoami", &body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send(Some(scoped.clone())).await, 200);
    assert_eq!(send(Some(scoped.clone())).await, 200);
    assert_eq!(send(None).await, 401);
    assert_eq!(send(Some("garbage".to_owned())).await, 401);
    assert_eq!(send(Some(token_for("bob"))).await, 403, "no mcp:tools scope");

    let text = metrics.encode().await;
    let samples = parse(&text);
    let server = ("server", "mcp-auth-wrapped-server");
    let answered = |status| {
        let labels = [server, ("route", "mcp"), ("method", "POST"), ("era", "2026-07-28"), status];
        value(&samples, "mcp_auth_http_requests_total", &labels)
    };
    assert_eq!(answered(("status", "200")), 2.0);
    assert_eq!(answered(("status", "401")), 2.0);
    assert_eq!(answered(("status", "403")), 1.0);
    let durations = "mcp_auth_http_request_duration_seconds_count";
    assert_eq!(value(&samples, durations, &[server, ("route", "mcp")]), 5.0);
    let failures = "mcp_auth_auth_failures_total";
    assert_eq!(value(&samples, failures, &[server, ("reason", "missing")]), 1.0);
    assert_eq!(value(&samples, failures, &[server, ("reason", "malformed_token")]), 1.0);
    let refusals = "mcp_auth_refusals_total";
    assert_eq!(value(&samples, refusals, &[server, ("reason", "insufficient_scope")]), 1.0);
    assert_eq!(value(&samples, "mcp_auth_instances", &[server]), 1.0, "alice's instance");
    assert!(!text.contains("alice") && !text.contains("bob"), "no user id: {text}");
    assert!(!text.contains(&scoped), "no token");
}

#[tokio::test]
async fn a_server_without_metrics_reports_nothing_and_the_router_serves_the_text() {
    let metrics = Metrics::default();
    let _unmetered = App::start(|b| b).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let router = metrics.router("/metrics");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let samples = parse(&response.text().await.unwrap());
    assert!(samples.is_empty(), "no sample without a metered server: {samples:?}");
}

#[tokio::test]
async fn the_resolver_caches_hits_and_misses_are_counted() {
    let manager = tenant_manager::Manager::start().await;
    manager.grant("alice", "github", json!({ "accessToken": "ghp_alice" }));
    let resolver = manager.resolver().build().unwrap();
    let metrics = Metrics::default();
    let app =
        App::start(|b| b.metrics(&metrics).token_resolver(resolver).resource_type("github")).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    for (user, status) in [("alice", 200), ("alice", 200), ("alice", 200), ("bob", 403)] {
        let request = stateless_request(&http, &app.url, Some(&token_for(user)), "whoami", &body);
        assert_eq!(request.send().await.unwrap().status(), status, "{user}");
    }
    let text = metrics.encode().await;
    let samples = parse(&text);
    let server = ("server", "mcp-auth-wrapped-server");
    let cache =
        |result| value(&samples, "mcp_auth_resolver_cache_total", &[server, ("reason", result)]);
    // alice: one call to the manager, then two answers from the cache; bob: one call (not found).
    assert_eq!((cache("miss"), cache("hit"), cache("stale"), cache("error")), (2.0, 2.0, 0.0, 0.0));
    assert_eq!(manager.calls(), 2);
    assert!(!text.contains("ghp_alice"), "no credential");
    // The counters follow the resolver, scrape after scrape.
    let request = stateless_request(&http, &app.url, Some(&token_for("alice")), "whoami", &body);
    assert_eq!(request.send().await.unwrap().status(), 200);
    let samples = parse(&metrics.encode().await);
    assert_eq!(value(&samples, "mcp_auth_resolver_cache_total", &[server, ("reason", "hit")]), 3.0);
}
