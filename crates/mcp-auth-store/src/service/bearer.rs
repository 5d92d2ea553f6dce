//! The bearer tokens guarding the API: `Authorization: Bearer <token>`, compared in constant
//! time, as axum middleware.
//!
//! Both sides are hashed (SHA-256) before the constant-time comparison, so that the time taken
//! reveals neither how many leading bytes matched nor the token's length.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use mcp_auth::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::errors::ApiError;

/// One expected token, kept only as its digest.
#[derive(Clone)]
pub(super) struct Bearer {
    digest: [u8; 32],
    /// Which API it guards, for the log line of a refusal.
    realm: &'static str,
}

impl Bearer {
    pub(super) fn new(token: &Secret, realm: &'static str) -> Self {
        Self { digest: Sha256::digest(token.expose().as_bytes()).into(), realm }
    }

    /// True when `presented` is the expected token.
    fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.digest).into()
    }

    /// True when the two guard the API with the same token.
    pub(super) fn same_token(&self, other: &Self) -> bool {
        self.digest.ct_eq(&other.digest).into()
    }
}

/// Lets the request through only with the expected bearer token; `401` otherwise.
pub(super) async fn require(
    State(bearer): State<Arc<Bearer>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "))
        .map(<[u8]>::trim_ascii);
    match presented {
        Some(token) if bearer.matches(token) => Ok(next.run(request).await),
        presented => {
            tracing::warn!(
                target: crate::store::AUDIT_TARGET,
                realm = bearer.realm,
                path = request.uri().path(),
                token_sent = presented.is_some(),
                "refused a request with a missing or wrong bearer token"
            );
            Err(ApiError::Unauthorized)
        }
    }
}
