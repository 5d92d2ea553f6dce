//! The token endpoint, as the [`oauth2`] crate speaks to it, over our own `reqwest` client:
//! the code exchange and the refresh, their answers turned into a [`NewCredential`] or a
//! [`TokenFailure`] the connector and the refresher can act on.
//!
//! `oauth2` takes any `Fn(HttpRequest) -> Future<Output = Result<HttpResponse, E>>` as its HTTP
//! client; ours refuses redirects (RFC 6749 §3.2 / oauth2's own advice: a redirected token
//! request would carry the code and the client secret elsewhere) and turns `5xx` and `429`
//! into a transport error, so that an outage is never mistaken for a refusal.

use std::{
    collections::HashMap,
    time::{Duration, SystemTime},
};

use mcp_auth::Secret;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse},
};

use super::{OAuthError, OAuthProvider};
use crate::store::NewCredential;

/// An `oauth2` client with an authorize and a token endpoint.
pub(crate) type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The providers by resource type, each with its `oauth2` client, and the HTTP client they
/// share.
pub(crate) struct Providers {
    by_resource: HashMap<String, (OAuthProvider, Client)>,
    http: reqwest::Client,
}

/// Why a token request failed, sorted by what to do about it.
#[derive(Debug, Clone)]
pub(crate) enum TokenFailure {
    /// `invalid_grant`: the code or refresh token is dead; the user must connect again.
    InvalidGrant,
    /// Another OAuth error (`invalid_client`, `invalid_scope`…): our configuration or the
    /// provider's; retrying the same request will not help soon.
    Refused(String),
    /// Unreachable, `5xx`, `429`, or an unparseable answer: try again later.
    Transient(String),
}

impl From<TokenFailure> for OAuthError {
    fn from(failure: TokenFailure) -> Self {
        match failure {
            TokenFailure::InvalidGrant => Self::Refused { error: "invalid_grant".to_owned() },
            TokenFailure::Refused(error) => Self::Refused { error },
            TokenFailure::Transient(reason) => Self::Unavailable { reason },
        }
    }
}

/// The transport error of our `oauth2` HTTP client.
#[derive(Debug, thiserror::Error)]
enum Transport {
    #[error("cannot reach the token endpoint: {0}")]
    Send(reqwest::Error),
    #[error("the token endpoint answered {0}")]
    Status(reqwest::StatusCode),
    #[error("cannot build the token response: {0}")]
    Build(#[from] oauth2::http::Error),
}

impl Providers {
    /// Builds an `oauth2` client per provider; a resource type given twice is refused.
    pub(crate) fn new(
        providers: impl IntoIterator<Item = OAuthProvider>,
        http: reqwest::Client,
    ) -> Result<Self, OAuthError> {
        let mut by_resource = HashMap::new();
        for provider in providers {
            let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
                .set_auth_uri(AuthUrl::from_url(provider.authorize_url.clone()))
                .set_token_uri(TokenUrl::from_url(provider.token_url.clone()))
                .set_redirect_uri(RedirectUrl::from_url(provider.redirect_uri.clone()));
            if let Some(secret) = &provider.client_secret {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
            }
            let resource_type = provider.resource_type.clone();
            if by_resource.insert(resource_type.clone(), (provider, client)).is_some() {
                return Err(OAuthError::Config {
                    field: "resource_type",
                    reason: format!("`{resource_type}` has two providers; give each one"),
                });
            }
        }
        Ok(Self { by_resource, http })
    }

