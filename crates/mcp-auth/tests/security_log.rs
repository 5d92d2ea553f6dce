//! Security events reach the log, target `mcp_auth::security`: refused authentications (reason
//! and peer), `Host`/`Origin` refusals, rate-limit refusals (the user only as a hash). Never a
//! token, never a raw user id — and a flood of them is itself rate-limited, with the number
//! left out reported on the next line that is logged.
//!
//! Each test runs on a current-thread runtime, so the server's tasks log into this thread's
//! capture.

mod support;

use mcp_auth::middleware::RateLimitConfig;
use serde_json::json;
use support::{DEADLINE, app::*, log_capture::capture_logs, poll_until};

/// The captured lines of one security event.
fn events<'a>(logs: &'a str, event: &str) -> Vec<&'a str> {
    let tag = format!("event=\"{event}\"");
    logs.lines().filter(|l| l.contains("mcp_auth::security") && l.contains(&tag)).collect()
}

#[tokio::test]
async fn refusals_are_logged_with_reason_and_peer_but_no_token_or_user_id() {
    let (capture, _guard) = capture_logs();
    let user = "carol@example.test";
    let app = App::start(|b| b.rate_limit(RateLimitConfig::per_minute(1).with_burst(1))).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    let forged = "forged.token.value-5f1c";
    let send = |token: &str| stateless_request(&http, &app.url, Some(token), "whoami", &body);

    assert_eq!(send(forged).send().await.unwrap().status(), 401);
    let rebinding = send(&token_for(user)).header("host", "evil.example.test");
    assert_eq!(rebinding.send().await.unwrap().status(), 403);
    let foreign_page = send(&token_for(user)).header("origin", "https://evil.example.test");
    assert_eq!(foreign_page.send().await.unwrap().status(), 403);
    assert_eq!(send(&token_for(user)).send().await.unwrap().status(), 200);
    assert_eq!(send(&token_for(user)).send().await.unwrap().status(), 429);

    let logs = capture.text();
    let failed = events(&logs, "auth_failed");
    assert_eq!(failed.len(), 1, "{logs}");
    assert!(failed[0].contains("peer=Some(127.0.0.1)"), "{}", failed[0]);
    let guard = events(&logs, "host_origin_refused");
    assert_eq!(guard.len(), 2, "{logs}");
    assert!(guard[0].contains("Host header is not allowed") && guard[0].contains("127.0.0.1"));
    assert!(guard[1].contains("Origin is not allowed"), "{}", guard[1]);
    let refused = events(&logs, "refused");
    assert_eq!(refused.len(), 1, "{logs}");
    assert!(refused[0].contains("what=\"rate_limit\"") && refused[0].contains("user="));
    assert!(!logs.contains(forged), "a token reached the logs:\n{logs}");
    let security: Vec<&str> = logs.lines().filter(|l| l.contains("mcp_auth::security")).collect();
    assert!(security.iter().all(|l| !l.contains(user)), "a raw user id: {security:#?}");
}

#[tokio::test]
async fn a_flood_of_refusals_is_logged_at_a_bounded_rate_with_a_count_of_the_rest() {
    let (capture, _guard) = capture_logs();
    let app = App::start(|b| b).await;
    let http = reqwest::Client::new();
    let body = stateless_call(1, "whoami", json!({}), None);
    // Host refusals: no failed-auth budget stands in the way, so all 200 reach the guard.
    for _ in 0..200 {
        let request = stateless_request(&http, &app.url, None, "whoami", &body);
        let response = request.header("host", "evil.example.test").send().await.unwrap();
        assert_eq!(response.status(), 403);
    }
    let logs = capture.text();
    let logged = events(&logs, "host_origin_refused").len();
    // 20 per second with bursts of 20: a run of 200 takes well under the 9 s it would need to
    // log them all.
    assert!((20..200).contains(&logged), "{logged} of 200 logged");
    // Refused requests go on until one is logged again (the budget refills in real time, a
    // line per 50 ms); that line carries the count of those left out, so nothing is lost.
    let refuse = async || {
        let request = stateless_request(&http, &app.url, None, "whoami", &body);
        request.header("host", "evil.example.test").send().await.unwrap();
    };
    let mut sent = 200;
    poll_until("a refusal logged after the flood", DEADLINE, async || {
        refuse().await;
        sent += 1;
        (events(&capture.text(), "host_origin_refused").len() > logged).then_some(())
    })
    .await;
    let logs = capture.text();
    let lines = events(&logs, "host_origin_refused");
    let suppressed: usize = lines
        .iter()
        .map(|line| {
            let count = line.split("suppressed=").nth(1).and_then(|r| r.split_whitespace().next());
            count.and_then(|n| n.parse::<usize>().ok()).unwrap_or_else(|| panic!("{line}"))
        })
        .sum();
    assert!(suppressed > 0, "{logs}");
    assert_eq!(lines.len() + suppressed, sent, "every refusal is logged or counted");
}
