//! A custom `AuthProvider`: API keys in an `X-API-Key` header, mapped to user ids.
//!
//! Run: `cargo run -p mcp-auth --example api_key_provider`

use std::collections::HashMap;

use mcp_auth::{
    AuthError, AuthProvider, Principal, Secret,
    auth::{RequestContext, TransportKind},
};

/// Looks the presented key up in a fixed table. A real one would ask a database.
struct ApiKeyProvider {
    users_by_key: HashMap<String, (Secret, String)>,
}

impl ApiKeyProvider {
    fn new(keys: impl IntoIterator<Item = (&'static str, &'static str)>) -> Self {
        // Index by a non-secret prefix; compare the whole key in constant time.
        let users_by_key = keys
            .into_iter()
            .map(|(key, user)| (key[..8].to_owned(), (Secret::new(key), user.to_owned())))
            .collect();
        Self { users_by_key }
    }
}

#[async_trait::async_trait]
impl AuthProvider for ApiKeyProvider {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        let presented = ctx.header("x-api-key").ok_or(AuthError::MissingCredentials)?;
        let (stored, user) = presented
            .get(..8)
            .and_then(|prefix| self.users_by_key.get(prefix))
            .ok_or(AuthError::InvalidCredentials)?;
        if *stored != Secret::new(presented) {
            return Err(AuthError::InvalidCredentials);
        }
        Principal::new(user.clone())
    }
}

#[tokio::main]
async fn main() {
    let provider = ApiKeyProvider::new([("key_live_alice_0001", "alice")]);
    for presented in [Some("key_live_alice_0001"), Some("key_live_alice_9999"), None] {
        let mut headers = http::HeaderMap::new();
        if let Some(key) = presented {
            headers.insert("x-api-key", key.parse().expect("ascii"));
        }
        let ctx = RequestContext::new(TransportKind::StreamableHttp, &headers);
        match provider.authenticate(&ctx).await {
            Ok(principal) => println!("authenticated as {}", principal.user_id()),
            Err(err) => println!("refused: {err}"),
        }
    }
}
