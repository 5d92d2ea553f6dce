//! The real `mcp-auth serve` logging as its `[log]` section says: `format = "json"` makes every
//! line on stderr one JSON object, with the request's id among its spans' fields and the URL
//! queries still redacted; users are named by the tag of the configured key — the library's
//! lines and the lines of the user's own child alike — or by their id with `log_user_ids`.

mod support;

use std::time::Duration;

use mcp_auth::{Secret, UserIdLogging};
use serde_json::{Value, json};
use support::{
    gateway::{Gateway, SECRET, answer, answer_text, stateless_call},
    procs::wait_until,
};

const LOG_KEY: &str = "gateway-log-key-0123456789abcdef0123456789";
const USER: &str = "olga";

/// The demo as a stdio child per user at `/mcp` (one request a second per user), an upstream
/// nobody listens on at `/down` (its URL's query a secret), and `log`, the `[log]` section.
fn config(log: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[log]
{log}

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]
env = {{ MCP_USER_ID = "{{user_id}}" }}
[servers.rate_limit]
per_second = 1
burst = 1

[[servers]]
name = "down"
path = "/down"
url = "http://127.0.0.1:1/mcp?key=kept-in-the-url"
"#,
        exe = env!("CARGO_BIN_EXE_mcp-auth"),
    )
}

/// `user` calls `whoami` on the demo twice — served, then refused by the rate limit — and once
/// on `/down`; a forged token is refused. Returns the request ids: (forged, served, limited).
async fn traffic(gateway: &Gateway) -> (String, String, String) {
    let http = reqwest::Client::new();
    let id = |response: &reqwest::Response| {
        response.headers()["x-request-id"].to_str().unwrap().to_owned()
    };
    let forged = stateless_call(&http, &gateway.url, "forged", "whoami", json!({}));
    let forged = forged.send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let served = stateless_call(&http, &gateway.url, &gateway.token(USER), "whoami", json!({}));
    let served = served.send().await.unwrap();
    assert_eq!(served.status(), 200);
    let served_id = id(&served);
    assert_eq!(answer_text(&answer(&served.text().await.unwrap(), 1)), USER);
    let limited = stateless_call(&http, &gateway.url, &gateway.token(USER), "whoami", json!({}));
    let limited = limited.send().await.unwrap();
    assert_eq!(limited.status(), 429);

    let down = gateway.url.replace("/mcp", "/down");
    let token = mcp_auth_gateway::token::mint(
        SECRET,
        USER,
        Duration::from_secs(600),
        None,
        Some(&down),
        None,
    )
    .unwrap();
    let failed = stateless_call(&http, &down, &token, "echo", json!({ "text": "x" }));
    assert_eq!(failed.send().await.unwrap().status(), 200, "a JSON-RPC error");
    (id(&forged), served_id, id(&limited))
}

/// Whether `line` was logged inside the request `id`.
fn in_request(line: &Value, id: &str) -> bool {
    line["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id))
}

#[tokio::test]
async fn json_lines_carry_the_request_id_and_the_users_keyed_tag() {
    let log = "format = \"json\"\nuser_hash_key_env = \"MCP_AUTH_LOG_KEY\"";
    let gateway = Gateway::start_with_env(&config(log), &[("MCP_AUTH_LOG_KEY", LOG_KEY)]).await;
    let (forged, served, limited) = traffic(&gateway).await;
    let complete = |logs: &str| {
        logs.contains("server stderr") && logs.contains("?[redacted]") && logs.contains(&limited)
    };
    let logged = wait_until(Duration::from_secs(20), || complete(&gateway.logs())).await;
    let logs = gateway.logs();
    assert!(logged, "the awaited lines were never logged:\n{logs}");

    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        assert!(line["timestamp"].is_string() && line["level"].is_string(), "{line}");
        assert!(line["target"].is_string(), "{line}");
    }
    let tag = UserIdLogging::keyed(&Secret::new(LOG_KEY)).tag(USER).to_string();
    let security = |event: &str| {
        let target = |l: &&Value| l["target"] == "mcp_auth::security" && l["event"] == event;
        lines.iter().filter(target).collect::<Vec<_>>()
    };
    let refused = security("auth_failed");
    assert!(refused.iter().any(|l| in_request(l, &forged)), "{refused:#?}");
    let limits = security("refused");
    let limit = limits.iter().find(|l| in_request(l, &limited)).expect("the 429 logged");
    assert_eq!(limit["user"], tag, "{limit}");
    assert_eq!(limit["what"], "rate_limit");

    let stderr: Vec<_> = lines.iter().filter(|l| l["message"] == "server stderr").collect();
    assert!(stderr.iter().all(|l| l["user"] == tag && l["server"] == "demo"), "{stderr:#?}");
    assert!(lines.iter().all(|l| !in_request(l, &served) || l["user"] != USER));
    assert!(!logs.contains(&format!("\"{USER}\"")), "the user id was logged:\n{logs}");
    assert!(!logs.contains("kept-in-the-url"), "a URL's query was logged:\n{logs}");
}

#[tokio::test]
async fn log_user_ids_names_users_by_their_id() {
    let gateway = Gateway::start(&config("log_user_ids = true")).await;
    let (_, _, limited) = traffic(&gateway).await;
    let complete = |logs: &str| logs.contains("server stderr") && logs.contains(&limited);
    let logged = wait_until(Duration::from_secs(20), || complete(&gateway.logs())).await;
    let logs = gateway.logs();
    assert!(logged, "the awaited lines were never logged:\n{logs}");

    let span = format!("request{{request_id={limited}}}");
    let limit = logs.lines().find(|l| l.contains(&span) && l.contains("request refused"));
    assert!(limit.expect("the 429 logged").contains(&format!("user={USER}")), "{logs}");
    let stderr: Vec<_> = logs.lines().filter(|l| l.contains("server stderr")).collect();
    assert!(stderr.iter().all(|l| l.contains(&format!("user={USER}"))), "{stderr:#?}");
    assert!(serde_json::from_str::<Value>(stderr[0]).is_err(), "pretty by default");
}
