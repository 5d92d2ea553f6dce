//! Hot path of `[credentials] mode = "store"`: what one request pays to get its user's
//! credential from the built-in store.
//!
//! - `store_resolver/cache_hit`: `StoreTokenResolver::resolve` answered from its cache, what
//!   every request of a user costs between two store reads;
//! - `store_resolver/store_read`: `CredentialStore::lookup`, the audited SQLite read and
//!   AES-256-GCM open a cache miss costs (and what every request cost before the cache);
//! - `store_resolver/cache_ttl_zero`: the resolver with caching off, a read per request.
//!
//! Run: `cargo bench -p mcp-auth-store --bench store_resolver`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth::{Principal, TokenResolver};
use mcp_auth_store::{CredentialStore, Keyring, NewCredential, StoreTokenResolver};

fn bench(c: &mut Criterion) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(async {
        let store =
            CredentialStore::open(dir.path().join("credentials.db"), Keyring::generate()).await;
        let store = store.unwrap();
        let credential = NewCredential::new("gho_bench_credential").with_refresh_token("ghr_b");
        store.put("user-1234", "github", credential, "bench").await.unwrap();
        store
    });
    let principal = Principal::new("user-1234").unwrap();
    let resolver = StoreTokenResolver::new(store.clone());
    let uncached = StoreTokenResolver::new(store.clone()).with_cache_ttl(Duration::ZERO);
    let warm = rt.block_on(resolver.resolve(&principal, "github")).unwrap();
    assert_eq!(warm.secret().expose(), "gho_bench_credential");

    c.bench_function("store_resolver/cache_hit", |b| {
        b.to_async(&rt).iter(|| resolver.resolve(&principal, "github"))
    });
    c.bench_function("store_resolver/store_read", |b| {
        b.to_async(&rt).iter(|| store.lookup("user-1234", "github", "bench"))
    });
    c.bench_function("store_resolver/cache_ttl_zero", |b| {
        b.to_async(&rt).iter(|| uncached.resolve(&principal, "github"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
