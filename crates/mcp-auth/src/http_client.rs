//! The outbound HTTP client shared by the JWKS fetcher and the tenant-manager resolver, and the
//! rules for the URLs they may call.

use std::time::Duration;

use reqwest::{Response, redirect};
use url::{Host, Url};

use crate::config::ConfigError;

/// Largest response body read from a JWKS endpoint or tenant manager.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A client with a whole-request timeout (body included) and no redirects: a redirect could
/// carry a service token to a host nobody configured.
pub(crate) fn build_client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(redirect::Policy::none())
        .user_agent(concat!("mcp-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::invalid("http.client", e, "a buildable HTTP client"))
}

/// Parses an endpoint URL and refuses plain `http` to anything but loopback, unless
/// `allow_insecure_http` is set: bearer tokens and credentials must not cross a network in clear.
pub(crate) fn check_endpoint_url(
    key: &str,
    raw: &str,
    allow_insecure_http: bool,
) -> Result<Url, ConfigError> {
    let url =
        Url::parse(raw).map_err(|_| ConfigError::invalid(key, raw, "an absolute http(s) URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure_http || is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::invalid(
            key,
            raw,
            "an https URL (plain http is allowed only for loopback hosts, or with \
             allow_insecure_http)",
        )),
        _ => Err(ConfigError::invalid(key, raw, "an http(s) URL")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Reads a response body, giving up past [`MAX_BODY_BYTES`] (a misbehaving upstream must not
/// make us buffer without bound).
pub(crate) async fn read_body_limited(mut response: Response) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| BodyError::Transport(e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body could not be read: {0}")]
    Transport(reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in
            ["https://a.example/x", "http://127.0.0.1:8080/", "http://[::1]/", "http://localhost/"]
        {
            assert!(check_endpoint_url("k", ok, false).is_ok(), "{ok}");
        }
        for bad in ["http://a.example/x", "ftp://a.example", "not a url", "/relative"] {
            assert!(check_endpoint_url("k", bad, false).is_err(), "{bad}");
        }
        assert!(check_endpoint_url("k", "http://tenant.internal/", true).is_ok());
    }
}
