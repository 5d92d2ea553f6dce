//! Hot path: verifying one bearer JWT (signature, time window, iss/aud, claims → Principal).
//!
//! Run: `cargo bench -p mcp-auth --bench jwt_verify`

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_auth::JwtAuthProvider;
use serde_json::json;

const SECRET: &str = "bench-secret-that-is-at-least-32-bytes-long";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn token(alg: Algorithm, key: &EncodingKey) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": "user-1234", "iss": "https://tenants.example", "aud": "https://mcp.example",
        "iat": now, "exp": now + 3600, "scope": "tools:call",
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // The verified-token cache is off here: these rows measure real verifications. The last row
    // measures what a repeated token costs with the default cache.
    let builder = || {
        JwtAuthProvider::builder()
            .issuer("https://tenants.example")
            .audience("https://mcp.example")
            .verified_cache_capacity(0)
    };
    let cases = [
        (
            "HS256",
            builder().secret(SECRET).build().unwrap(),
            token(Algorithm::HS256, &EncodingKey::from_secret(SECRET.as_bytes())),
        ),
        (
            "RS256",
            builder().public_key_pem(Algorithm::RS256, fixture("rsa-a.pub.pem")).build().unwrap(),
            token(Algorithm::RS256, &EncodingKey::from_rsa_pem(&fixture("rsa-a.key.pem")).unwrap()),
        ),
        (
            "ES256",
            builder().public_key_pem(Algorithm::ES256, fixture("ec-p256.pub.pem")).build().unwrap(),
            token(
                Algorithm::ES256,
                &EncodingKey::from_ec_pem(&fixture("ec-p256.key.pem")).unwrap(),
            ),
        ),
        (
            "HS256 remembered",
            JwtAuthProvider::builder()
                .issuer("https://tenants.example")
                .audience("https://mcp.example")
                .secret(SECRET)
                .build()
                .unwrap(),
            token(Algorithm::HS256, &EncodingKey::from_secret(SECRET.as_bytes())),
        ),
    ];
    let mut group = c.benchmark_group("jwt_verify");
    for (name, provider, token) in &cases {
        assert!(rt.block_on(provider.verify(token)).is_ok());
        group.bench_function(*name, |b| b.to_async(&rt).iter(|| provider.verify(token)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
