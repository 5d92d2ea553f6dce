//! The rules every outbound URL of the config follows (an upstream server, the tenant manager,
//! a JWKS): absolute http(s), and plain http only to loopback unless explicitly allowed — the
//! library's rule for its own outbound calls.

use mcp_auth::Environment;
use url::{Host, Url};

use super::{ConfigProblem, ConfigReport};

/// How an outbound URL is checked.
pub(super) struct UrlRule<'a> {
    /// The config key, e.g. `servers[0].url`.
    pub key: &'a str,
    /// A valid example for the message.
    pub example: &'a str,
    /// Where plain http to another host can be allowed, e.g. "on this server"; `None` when it
    /// cannot be.
    pub insecure_switch: Option<&'a str>,
    /// The switch's value.
    pub allow_insecure_http: bool,
    /// Production refuses the switch.
    pub environment: Environment,
}

impl UrlRule<'_> {
    /// The URL, or `None` with the problem reported.
    pub fn check(&self, text: &str, report: &mut ConfigReport) -> Option<Url> {
        let problem = |message: String| ConfigProblem::new(self.key, message).with_value(text);
        let example = self.example;
        let Ok(url) = Url::parse(text.trim()) else {
            report.push(problem(format!("expected an absolute http(s) URL such as \"{example}\"")));
            return None;
        };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            report.push(problem(format!("expected an http or https URL such as \"{example}\"")));
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            report.push(problem("expected a URL without user:password@ or #fragment".into()));
            return None;
        }
        if self.allow_insecure_http && self.environment.is_production() {
            report.push(ConfigProblem::new(
                self.key,
                "allow_insecure_http = true is refused in production: credentials would cross \
                 the network in clear",
            ));
            return None;
        }
        if url.scheme() == "http" && !is_loopback(&url) && !self.allow_insecure_http {
            let fix = match self.insecure_switch {
                Some(place) => format!("use https, or set allow_insecure_http = true {place}"),
                None => "use https".to_owned(),
            };
            report.push(problem(format!(
                "plain http to a non-loopback host would send credentials in clear; {fix}"
            )));
            return None;
        }
        Some(url)
    }
}

/// True for `localhost`, `127.0.0.0/8` and `::1`.
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
