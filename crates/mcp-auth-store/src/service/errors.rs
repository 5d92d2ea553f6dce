//! [`ApiError`]: every error the API answers, as `{"error": "…"}` with the right status. The
//! messages are fixed or built from non-secret parts; a request body is never echoed.

use std::time::Duration;

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::store::StoreError;

/// `Retry-After` of a `503`.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// An error answer of the API.
#[derive(Debug)]
pub(super) enum ApiError {
    /// `401`: missing or wrong bearer token.
    Unauthorized,
    /// `404`: no such credential (or route).
    NotFound(&'static str),
    /// `410`: the user was revoked.
    Gone,
    /// `400` (or the status of a body rejection: `413`, `415`…), with a safe message.
    BadRequest(StatusCode, String),
    /// `503`: the store failed; details are logged, not sent.
    Unavailable,
}

impl ApiError {
    /// The answer to a store failure: `400` for refused input, `503` for the rest.
    pub(super) fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::InvalidInput { .. } => {
                Self::BadRequest(StatusCode::BAD_REQUEST, error.to_string())
            }
            error => {
                tracing::error!(%error, "the credential store failed");
                Self::Unavailable
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into())
            }
            Self::NotFound(what) => (StatusCode::NOT_FOUND, what.to_owned()),
            Self::Gone => (StatusCode::GONE, "the user's credentials were revoked".into()),
            Self::BadRequest(status, message) => (status, message),
            Self::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "the credential store is unavailable".into())
            }
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        match status {
            StatusCode::UNAUTHORIZED => {
                headers
                    .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, RETRY_AFTER.as_secs().into());
            }
            _ => {}
        }
        response
    }
}
