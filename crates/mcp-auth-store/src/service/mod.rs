//! [`TenantManagerService`]: the store served over HTTP — the original tenant manager's
//! `GET /api/credentials/{userId}/{resourceType}` for [`ApiTokenResolver`](mcp_auth::ApiTokenResolver)s,
//! and an admin API — as an axum [`Router`] to serve or nest.
//!
//! Two bearer tokens guard it: the service token for the credentials endpoint (what gateways
//! send as `tenant_api.service_token`), the admin token for `/admin/…` (operators). They must
//! differ; without an admin token the admin API is not mounted. See `credentials_api.rs` and
//! `admin.rs` for the routes and their answers.
//!
//! ```no_run
//! # async fn demo(store: mcp_auth_store::CredentialStore) -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_auth_store::TenantManagerService;
//! let app = TenantManagerService::new(store)
//!     .with_service_token(std::env::var("SERVICE_TOKEN")?)
//!     .with_admin_token(std::env::var("ADMIN_TOKEN")?)
//!     .router()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod admin;
mod bearer;
mod credentials_api;
mod errors;

use std::{sync::Arc, time::SystemTime};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post, put},
};
use mcp_auth::{ConfigError, Secret};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use self::{bearer::Bearer, errors::ApiError};
use crate::store::{CredentialInfo, CredentialStore, DEFAULT_ROTATION_BATCH};

/// Shortest service or admin token accepted.
pub const MIN_TOKEN_LEN: usize = 16;
/// Largest request body accepted unless told otherwise (bytes).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares.
struct ApiState {
    store: CredentialStore,
    rotation_batch: u32,
}

/// Builds the tenant-manager [`Router`] over a [`CredentialStore`].
///
/// `Debug` redacts the tokens.
#[derive(Debug, Clone)]
#[must_use]
pub struct TenantManagerService {
    store: CredentialStore,
    service_token: Option<Secret>,
    admin_token: Option<Secret>,
    body_limit: usize,
    rotation_batch: u32,
}

impl TenantManagerService {
    /// A service over `store`; give it at least a [service token](Self::with_service_token).
    pub fn new(store: CredentialStore) -> Self {
        Self {
            store,
            service_token: None,
            admin_token: None,
            body_limit: DEFAULT_BODY_LIMIT,
            rotation_batch: DEFAULT_ROTATION_BATCH,
        }
    }

    /// The token gateways present to `GET /api/credentials/…` (required; at least
    /// [`MIN_TOKEN_LEN`] characters).
    pub fn with_service_token(mut self, token: impl Into<Secret>) -> Self {
        self.service_token = Some(token.into());
        self
    }

    /// The token operators present to `/admin/…` (without it the admin API is not served; at
    /// least [`MIN_TOKEN_LEN`] characters, and not the service token).
    pub fn with_admin_token(mut self, token: impl Into<Secret>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Largest request body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`]); larger ones
    /// are answered `413`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Rows re-encrypted per transaction by `POST /admin/rotate-key` (default
    /// [`DEFAULT_ROTATION_BATCH`]).
    pub fn with_rotation_batch(mut self, rows: u32) -> Self {
        self.rotation_batch = rows;
        self
    }

    /// Checks the tokens and builds the router.
    pub fn router(self) -> Result<Router, ConfigError> {
        let service_token = self.service_token.as_ref().ok_or_else(|| {
            ConfigError::missing("tenant_manager.service_token", "a service token")
        })?;
        let service = Arc::new(Bearer::new(
            checked(service_token, "tenant_manager.service_token")?,
            "service",
        ));
        let state = Arc::new(ApiState { store: self.store, rotation_batch: self.rotation_batch });
        let api = Router::new()
            .route(
                "/api/credentials/{user_id}/{resource_type}",
                get(credentials_api::get_credential),
            )
            .route_layer(middleware::from_fn_with_state(service.clone(), bearer::require));
        let mut router = api;
        if let Some(admin_token) = &self.admin_token {
            let admin =
                Arc::new(Bearer::new(checked(admin_token, "tenant_manager.admin_token")?, "admin"));
            if admin.same_token(&service) {
                return Err(ConfigError::invalid_secret(
                    "tenant_manager.admin_token",
                    "a token different from the service token",
                ));
            }
            let admin_routes = Router::new()
                .route(
                    "/admin/credentials/{user_id}/{resource_type}",
                    put(admin::put_credential).delete(admin::delete_credential),
                )
                .route("/admin/credentials", get(admin::list_credentials))
                .route("/admin/users/{user_id}/revoke", post(admin::revoke_user))
                .route("/admin/rotate-key", post(admin::rotate_key))
                .route_layer(middleware::from_fn_with_state(admin, bearer::require));
            router = router.merge(admin_routes);
        }
        Ok(router
            .fallback(|| async { ApiError::NotFound("no such route") })
            .layer(DefaultBodyLimit::max(self.body_limit))
            .with_state(state))
    }
}

fn checked<'a>(token: &'a Secret, key: &'static str) -> Result<&'a Secret, ConfigError> {
    let text = token.expose();
    if text.chars().count() < MIN_TOKEN_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::invalid_secret(
            key,
            "at least 16 visible ASCII characters (openssl rand -hex 32 makes one)",
        ));
    }
    Ok(token)
}

/// A time as RFC 3339 (UTC).
fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at).format(&Rfc3339).unwrap_or_default()
}

/// What the admin API shows of a credential: no secrets.
fn info_json(info: &CredentialInfo) -> Value {
    json!({
        "user_id": info.user_id,
        "resource_type": info.resource_type,
        "key_id": info.key_id,
        "status": info.status.as_str(),
        "scopes": info.scopes,
        "expires_at": info.expires_at.map(rfc3339),
        "created_at": rfc3339(info.created_at),
        "updated_at": rfc3339(info.updated_at),
    })
}
