//! The admin API, behind its own bearer token: put, list (no secrets), delete, revoke a user,
//! rotate the key. Every call is audited by the store under the actor `admin-api`.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `PUT /admin/credentials/{user}/{resource}` | `{"access_token", "refresh_token"?, "expires_at"? (RFC 3339), "scopes"?: [..]}` | `200` the credential's info |
//! | `GET /admin/credentials[?user=U]` | — | `200 {"credentials": [info…]}` |
//! | `DELETE /admin/credentials/{user}/{resource}` | — | `204`, or `404` |
//! | `POST /admin/users/{user}/revoke` | — | `200 {"user_id", "deleted"}` |
//! | `POST /admin/rotate-key` | — | `200 {"key_id", "rotated", "failed", "batches"}` |
//!
//! Bodies are bounded (see [`TenantManagerService::with_body_limit`](super::TenantManagerService::with_body_limit)),
//! must be JSON objects with only those fields, and are never echoed: a malformed body is
//! answered with the kind of problem and its position, not its text.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State, rejection::BytesRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mcp_auth::Secret;
use serde::Deserialize;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{ApiState, errors::ApiError, info_json};
use crate::store::NewCredential;

/// The actor the audit log names for admin calls.
pub(super) const ACTOR: &str = "admin-api";

/// The body of a put.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    access_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(StatusCode::BAD_REQUEST, message.into())
}

/// Parses a JSON body without ever quoting it back.
fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<PutBody, ApiError> {
    let body = body.map_err(|rejection| {
        ApiError::BadRequest(
            rejection.status(),
            "the request body could not be read (too large?)".into(),
        )
    })?;
    serde_json::from_slice(&body).map_err(|error| {
        let kind = match error.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not valid JSON"
            }
            _ => {
                "not a credential: expected {\"access_token\": string, \"refresh_token\"?: string, \
                 \"expires_at\"?: RFC 3339 string, \"scopes\"?: [string]} and nothing else"
            }
        };
        bad_request(format!(
            "the body is {kind} (line {}, column {})",
            error.line(),
            error.column()
        ))
    })
}

pub(super) async fn put_credential(
    State(state): State<Arc<ApiState>>,
    Path((user_id, resource_type)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = parse_body(body)?;
    let mut credential = NewCredential::new(body.access_token).with_scopes(body.scopes);
    if let Some(refresh_token) = body.refresh_token {
        credential = credential.with_refresh_token(refresh_token);
    }
    if let Some(expires_at) = body.expires_at {
        let at = OffsetDateTime::parse(&expires_at, &Rfc3339)
            .map_err(|_| bad_request("expires_at must be an RFC 3339 date-time"))?;
        credential = credential.with_expiry(at.into());
    }
    let info = state
        .store
        .put(&user_id, &resource_type, credential, ACTOR)
        .await
        .map_err(ApiError::from_store)?;
    Ok(Json(info_json(&info)).into_response())
}

/// The query of a listing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    user: Option<String>,
}

pub(super) async fn list_credentials(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| bad_request("the only query parameter is `user`"))?;
    let infos =
        state.store.list(query.user.as_deref(), ACTOR).await.map_err(ApiError::from_store)?;
    let credentials: Vec<Value> = infos.iter().map(info_json).collect();
    Ok(Json(json!({ "credentials": credentials })).into_response())
}

pub(super) async fn delete_credential(
    State(state): State<Arc<ApiState>>,
    Path((user_id, resource_type)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let deleted =
        state.store.delete(&user_id, &resource_type, ACTOR).await.map_err(ApiError::from_store)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound("no credential for this user and resource type"))
    }
}

pub(super) async fn revoke_user(
    State(state): State<Arc<ApiState>>,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let deleted = state.store.revoke_user(&user_id, ACTOR).await.map_err(ApiError::from_store)?;
    Ok(Json(json!({ "user_id": user_id, "deleted": deleted })).into_response())
}

pub(super) async fn rotate_key(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let report =
        state.store.rotate_key(state.rotation_batch, ACTOR).await.map_err(ApiError::from_store)?;
    Ok(Json(json!({
        "key_id": report.key_id,
        "rotated": report.rotated,
        "failed": report.failed,
        "batches": report.batches,
    }))
    .into_response())
}
