//! `GET {base}/ready`: `200 {"status":"ready"}` while the server should get traffic, `503
//! {"status":"draining"}` once its shutdown has begun, `503 {"status":"not_ready"}` while a
//! readiness check fails; never cached, never authenticated, never naming the failed check.
//! `GET {base}/health` stays `200` throughout: it is liveness, not readiness.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use futures::future::BoxFuture;
use mcp_auth::{Readiness, WrappedServer, readiness::ReadinessCheck, wrap_server};
use serde_json::{Value, json};
use support::{app::*, server::Observed};

/// A `GET` of `url`: status, `Cache-Control`, JSON body.
async fn get(url: &str) -> (u16, String, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache, response.json().await.unwrap())
}

/// Serves `server`'s router (not `serve`, which stops accepting at shutdown) on 127.0.0.1:0;
/// returns the base URL (`http://addr`).
async fn serve_router(server: &WrappedServer<support::server::TestServer>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = server.router().into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn server_with(
    readiness: Readiness,
    base_path: &str,
) -> WrappedServer<support::server::TestServer> {
    wrap_server(Observed::default().factory())
        .auth_provider(jwt_provider())
        .http(mcp_auth::http::HttpOptions::default().with_base_path(base_path))
        .readiness(readiness)
        .build()
        .unwrap()
}

#[tokio::test]
async fn ready_is_200_until_shutdown_then_503_draining_while_health_stays_200() {
    let server = server_with(Readiness::new(), "/mcp");
    let base = serve_router(&server).await;

    let ready = get(&format!("{base}/mcp/ready")).await;
    assert_eq!(ready, (200, "no-store".to_owned(), json!({ "status": "ready" })));

    server.shutdown();
    assert!(server.readiness().is_draining());
    let ready = get(&format!("{base}/mcp/ready")).await;
    assert_eq!(ready, (503, "no-store".to_owned(), json!({ "status": "draining" })));
    let (status, _, health) = get(&format!("{base}/mcp/health")).await;
    assert_eq!((status, health), (200, json!({ "status": "ok" })));
}

#[tokio::test]
async fn while_draining_before_shutdown_mcp_requests_are_still_answered() {
    let app = App::start(|builder| builder).await;
    app.server.readiness().set_draining();

    let ready = get(&format!("{}/ready", app.url)).await;
    assert_eq!(ready, (503, "no-store".to_owned(), json!({ "status": "draining" })));
    let body = stateless_call(1, "echo", json!({ "text": "still here" }), None);
    let http = reqwest::Client::new();
    let response = stateless_request(&http, &app.url, Some(&token_for("alice")), "echo", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("still here"));
}

/// A check whose answer the test sets: a shared store that goes down and comes back.
struct Switch(Arc<AtomicBool>);

impl ReadinessCheck for Switch {
    fn name(&self) -> &str {
        "redis"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let up = self.0.load(Ordering::SeqCst);
        Box::pin(async move { if up { Ok(()) } else { Err("connection refused".to_owned()) } })
    }
}

#[tokio::test]
async fn a_failing_check_makes_ready_503_not_ready_without_naming_it_until_it_passes() {
    let up = Arc::new(AtomicBool::new(false));
    let readiness = Readiness::new();
    readiness.add_check(Switch(up.clone()));
    let server = server_with(readiness, "/mcp");
    let base = serve_router(&server).await;

    let response = reqwest::get(format!("{base}/mcp/ready")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    assert_eq!(body, r#"{"status":"not_ready"}"#, "the check and its reason stay in the log");

    up.store(true, Ordering::SeqCst);
    let ready = get(&format!("{base}/mcp/ready")).await;
    assert_eq!(ready, (200, "no-store".to_owned(), json!({ "status": "ready" })));
}

#[tokio::test]
async fn one_readiness_handle_drains_every_server_it_was_given_to() {
    let readiness = Readiness::new();
    let servers = [server_with(readiness.clone(), "/a"), server_with(readiness.clone(), "/b")];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = servers.clone();
    tokio::spawn(async move { WrappedServer::serve_all(&serving, listener).await });
    for path in ["/a/ready", "/b/ready"] {
        assert_eq!(get(&format!("{base}{path}")).await.0, 200, "{path}");
    }

    readiness.set_draining();
    for path in ["/a/ready", "/b/ready"] {
        let ready = get(&format!("{base}{path}")).await;
        assert_eq!(ready, (503, "no-store".to_owned(), json!({ "status": "draining" })), "{path}");
    }
    servers[0].shutdown();
}
