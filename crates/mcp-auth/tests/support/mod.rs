//! Shared test helpers: fixture keys, token minting, a tiny JWKS server.
#![allow(dead_code)] // each test binary uses its own subset

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

pub const HS_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
pub const OTHER_HS_SECRET: &str = "another-secret-that-is-at-least-32-bytes-long";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims of a valid token for `alice`, one hour to live.
pub fn claims() -> Value {
    json!({ "sub": "alice", "iat": now(), "exp": now() + 3600 })
}

/// An encoding key for a fixture: `hs` (HS_SECRET), `rsa-a`, `rsa-b`, `ec-p256`, `ed25519`.
pub fn encoding_key(name: &str) -> EncodingKey {
    match name {
        "hs" => EncodingKey::from_secret(HS_SECRET.as_bytes()),
        "hs-other" => EncodingKey::from_secret(OTHER_HS_SECRET.as_bytes()),
        "ec-p256" => EncodingKey::from_ec_pem(&fixture("ec-p256.key.pem")).unwrap(),
        "ed25519" => EncodingKey::from_ed_pem(&fixture("ed25519.key.pem")).unwrap(),
        rsa => EncodingKey::from_rsa_pem(&fixture(&format!("{rsa}.key.pem"))).unwrap(),
    }
}

pub fn sign(alg: Algorithm, key: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(key)).unwrap()
}

/// A token whose header says `alg: none` and which carries no signature.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

/// The public JWK of a fixture key pair, with `kid`.
pub fn public_jwk(alg: Algorithm, key: &str, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(&encoding_key(key), alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

/// A JWKS endpoint on 127.0.0.1:0 whose document can be swapped, counting fetches.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    document: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        let document = Arc::new(Mutex::new(json!({ "keys": keys })));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (doc, count) = (doc.clone(), count.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    let doc = doc.lock().unwrap().clone();
                    if doc.is_null() {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(Value::Null))
                    } else {
                        (axum::http::StatusCode::OK, axum::Json(doc))
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, document, fetches }
    }

    pub fn serve(&self, keys: Vec<Value>) {
        *self.document.lock().unwrap() = json!({ "keys": keys });
    }

    /// Makes the endpoint answer 503.
    pub fn fail(&self) {
        *self.document.lock().unwrap() = Value::Null;
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// How long [`poll_until`] waits by default before failing a test: far longer than anything
/// takes on a busy machine, so reaching it means the awaited thing is not going to happen.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `check` every 10 ms until it returns `Some`, and returns that value; fails the test,
/// naming `what`, once `deadline` has passed.
///
/// This replaces a fixed `sleep` wherever a test waits for something that happens on its own
/// time (a TTL running out, a background task finishing): the test goes on as soon as the
/// condition holds, and fails only if it never does.
pub async fn poll_until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub mod app;
pub mod log_capture;
pub mod server;