    /// The provider of `resource_type` and its client.
    pub(crate) fn get(&self, resource_type: &str) -> Option<&(OAuthProvider, Client)> {
        self.by_resource.get(resource_type)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub(crate) async fn exchange_code(
        &self,
        resource_type: &str,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<NewCredential, TokenFailure> {
        let (provider, client) = self.provider(resource_type)?;
        let http = self.http.clone();
        let send = move |request| send(http.clone(), request);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .request_async(&send)
            .await
            .map_err(classify)?;
        credential(response, None, &provider.scopes)
    }

    /// Redeems `refresh_token`. The new credential keeps `refresh_token` (and `scopes`) when the
    /// provider does not rotate it (or name them).
    pub(crate) async fn refresh(
        &self,
        resource_type: &str,
        refresh_token: &Secret,
        scopes: &[String],
    ) -> Result<NewCredential, TokenFailure> {
        let (_, client) = self.provider(resource_type)?;
        let http = self.http.clone();
        let send = move |request| send(http.clone(), request);
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let response =
            client.exchange_refresh_token(&token).request_async(&send).await.map_err(classify)?;
        credential(response, Some(refresh_token), scopes)
    }

    fn provider(&self, resource_type: &str) -> Result<&(OAuthProvider, Client), TokenFailure> {
        self.get(resource_type).ok_or_else(|| {
            TokenFailure::Refused(format!("no provider for resource type `{resource_type}`"))
        })
    }
}

/// Sends one token request with `http`; `5xx` and `429` are transport errors.
async fn send(http: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, Transport> {
    let (parts, body) = request.into_parts();
    let response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|error| Transport::Send(error.without_url()))?;
    let status = response.status();
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(Transport::Status(status));
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await.map_err(|error| Transport::Send(error.without_url()))?;
    Ok(builder.body(body.to_vec())?)
}

type BasicRequestError =
    RequestTokenError<Transport, oauth2::StandardErrorResponse<BasicErrorResponseType>>;

fn classify(error: BasicRequestError) -> TokenFailure {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => TokenFailure::InvalidGrant,
            other => TokenFailure::Refused(other.to_string()),
        },
        RequestTokenError::Request(transport) => TokenFailure::Transient(transport.to_string()),
        RequestTokenError::Parse(error, _) => {
            TokenFailure::Transient(format!("unparseable token response at {}", error.path()))
        }
        RequestTokenError::Other(reason) => TokenFailure::Transient(reason),
    }
}

/// The credential to store from a token response.
fn credential(
    response: BasicTokenResponse,
    previous_refresh_token: Option<&Secret>,
    requested_scopes: &[String],
) -> Result<NewCredential, TokenFailure> {
    let access_token = response.access_token().secret();
    if access_token.is_empty() {
        return Err(TokenFailure::Transient("the token response has no access token".into()));
    }
    let mut credential = NewCredential::new(Secret::new(access_token.clone()));
    match (response.refresh_token(), previous_refresh_token) {
        (Some(rotated), _) => {
            credential = credential.with_refresh_token(Secret::new(rotated.secret().clone()));
        }
        (None, Some(previous)) => credential = credential.with_refresh_token(previous.clone()),
        (None, None) => {}
    }
    if let Some(expires_in) = response.expires_in() {
        let expires_in = expires_in.min(Duration::from_secs(10 * 365 * 24 * 3600));
        credential = credential.with_expiry(SystemTime::now() + expires_in);
    }
    credential = match response.scopes() {
        Some(granted) => {
            credential.with_scopes(granted.iter().map(|scope: &Scope| scope.to_string()))
        }
        None => credential.with_scopes(requested_scopes.iter().cloned()),
    };
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(json: &str) -> BasicTokenResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_refresh_without_a_new_refresh_token_keeps_the_old_one_and_the_scopes() {
        let old = Secret::new("old-refresh");
        let answer = response(r#"{"access_token":"a2","token_type":"Bearer","expires_in":60}"#);

        let credential = credential(answer, Some(&old), &["repo".to_owned()]).unwrap();

        assert_eq!(credential.access_token.expose(), "a2");
        assert_eq!(credential.refresh_token, Some(old));
        assert_eq!(credential.scopes, ["repo"]);
        let expires_at = credential.expires_at.unwrap();
        assert!(expires_at > SystemTime::now() + Duration::from_secs(50));
    }

    #[test]
    fn a_rotated_refresh_token_and_granted_scopes_replace_the_old_ones() {
        let old = Secret::new("old-refresh");
        let answer = response(
            r#"{"access_token":"a2","token_type":"Bearer","refresh_token":"r2","scope":"read write"}"#,
        );

        let credential = credential(answer, Some(&old), &["repo".to_owned()]).unwrap();

        assert_eq!(credential.refresh_token.unwrap().expose(), "r2");
        assert_eq!(credential.scopes, ["read", "write"]);
        assert_eq!(credential.expires_at, None);
    }

    #[test]
    fn an_empty_access_token_is_not_stored() {
        let answer = response(r#"{"access_token":"","token_type":"Bearer"}"#);
        assert!(matches!(credential(answer, None, &[]), Err(TokenFailure::Transient(_))));
    }
}
