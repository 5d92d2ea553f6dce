//! [`OAuthProvider`]: what mcp-auth needs to know of one upstream OAuth 2.1 provider — its
//! endpoints, our client registration there, the scopes to ask for — keyed by the resource type
//! whose credentials it issues.

use mcp_auth::Secret;
use url::Url;

use super::OAuthError;

/// One upstream OAuth 2.1 provider, for one resource type.
///
/// ```
/// use mcp_auth::Secret;
/// use mcp_auth_store::oauth::OAuthProvider;
/// let github = OAuthProvider::new(
///     "github",
///     "https://github.com/login/oauth/authorize",
///     "https://github.com/login/oauth/access_token",
///     "Iv1.0123456789abcdef",
///     "https://mcp.example.com/connect/github/callback",
/// )?
/// .with_client_secret(Secret::new("from the environment"))
/// .with_scopes(["repo", "read:org"]);
/// assert!(!format!("{github:?}").contains("from the environment"));
/// # Ok::<(), mcp_auth_store::oauth::OAuthError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthProvider {
    /// The resource type whose credentials this provider issues (`"github"`, say).
    pub resource_type: String,
    /// The authorization endpoint the user is sent to.
    pub authorize_url: Url,
    /// The token endpoint codes and refresh tokens are exchanged at.
    pub token_url: Url,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (sent with HTTP Basic), if we are a confidential client.
    pub client_secret: Option<Secret>,
    /// Where the provider sends the user back with the code.
    pub redirect_uri: Url,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Extra query parameters of the authorize URL (`prompt=consent`, `access_type=offline`…).
    pub authorize_params: Vec<(String, String)>,
    /// The provider's issuer identifier, for a provider that sends `iss` with its authorization
    /// responses (RFC 9207; its metadata says `authorization_response_iss_parameter_supported`).
    /// When set, a callback must carry exactly this `iss`.
    pub issuer: Option<String>,
}

impl OAuthProvider {
    /// A provider for `resource_type`. The endpoints and the redirect URI must be absolute
    /// `https` URLs (OAuth 2.1 §1.5), or `http` on a loopback host.
    pub fn new(
        resource_type: impl Into<String>,
        authorize_url: &str,
        token_url: &str,
        client_id: impl Into<String>,
        redirect_uri: &str,
    ) -> Result<Self, OAuthError> {
        let resource_type = resource_type.into();
        let client_id = client_id.into();
        if resource_type.is_empty() {
            return Err(config("resource_type", "must not be empty"));
        }
        if client_id.is_empty() {
            return Err(config("client_id", "must not be empty"));
        }
        Ok(Self {
            resource_type,
            authorize_url: endpoint("authorize_url", authorize_url)?,
            token_url: endpoint("token_url", token_url)?,
            client_id,
            client_secret: None,
            redirect_uri: endpoint("redirect_uri", redirect_uri)?,
            scopes: Vec::new(),
            authorize_params: Vec::new(),
            issuer: None,
        })
    }

    /// Sets the client secret (a confidential client).
    pub fn with_client_secret(mut self, secret: Secret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Sets the issuer identifier a callback's `iss` must equal (RFC 9207), against mix-up
    /// attacks when users connect accounts at several providers.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the scopes asked for.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a query parameter to the authorize URL. Some providers issue refresh tokens only
    /// when asked (`prompt=consent` with OpenID's `offline_access`, `access_type=offline`).
    pub fn with_authorize_param(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.authorize_params.push((name.into(), value.into()));
        self
    }
}

fn config(field: &'static str, reason: &str) -> OAuthError {
    OAuthError::Config { field, reason: reason.to_owned() }
}

/// Parses an endpoint: absolute, https (or http on loopback), no fragment.
fn endpoint(field: &'static str, text: &str) -> Result<Url, OAuthError> {
    let url = Url::parse(text).map_err(|error| OAuthError::Config {
        field,
        reason: format!("`{text}` is not an absolute URL ({error})"),
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(OAuthError::Config {
                field,
                reason: format!("`{text}` must be https (http only on a loopback host)"),
            });
        }
    }
    if url.fragment().is_some() {
        return Err(config(field, "must not have a #fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_unless_loopback() {
        let build = |token: &str| {
            OAuthProvider::new("r", "https://p/auth", token, "c", "https://us/callback")
        };
        assert!(build("http://127.0.0.1:9/token").is_ok());
        assert!(build("http://localhost/token").is_ok());
        let err = build("http://provider.example/token").unwrap_err();
        assert!(matches!(err, OAuthError::Config { field: "token_url", .. }), "{err}");
        assert!(build("token").is_err());
    }
}
