//! `[credentials.providers.RESOURCE]`: the OAuth 2.1 providers users connect their upstream
//! accounts with (`mode = "store"` only). Each names the resource type whose credential it
//! issues; the gateway serves `GET /connect/RESOURCE` (behind that resource's mount's auth) and
//! `GET /connect/callback`, and refreshes the stored tokens before they expire
//! (`mcp_auth_store::oauth`).
//!
//! ```toml
//! [credentials.providers.github]
//! authorize_url = "https://github.com/login/oauth/authorize"
//! token_url = "https://github.com/login/oauth/access_token"
//! client_id = "Iv1.0123456789abcdef"
//! client_secret_env = "GITHUB_CLIENT_SECRET"   # optional: a public client uses PKCE alone
//! scopes = ["repo"]
//! authorize_params = { prompt = "consent" }     # optional extra authorize parameters
//! issuer = "https://github.com/login/oauth"     # optional: the callback's `iss` must equal it
//! ```

use std::collections::BTreeMap;

use mcp_auth::Secret;
use serde::Deserialize;
use url::Url;

use super::{
    ConfigProblem, ConfigReport,
    env::{EnvSource, non_empty, valid_var_name},
    server::Basics,
    urls::UrlRule,
};

/// The path of the callback every provider redirects to, on the gateway's public URL.
pub const CALLBACK_PATH: &str = "/connect/callback";

/// One `[credentials.providers.RESOURCE]` table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConnectProvider {
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    pub issuer: Option<String>,
}

/// A provider users connect `resource_type` with, checked, its client secret read.
#[derive(Debug, Clone)]
pub struct ConnectProvider {
    /// The resource type (the table's name).
    pub resource_type: String,
    /// The provider's authorization endpoint.
    pub authorize_url: Url,
    /// Its token endpoint.
    pub token_url: Url,
    /// The gateway's client id there.
    pub client_id: String,
    /// The client secret, when the client is confidential.
    pub client_secret: Option<Secret>,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// Extra authorize parameters.
    pub authorize_params: BTreeMap<String, String>,
    /// The issuer a callback's `iss` must equal (RFC 9207), when the provider sends one.
    pub issuer: Option<String>,
}

/// Checks every provider table; `None` when any has a problem (all reported).
pub(crate) fn validate_providers(
    raw: BTreeMap<String, RawConnectProvider>,
    server: Option<Basics>,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<Vec<ConnectProvider>> {
    let problems = report.problems.len();
    let mut providers = Vec::with_capacity(raw.len());
    for (resource_type, raw) in raw {
        let at = |key: &str| format!("credentials.providers.{resource_type}.{key}");
        let mut url = |key: &str, value: &Option<String>, example: &str| {
            let key = at(key);
            match value {
                None => {
                    report.push(ConfigProblem::new(key, "required: the provider's endpoint URL"));
                    None
                }
                Some(text) => UrlRule {
                    key: &key,
                    example,
                    insecure_switch: None,
                    allow_insecure_http: false,
                    server,
                }
                .check(text, report),
            }
        };
        let authorize_url =
            url("authorize_url", &raw.authorize_url, "https://github.com/login/oauth/authorize");
        let token_url =
            url("token_url", &raw.token_url, "https://github.com/login/oauth/access_token");
        let client_id = raw.client_id.filter(|id| !id.trim().is_empty());
        if client_id.is_none() {
            report.push(ConfigProblem::new(at("client_id"), "required: the gateway's client id"));
        }
        let client_secret = match &raw.client_secret_env {
            None => None,
            Some(var) => match valid_var_name(var).then(|| non_empty(env, var)).flatten() {
                Some(secret) => Some(Secret::new(secret)),
                None => {
                    report.push(ConfigProblem::new(
                        at("client_secret_env"),
                        format!("names environment variable {var}, which is not set (or is empty)"),
                    ));
                    None
                }
            },
        };
        if let (Some(authorize_url), Some(token_url), Some(client_id)) =
            (authorize_url, token_url, client_id)
        {
            providers.push(ConnectProvider {
                resource_type,
                authorize_url,
                token_url,
                client_id,
                client_secret,
                scopes: raw.scopes,
                authorize_params: raw.authorize_params,
                issuer: raw.issuer.filter(|issuer| !issuer.is_empty()),
            });
        }
    }
    (report.problems.len() == problems).then_some(providers)
}

impl ConnectProvider {
    /// This provider as the store's, redirecting to `callback` (the gateway's public URL +
    /// [`CALLBACK_PATH`]).
    pub fn oauth(
        &self,
        callback: &str,
    ) -> Result<mcp_auth_store::oauth::OAuthProvider, mcp_auth_store::oauth::OAuthError> {
        let mut provider = mcp_auth_store::oauth::OAuthProvider::new(
            &self.resource_type,
            self.authorize_url.as_str(),
            self.token_url.as_str(),
            &self.client_id,
            callback,
        )?
        .with_scopes(self.scopes.iter().cloned());
        if let Some(secret) = &self.client_secret {
            provider = provider.with_client_secret(secret.clone());
        }
        for (name, value) in &self.authorize_params {
            provider = provider.with_authorize_param(name, value);
        }
        if let Some(issuer) = &self.issuer {
            provider = provider.with_issuer(issuer);
        }
        Ok(provider)
    }
}
