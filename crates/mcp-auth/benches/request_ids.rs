//! What request ids and user tags cost:
//!
//! * `router/bare`: a one-route axum router answering `GET /health`, through `oneshot`;
//! * `router/request_id`: the same behind [`RequestIdLayer`] (an id made, the request's and
//!   the response's header set, the span), no subscriber installed;
//! * `router/request_id/client_id`: the same with a sane `X-Request-ID` from the client;
//! * `…/fmt_subscriber`: both with a `tracing_subscriber::fmt` subscriber at INFO writing to a
//!   sink, which builds the span and formats its field (what a gateway logging at INFO pays);
//! * `user_tag`: one user's keyed tag formatted (HMAC-SHA256), paid only when a line naming the
//!   user is written.
//!
//! Run: `cargo bench -p mcp-auth --bench request_ids`

use std::hint::black_box;

use axum::{Router, body::Body, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use mcp_auth::{Secret, UserIdLogging, http::RequestIdLayer};
use tower::ServiceExt;

fn health() -> Router {
    Router::new().route("/health", get(|| async { "ok" }))
}

fn request(client_id: Option<&'static str>) -> Request<Body> {
    let mut request = Request::get("/health");
    if let Some(id) = client_id {
        request = request.header("x-request-id", id);
    }
    request.body(Body::empty()).unwrap()
}

fn bench_router(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    router: &Router,
    client_id: Option<&'static str>,
) {
    c.bench_function(&format!("router/{name}"), |b| {
        b.to_async(rt).iter(|| async {
            let response = router.clone().oneshot(request(client_id)).await.unwrap();
            black_box(response)
        })
    });
}

fn routers(c: &mut Criterion, rt: &tokio::runtime::Runtime, suffix: &str) {
    let bare = health();
    let with_ids = health().layer(RequestIdLayer);
    bench_router(c, rt, &format!("bare{suffix}"), &bare, None);
    bench_router(c, rt, &format!("request_id{suffix}"), &with_ids, None);
    bench_router(c, rt, &format!("request_id/client_id{suffix}"), &with_ids, Some("client-1f3a"));
}

fn bench(c: &mut Criterion) {
    // Current-thread, so a subscriber set as this thread's default sees the requests.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    routers(c, &rt, "");
    {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        routers(c, &rt, "/fmt_subscriber");
    }

    let user_ids = UserIdLogging::keyed(&Secret::new("bench-key-0123456789abcdef0123456789"));
    let mut line = String::with_capacity(64);
    c.bench_function("user_tag", |b| {
        b.iter(|| {
            use std::fmt::Write as _;
            line.clear();
            write!(line, "{}", user_ids.tag(black_box("alice@example.com"))).unwrap();
            black_box(line.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
