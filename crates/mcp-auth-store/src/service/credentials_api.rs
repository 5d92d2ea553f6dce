//! `GET /api/credentials/{userId}/{resourceType}`: the original tenant manager's contract, as
//! [`ApiTokenResolver`](mcp_auth::ApiTokenResolver) consumes it.
//!
//! | store says | answer |
//! |---|---|
//! | an active credential | `200 {"access_token": …, "expires_at": RFC 3339}` (`expires_at` only if it expires) |
//! | nothing, or `needs_reconnect` | `404` |
//! | the user was revoked | `410 Gone` (the resolver treats it as not found, and caches that) |
//! | an id the store refuses | `404`: it can hold no credential |
//! | a failure, an undecryptable row | `503` with `Retry-After` |
//!
//! Every answer is `Cache-Control: no-store`.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

use super::{ApiState, errors::ApiError, rfc3339};
use crate::store::{CredentialStatus, Lookup, StoreError};

/// The actor the audit log names for reads through this endpoint.
pub(super) const ACTOR: &str = "tenant-api";

pub(super) async fn get_credential(
    State(state): State<Arc<ApiState>>,
    Path((user_id, resource_type)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let stored = match state.store.lookup(&user_id, &resource_type, ACTOR).await {
        Ok(Lookup::Found(stored)) if stored.info.status == CredentialStatus::Active => stored,
        Ok(Lookup::Revoked { .. }) => return Err(ApiError::Gone),
        Ok(_) | Err(StoreError::InvalidInput { .. }) => {
            return Err(ApiError::NotFound("no credential for this user and resource type"));
        }
        Err(error) => return Err(ApiError::from_store(error)),
    };
    let mut body = Map::new();
    body.insert("access_token".into(), Value::String(stored.access_token.expose().to_owned()));
    if let Some(at) = stored.info.expires_at {
        body.insert("expires_at".into(), Value::String(rfc3339(at)));
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
