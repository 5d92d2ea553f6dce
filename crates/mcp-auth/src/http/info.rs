//! Unauthenticated documents: `GET {base}/health` (liveness) and `GET {base}/ready`
//! (readiness) for load balancers and orchestrators, and the info document at `GET {base}`
//! (without `Accept: text/event-stream`) that the original package served.
//!
//! None reveals anything internal: the original's health endpoint leaked pool sizes, modes
//! and the resource type to anyone. A failed readiness check is named in the log, not in the
//! answer.

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::Shared;
use crate::readiness::NotReady;

/// `GET {base}/health`.
pub(crate) async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET {base}/ready`: `200` while this server should get new traffic, `503` once it drains or
/// while a readiness check fails. Never cached: a cached `200` would keep traffic coming to a
/// draining process.
pub(crate) async fn ready<H>(State(shared): State<Arc<Shared<H>>>) -> Response {
    let (status, word) = match shared.readiness.check().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(NotReady::Draining) => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
        Err(not_ready) => {
            tracing::warn!(server = %shared.http.name, reason = %not_ready, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
        }
    };
    let mut response = (status, Json(json!({ "status": word }))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET {base}` for a browser or curl.
pub(crate) fn document<H>(shared: &Arc<Shared<H>>) -> Response {
    let base = &shared.http.base_path;
    Json(json!({
        "name": shared.http.name,
        "version": shared.http.version,
        "endpoints": {
            "mcp": format!("POST|GET|DELETE {base}"),
            "message": format!("POST {base}/message"),
            "sse": format!("GET {base}/sse"),
            "messages": format!("POST {base}/messages?sessionId=..."),
            "health": format!("GET {base}/health"),
            "ready": format!("GET {base}/ready"),
        },
        "authentication": "Authorization: Bearer <token>",
    }))
    .into_response()
}
