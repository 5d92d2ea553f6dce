//! Fault injection: the tenant manager dies and comes back while users are calling tools.
//!
//! A real tenant manager (an axum server on loopback) sits behind `wrap_server` with an
//! `ApiTokenResolver` whose cache outlives the test. Warm users — their credentials cached —
//! keep calling a tool while the manager is killed (its port then refuses connections) and
//! restarted on the same port: they must not notice. A cold user, with nothing cached, gets
//! `503` with `Retry-After` while the manager is down, and is served once it is back.

mod support;
mod tenant_manager;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::join_all;
use mcp_auth::middleware::RateLimitConfig;
use serde_json::{Value, json};
use support::{
    DEADLINE,
    app::{App, stateless_call, stateless_request, token_for},
    poll_until,
};
use tenant_manager::Manager;
use tokio::sync::watch;

const RESOURCE: &str = "github";
const WARM_USERS: usize = 4;
/// Calls each warm user makes in each of the three rounds (across the kill, while the manager
/// is down, after the restart).
const CALLS_PER_ROUND: usize = 25;
/// What the resolver answers when the tenant manager cannot be reached.
const RETRY_AFTER_SECS: u64 = 7;

/// Where the tenant manager is in its life; load clients wait on it between rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Up,
    Down,
    Restarted,
}

/// Responses by status.
type Counts = BTreeMap<u16, usize>;

/// One stateless `tools/call` of `tool` by `user`: its status, `Retry-After` and body.
async fn call(
    http: &reqwest::Client,
    app: &App,
    user: &str,
    tool: &str,
) -> (u16, Option<String>, String) {
    let body = stateless_call(1, tool, json!({}), None);
    let response = stateless_request(http, &app.url, Some(&token_for(user)), tool, &body)
        .send()
        .await
        .expect("the wrapped server answers");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.text().await.unwrap())
}

/// A warm user's load: a round of calls across the kill, a round while the manager is down and
/// a round after the restart. Every call must be served by the user's own instance.
async fn warm_load(
    app: Arc<App>,
    user: String,
    mut phase: watch::Receiver<Phase>,
    completed: Arc<AtomicUsize>,
    finished_down_round: Arc<AtomicUsize>,
) -> Counts {
    let http = reqwest::Client::new();
    let mut counts = Counts::new();
    for round in [Phase::Up, Phase::Down, Phase::Restarted] {
        phase.wait_for(|now| *now >= round).await.unwrap();
        for _ in 0..CALLS_PER_ROUND {
            let (status, _, body) = call(&http, &app, &user, "whoami").await;
            if status == 200 {
                assert!(body.contains(&format!("\"{user} {user}\"")), "{user} got {body}");
            }
            *counts.entry(status).or_default() += 1;
            completed.fetch_add(1, Ordering::SeqCst);
        }
        if round == Phase::Down {
            finished_down_round.fetch_add(1, Ordering::SeqCst);
        }
    }
    counts
}

/// The exact refusal a caller gets while the tenant manager is unreachable.
fn assert_unavailable(status: u16, retry_after: Option<&str>, body: &str) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after, Some(RETRY_AFTER_SECS.to_string().as_str()));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        json!({
            "error": "temporarily_unavailable",
            "error_description": "an upstream dependency is unavailable; retry later",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_users_ride_out_a_tenant_manager_restart_and_a_cold_user_recovers() {
    let manager = Manager::start().await;
    let warm: Vec<String> = (0..WARM_USERS).map(|i| format!("warm-{i}")).collect();
    for user in &warm {
        manager.grant(user, RESOURCE, json!({ "accessToken": format!("tok-{user}") }));
    }
    let resolver = manager
        .resolver()
        .cache_ttl(Duration::from_secs(3600))
        .default_retry_after(Duration::from_secs(RETRY_AFTER_SECS))
        .failure_cooldown(Duration::from_millis(200))
        .build()
        .unwrap();
    // The rate limit is not under test; the load would otherwise exceed its default burst.
    let app = Arc::new(
        App::start(|b| {
            b.token_resolver(resolver)
                .resource_type(RESOURCE)
                .rate_limit(RateLimitConfig::disabled())
        })
        .await,
    );
    let http = reqwest::Client::new();

    // Warm the cache: one tenant-manager call per warm user.
    for user in &warm {
        let (status, _, body) = call(&http, &app, user, "credential").await;
        assert_eq!((status, body.contains(&format!("tok-{user}"))), (200, true), "{body}");
    }
    assert_eq!(manager.calls(), WARM_USERS);

    let (phase, phase_rx) = watch::channel(Phase::Up);
    let completed = Arc::new(AtomicUsize::new(0));
    let finished_down_round = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = warm
        .iter()
        .map(|user| {
            tokio::spawn(warm_load(
                app.clone(),
                user.clone(),
                phase_rx.clone(),
                completed.clone(),
                finished_down_round.clone(),
            ))
        })
        .collect();

    // Kill the manager while the first round is under way.
    poll_until("the load to get going", DEADLINE, async || {
        (completed.load(Ordering::SeqCst) >= WARM_USERS * 5).then_some(())
    })
    .await;
    let addr = manager.addr;
    manager.shut_down().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the port still accepts");
    phase.send(Phase::Down).unwrap();

    // A cold user: nothing cached, the manager unreachable.
    let (status, retry_after, body) = call(&http, &app, "cold", "credential").await;
    assert_unavailable(status, retry_after.as_deref(), &body);

    // Restart on the same port once the warm users have made a whole round against the dead
    // manager.
    poll_until("the warm users' round while the manager is down", DEADLINE, async || {
        (finished_down_round.load(Ordering::SeqCst) == WARM_USERS).then_some(())
    })
    .await;
    let restarted = Manager::start_on(addr).await;
    for user in warm.iter().map(String::as_str).chain(["cold"]) {
        restarted.grant(user, RESOURCE, json!({ "accessToken": format!("tok-{user}-2") }));
    }
    phase.send(Phase::Restarted).unwrap();

    // The cold user's failure is remembered for the cool-down, then one call gets through.
    let mut cold = Counts::new();
    poll_until("the cold user to be served", DEADLINE, async || {
        let (status, retry_after, body) = call(&http, &app, "cold", "credential").await;
        *cold.entry(status).or_default() += 1;
        if status == 200 {
            assert!(body.contains("tok-cold-2"), "{body}");
            return Some(());
        }
        assert_unavailable(status, retry_after.as_deref(), &body);
        None
    })
    .await;

    let mut warm_counts = Counts::new();
    for counts in join_all(load).await {
        for (status, n) in counts.unwrap() {
            *warm_counts.entry(status).or_default() += n;
        }
    }
    assert_eq!(warm_counts, Counts::from([(200, WARM_USERS * 3 * CALLS_PER_ROUND)]));
    // Every other answer the cold user got was the exact 503 above.
    assert_eq!(cold.get(&200), Some(&1), "{cold:?}");
    // Warm users never went back to the manager; the cold user needed exactly one call.
    assert_eq!(manager.calls(), WARM_USERS);
    assert_eq!(restarted.calls(), 1);
}
