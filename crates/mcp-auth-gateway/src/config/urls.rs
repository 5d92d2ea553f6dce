//! The rules every outbound URL of the config follows (an upstream server, the tenant manager,
//! a JWKS): absolute http(s), and plain http only to loopback unless explicitly allowed — the
//! library's rule for its own outbound calls.

use mcp_auth::secret::REDACTED;
use url::{Host, Url};

use super::{ConfigProblem, ConfigReport, server::Basics};

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
    /// `[server]`'s environment, when known: production refuses the switch.
    pub server: Option<Basics>,
}

impl UrlRule<'_> {
    /// The URL, or `None` with the problem reported.
    pub fn check(&self, text: &str, report: &mut ConfigReport) -> Option<Url> {
        let problem =
            |message: String| ConfigProblem::new(self.key, message).with_value(shown(text));
        let example = self.example;
        let url = match Url::parse(text.trim()) {
            Ok(url) => url,
            Err(error) => {
                report.push(problem(format!(
                    "not a URL ({error}); expected an absolute http(s) URL such as \"{example}\""
                )));
                return None;
            }
        };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            report.push(problem(format!("expected an http or https URL such as \"{example}\"")));
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            report.push(problem("expected a URL without user:password@ or #fragment".into()));
            return None;
        }
        if let Some(server) = self.server.filter(|s| s.environment.is_production())
            && self.allow_insecure_http
        {
            report.push(ConfigProblem::new(
                self.key,
                format!(
                    "allow_insecure_http = true is refused {}: credentials would cross the \
                     network in clear; remove it and use an https URL",
                    server.in_production()
                ),
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

/// `text` as a problem may show it: the query and any `user:password@` replaced by
/// [`REDACTED`], since either may carry a key (`?api_key=…`).
pub(super) fn shown(text: &str) -> String {
    let (head, query) = match text.split_once('?') {
        Some((head, _)) => (head, format!("?{REDACTED}")),
        None => (text, String::new()),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{REDACTED}@{host}{path}"),
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    format!("{head}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_url_hides_its_query_and_credentials() {
        assert_eq!(shown("https://h.example.com/mcp"), "https://h.example.com/mcp");
        assert_eq!(shown("http://10.0.0.5/mcp?api_key=k3y&x=1"), "http://10.0.0.5/mcp?[redacted]");
        assert_eq!(shown("https://u:pw@h.example.com/a@b"), "https://[redacted]@h.example.com/a@b");
        assert_eq!(shown("not a url"), "not a url");
    }
}
