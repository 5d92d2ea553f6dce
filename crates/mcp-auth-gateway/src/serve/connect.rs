//! `[credentials] mode = "store"` at run time: the store opened once for every mount, its
//! resolver (refreshing through the configured providers), and the routes users connect their
//! upstream accounts through:
//!
//! - `GET /connect/RESOURCE`, behind the auth of the mount serving that resource type (the
//!   same bearer token, audience and scopes): `302` to the provider's authorize URL, with a
//!   `state` bound to the caller and the resource, single use, expiring in 10 minutes. The body
//!   repeats the URL as JSON (`authorizeUrl`, `expiresAt`) for a platform that hands it on
//!   rather than following it.
//! - `GET /connect/callback`, where the provider sends the user's browser back: no credential
//!   of its own (a browser has no bearer token); the `state` names the user, and a forged,
//!   replayed or expired one is refused. The tokens are stored for that user; their next
//!   request gets them.
//!
//! The `state` is a bearer capability for its ten minutes: whoever completes the provider's
//! login with an authorize URL connects *their* provider account to the user the URL was
//! issued to. Hand the URL only to that user.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use mcp_auth::Principal;
use mcp_auth_store::{
    StoreTokenResolver,
    oauth::{OAuthConnector, OAuthError},
};
use serde_json::json;

use super::Gateway;
use crate::config::{CALLBACK_PATH, GatewayConfig, StoreCredentials};

/// The store of `mode = "store"`, opened, with what serves it.
pub struct OpenedStore {
    /// The resolver every mount shares.
    pub resolver: StoreTokenResolver,
    /// Present when `[credentials.providers.*]` names any provider.
    pub connector: Option<OAuthConnector>,
}

impl OpenedStore {
    /// Opens the store of `section` and builds its providers, redirecting to the gateway's
    /// public URL + `/connect/callback`.
    pub async fn open(section: &StoreCredentials, config: &GatewayConfig) -> Result<Self, String> {
        let store = section.store.open(config.log.user_ids.clone()).await?;
        let mut resolver = StoreTokenResolver::new(store.clone());
        if let Some(margin) = section.refresh_margin {
            resolver = resolver.with_refresh_margin(margin);
        }
        if let Some(ttl) = section.cache_ttl {
            resolver = resolver.with_cache_ttl(ttl);
        }
        if section.providers.is_empty() {
            return Ok(Self { resolver, connector: None });
        }
        let callback = format!("{}{CALLBACK_PATH}", config.public_base());
        let providers = section
            .providers
            .iter()
            .map(|provider| provider.oauth(&callback))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("credentials.providers: {error}"))?;
        let connector = OAuthConnector::new(store, providers)
            .map_err(|error| format!("credentials.providers: {error}"))?;
        let resolver = resolver.with_refresher(Arc::new(connector.refresher()));
        Ok(Self { resolver, connector: Some(connector) })
    }

    /// The connect routes: one `/connect/RESOURCE` per provider whose resource type a mount
    /// serves (behind that mount's auth), and the callback.
    pub fn routes(&self, section: &StoreCredentials, gateway: &Gateway) -> Router {
        let Some(connector) = &self.connector else { return Router::new() };
        let mut router =
            Router::new().route(CALLBACK_PATH, get(callback)).with_state(connector.clone());
        for provider in &section.providers {
            let resource = provider.resource_type.clone();
            let Some(auth) = gateway.auth_layer_for(&resource) else {
                tracing::warn!(resource, "no mount serves this provider's resource type");
                continue;
            };
            let state = Started { connector: connector.clone(), resource: resource.clone() };
            router = router.merge(
                Router::new()
                    .route(&format!("/connect/{resource}"), get(start))
                    .route_layer(auth)
                    .with_state(state),
            );
        }
        router
    }
}

#[derive(Clone)]
struct Started {
    connector: OAuthConnector,
    resource: String,
}

/// `GET /connect/RESOURCE`: the caller (already authenticated) is sent to the provider.
async fn start(
    State(started): State<Started>,
    axum::Extension(principal): axum::Extension<Principal>,
) -> Response {
    match started.connector.authorize(principal.user_id(), &started.resource) {
        Ok(request) => {
            let expires = time::OffsetDateTime::from(request.expires_at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let body = json!({ "authorizeUrl": request.url.as_str(), "expiresAt": expires });
            let mut response = (StatusCode::FOUND, Json(body)).into_response();
            if let Ok(location) = HeaderValue::from_str(request.url.as_str()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            no_store(response)
        }
        Err(error) => {
            tracing::error!(resource = started.resource, %error, "cannot start a connection");
            let body = json!({ "error": "server_error" });
            no_store((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response())
        }
    }
}

/// `GET /connect/callback?code&state` (or `?error&state`): the provider's redirect back.
async fn callback(
    State(connector): State<OAuthConnector>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(error) = query.get("error") {
        // The provider's error code, shown as a code only: printable ASCII, bounded.
        let error: String = error.chars().filter(char::is_ascii_graphic).take(64).collect();
        let message = format!("The provider did not connect the account ({error}).");
        return page(StatusCode::BAD_REQUEST, &message);
    }
    let (Some(state), Some(code)) = (query.get("state"), query.get("code")) else {
        return page(StatusCode::BAD_REQUEST, "The link is missing its state or code.");
    };
    let iss = query.get("iss").map(String::as_str);
    match connector.complete_callback(state, code, iss).await {
        Ok(info) => {
            let message = format!("Connected {}. You can close this window.", info.resource_type);
            page(StatusCode::OK, &message)
        }
        Err(
            OAuthError::UnknownState
            | OAuthError::ExpiredState
            | OAuthError::StateMismatch
            | OAuthError::IssuerMismatch,
        ) => page(
            StatusCode::BAD_REQUEST,
            "This link has expired or was already used; connect again.",
        ),
        Err(OAuthError::Refused { .. }) => {
            page(StatusCode::BAD_REQUEST, "The provider refused the authorization; connect again.")
        }
        Err(error @ OAuthError::Unavailable { .. }) => {
            tracing::warn!(%error, "the provider is unavailable to complete a connection");
            let mut response =
                page(StatusCode::SERVICE_UNAVAILABLE, "The provider is unavailable; try again.");
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "cannot complete a connection");
            page(StatusCode::INTERNAL_SERVER_ERROR, "The account could not be connected.")
        }
    }
}

/// A short plain-text page (nothing of the request is echoed but a sanitised error code).
fn page(status: StatusCode, message: &str) -> Response {
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    no_store((status, headers, format!("{message}\n")).into_response())
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
