//! Unauthenticated documents: `GET {base}/health` for load balancers, and the info document at
//! `GET {base}` (without `Accept: text/event-stream`) that the original package served.
//!
//! Neither reveals anything internal: the original's health endpoint leaked pool sizes, modes
//! and the resource type to anyone.

use std::sync::Arc;

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::Shared;

/// `GET {base}/health`.
pub(crate) async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
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
        },
        "authentication": "Authorization: Bearer <token>",
    }))
    .into_response()
}
