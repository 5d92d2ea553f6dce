//! What request ids and user tags cost:
//!
//! * `router/bare`: a one-route axum router answering `GET /health`, through `oneshot`;
//! * `router/noop_layer`: the same behind a layer that does nothing, what axum's `Router::layer`
//!   itself costs (it boxes the layered service and its future);
//! * `router/request_id`: the same behind [`RequestIdLayer`] (an id made, the request's and
//!   the response's header set, the span), no subscriber installed;
//! * `router/request_id/client_id`: the same with a sane `X-Request-ID` from the client;
//! * `router/…stream`: `GET /stream`, a body of one chunk with no known size, read to its end
//!   (the layer polls such a body inside the request's span when a subscriber listens);
//! * `…/fmt_subscriber`: both with a `tracing_subscriber::fmt` subscriber at INFO writing to a
//!   sink, which builds the span and formats its field (what a gateway logging at INFO pays);
//! * `span…`: the `request` span alone — made, entered, left and closed — without the router;
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
    Router::new().route("/health", get(|| async { "ok" })).route(
        "/stream",
        get(|| async {
            let chunk = Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"data: ok\n\n"));
            Body::from_stream(futures::stream::iter([chunk]))
        }),
    )
}

fn request(path: &'static str, client_id: Option<&'static str>) -> Request<Body> {
    let mut request = Request::get(path);
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
    (path, client_id): (&'static str, Option<&'static str>),
) {
    c.bench_function(&format!("router/{name}"), |b| {
        b.to_async(rt).iter(|| async {
            let response = router.clone().oneshot(request(path, client_id)).await.unwrap();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            black_box(body)
        })
    });
}

fn routers(c: &mut Criterion, rt: &tokio::runtime::Runtime, suffix: &str) {
    let bare = health();
    let with_ids = health().layer(RequestIdLayer);
    let client = Some("client-1f3a");
    bench_router(c, rt, &format!("bare{suffix}"), &bare, ("/health", None));
    let noop = health().layer(tower::layer::layer_fn(|service| service));
    bench_router(c, rt, &format!("noop_layer{suffix}"), &noop, ("/health", None));
    bench_router(c, rt, &format!("request_id{suffix}"), &with_ids, ("/health", None));
    bench_router(c, rt, &format!("request_id/client_id{suffix}"), &with_ids, ("/health", client));
    bench_router(c, rt, &format!("bare/stream{suffix}"), &bare, ("/stream", None));
    bench_router(c, rt, &format!("request_id/stream{suffix}"), &with_ids, ("/stream", None));
}

/// What the layer does with its span, without the rest.
fn request_span() {
    let span = tracing::error_span!("request", request_id = %black_box("k3v9q0c2hx7m-1041"));
    let entered = span.enter();
    drop(black_box(entered));
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    routers(c, &rt, "");
    c.bench_function("span", |b| b.iter(request_span));
    // Installed globally, as the gateway does (a thread's scoped default costs more per call);
    // hence last.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    routers(c, &rt, "/fmt_subscriber");
    c.bench_function("span/fmt_subscriber", |b| b.iter(request_span));

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
