//! Hot path: `ApiTokenResolver::resolve` served from its cache (no HTTP), which is what every
//! request of a known user costs once the tenant manager has answered.
//!
//! Run: `cargo bench -p mcp-auth --bench resolver_cache_hit`

use axum::{Json, Router, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth::{ApiTokenResolver, Principal, TokenResolver};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let url = rt.block_on(async {
        let app = Router::new().route(
            "/api/credentials/{user}/{resource}",
            get(|| async { Json(json!({ "accessToken": "ghp_bench_credential" })) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let resolver = ApiTokenResolver::builder(url, "bench-service-token").build().unwrap();
    let principal = Principal::new("user-1234").unwrap();
    // Warm the cache with the one real HTTP call.
    let credential = rt.block_on(resolver.resolve(&principal, "github")).unwrap();
    assert_eq!(credential.secret().expose(), "ghp_bench_credential");

    c.bench_function("resolver/cache_hit", |b| {
        b.to_async(&rt).iter(|| resolver.resolve(&principal, "github"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
