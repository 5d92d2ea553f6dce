//! The OAuth resource-server keys: `[auth] authorization_servers` and `scopes_supported` (the
//! Protected Resource Metadata every mount serves), and each mount's `scopes`,
//! `resource_documentation`, `connect_url`, `tool_scopes` and `show_all_tools`. The library checks the values themselves
//! ([`ProtectedResource::validate`], [`check_scope`]); this names the key that holds them.

use std::collections::BTreeMap;

use mcp_auth::{ConfigError, ProtectedResource, auth::check_scope};

use super::{ConfigProblem, ConfigReport, raw::RawServerEntry};

/// `[auth]`'s metadata keys, checked (`mode = "jwt"` only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `auth.authorization_servers`, else `[auth.issuer]`; empty: no metadata is served.
    pub authorization_servers: Vec<String>,
    /// `auth.scopes_supported`; empty: each mount's `scopes`.
    pub scopes_supported: Vec<String>,
}

/// One mount's keys, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountAuthorization {
    /// `scopes`: every request's token must hold all of them.
    pub scopes: Vec<String>,
    /// `resource_documentation`: a page about this mount, named in its metadata.
    pub resource_documentation: Option<String>,
    /// `connect_url`: where a user without an upstream credential connects one.
    pub connect_url: Option<String>,
    /// `[servers.tool_scopes]`: the scopes a call of each tool needs beyond `scopes`.
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// `show_all_tools`: `tools/list` shows tools the caller may not call.
    pub show_all_tools: bool,
}

impl Metadata {
    /// The metadata of one mount named `name`, when there are authorization servers to name.
    pub fn for_mount(&self, name: &str, mount: &MountAuthorization) -> Option<ProtectedResource> {
        let (first, rest) = self.authorization_servers.split_first()?;
        let supported =
            if self.scopes_supported.is_empty() { &mount.scopes } else { &self.scopes_supported };
        let mut metadata = rest
            .iter()
            .fold(ProtectedResource::new(first), |m, issuer| m.with_authorization_server(issuer))
            .with_scopes_supported(supported.iter().cloned())
            .with_resource_name(name);
        if let Some(url) = &mount.resource_documentation {
            metadata = metadata.with_resource_documentation(url);
        }
        Some(metadata)
    }
}

/// `auth.authorization_servers` (defaulting to the issuer) and `auth.scopes_supported`.
pub(super) fn metadata(
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    issuer: Option<&str>,
    report: &mut ConfigReport,
) -> Metadata {
    let authorization_servers = if authorization_servers.is_empty() {
        // An issuer that is an https URL is an authorization server's (RFC 8414 §2); any other
        // `iss` names nothing a client could fetch metadata from.
        issuer.filter(|i| is_http_url(i)).map(str::to_owned).into_iter().collect()
    } else {
        authorization_servers
    };
    let given = Metadata { authorization_servers, scopes_supported };
    // The document every mount builds from these, checked once here (a mount's own scopes are
    // checked with the mount).
    let document = given.for_mount("check", &MountAuthorization::default());
    if let Some(Err(error)) = document.map(|document| document.validate()) {
        report.push(problem(error, "auth"));
    }
    given
}

/// A mount's `scopes`, `resource_documentation` and `connect_url`.
pub(super) fn mount(
    at: &str,
    raw: &RawServerEntry,
    report: &mut ConfigReport,
) -> MountAuthorization {
    for (i, scope) in raw.scopes.iter().enumerate() {
        if let Err(error) = check_scope(&format!("scopes[{i}]"), scope) {
            report.push(problem(error, at));
        }
    }
    for (key, url) in
        [("resource_documentation", &raw.resource_documentation), ("connect_url", &raw.connect_url)]
    {
        let Some(url) = url else { continue };
        if !is_http_url(url) {
            report.push(
                ConfigProblem::new(format!("{at}.{key}"), "expected an absolute http(s) URL")
                    .with_value(url),
            );
        }
    }
    for (tool, scopes) in &raw.tool_scopes {
        for (i, scope) in scopes.iter().enumerate() {
            if let Err(error) = check_scope(&format!("tool_scopes.{tool}[{i}]"), scope) {
                report.push(problem(error, at));
            }
        }
    }
    MountAuthorization {
        tool_scopes: raw.tool_scopes.clone(),
        show_all_tools: raw.show_all_tools,
        scopes: raw.scopes.clone(),
        resource_documentation: raw.resource_documentation.clone(),
        connect_url: raw.connect_url.clone(),
    }
}

fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// The library's complaint, under `section`: its key `protected_resource.X` is the file's `X`.
fn problem(error: ConfigError, section: &str) -> ConfigProblem {
    let key = error.key.strip_prefix("protected_resource.").unwrap_or(&error.key);
    let mut problem =
        ConfigProblem::new(format!("{section}.{key}"), format!("expected {}", error.expected));
    problem.value = Some(error.value);
    problem
}
