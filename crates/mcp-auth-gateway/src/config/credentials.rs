//! `[credentials]`, checked: which upstream credential (`{access_token}`) each caller gets. The
//! tenant manager's service token is read here, once, straight into [`Secret`].

use std::time::Duration;

use mcp_auth::Secret;
use url::Url;

use super::{
    AuthSection, ConfigProblem, ConfigReport,
    connect::{ConnectProvider, validate_providers},
    env::{EnvSource, non_empty, valid_var_name},
    raw::{RawCredentials, RawCredentialsMode},
    server::Basics,
    store::{RawStore, StoreSection, validate_store},
    urls::{self, UrlRule},
};

/// `[credentials]`, checked.
#[derive(Debug, Clone)]
pub enum CredentialsSection {
    /// `mode = "none"`: no resolver; `{access_token}` is empty.
    None,
    /// `mode = "env"`: `SimpleTokenResolver`, reading `var`, else `{RESOURCE_TYPE}_ACCESS_TOKEN`.
    Env {
        /// `credentials.var`.
        var: Option<String>,
    },
    /// `mode = "jwt"`: `JwtTokenResolver`, the caller's JWT's embedded `tokens.{resource_type}`.
    Jwt,
    /// `mode = "api"`: `ApiTokenResolver`, a tenant manager.
    Api(ApiCredentials),
    /// `mode = "store"`: `StoreTokenResolver`, the built-in credential store, in-process.
    Store(StoreCredentials),
}

/// `[credentials]` with `mode = "store"`.
#[derive(Debug, Clone)]
pub struct StoreCredentials {
    /// The store's file and keys.
    pub store: StoreSection,
    /// `[credentials.providers.*]`: where users connect their accounts (may be empty).
    pub providers: Vec<ConnectProvider>,
    /// `credentials.refresh_margin`; `None`: the store's default (60 s).
    pub refresh_margin: Option<Duration>,
    /// `credentials.cache_ttl`; `None`: the store resolver's default (30 s).
    pub cache_ttl: Option<Duration>,
}

/// `[credentials]` with `mode = "api"`.
#[derive(Debug, Clone)]
pub struct ApiCredentials {
    /// `credentials.url`: the tenant manager's base URL.
    pub url: Url,
    /// The service token, read from `credentials.service_token_env`.
    pub service_token: Secret,
    /// `credentials.endpoint`; `None`: `/api/credentials/:userId/:resourceType`.
    pub endpoint: Option<String>,
    /// `credentials.cache_ttl`; `None`: the library's default (5 min).
    pub cache_ttl: Option<Duration>,
    /// `credentials.allow_insecure_http`.
    pub allow_insecure_http: bool,
}

/// Checks `[credentials]`; `auth` and `server` are given when they were valid.
pub(super) fn validate_credentials(
    mut raw: RawCredentials,
    auth: Option<&AuthSection>,
    server: Option<Basics>,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<CredentialsSection> {
    let problems = report.problems.len();
    let mode = raw.mode;
    let mode_name = format!("{mode:?}").to_ascii_lowercase();
    use RawCredentialsMode::{Api, Env, Store};
    let keys: [(&str, bool, &[RawCredentialsMode]); 13] = [
        ("var", raw.var.is_some(), &[Env]),
        ("url", raw.url.is_some(), &[Api]),
        ("service_token_env", raw.service_token_env.is_some(), &[Api]),
        ("endpoint", raw.endpoint.is_some(), &[Api]),
        ("cache_ttl", raw.cache_ttl.is_some(), &[Api, Store]),
        ("allow_insecure_http", raw.allow_insecure_http, &[Api]),
        ("store", raw.store.is_some(), &[Store]),
        ("key_env", raw.key_env.is_some(), &[Store]),
        ("key_file", raw.key_file.is_some(), &[Store]),
        ("providers", !raw.providers.is_empty(), &[Store]),
        ("refresh_margin", raw.refresh_margin.is_some(), &[Store]),
        ("audit_max_age", raw.audit_max_age.is_some(), &[Store]),
        ("audit_max_rows", raw.audit_max_rows.is_some(), &[Store]),
    ];
    for (key, _, used_by) in
        keys.iter().filter(|(_, given, used_by)| *given && !used_by.contains(&mode))
    {
        let used_by: Vec<_> = used_by
            .iter()
            .map(|m| format!("\"{}\"", format!("{m:?}").to_ascii_lowercase()))
            .collect();
        report.push(ConfigProblem::new(
            format!("credentials.{key}"),
            format!("only used with mode = {} (mode is \"{mode_name}\")", used_by.join(" or ")),
        ));
    }
    let section = match mode {
        RawCredentialsMode::None => Some(CredentialsSection::None),
        RawCredentialsMode::Env => {
            if let Some(var) = &raw.var
                && (!valid_var_name(var) || non_empty(env, var).is_none())
            {
                report.push(ConfigProblem::new(
                    "credentials.var",
                    format!(
                        "names environment variable {var}, which is not set (or is empty); \
                         every request would be refused (403) until it is set"
                    ),
                ));
            }
            Some(CredentialsSection::Env { var: raw.var })
        }
        RawCredentialsMode::Jwt => {
            if auth.is_some_and(|auth| !matches!(auth, AuthSection::Jwt(_))) {
                report.push(ConfigProblem::new(
                    "credentials.mode",
                    "mode = \"jwt\" reads the tokens embedded in the caller's JWT, so it needs \
                     auth.mode = \"jwt\"",
                ));
            }
            Some(CredentialsSection::Jwt)
        }
        RawCredentialsMode::Api => api(raw, server, env, report).map(CredentialsSection::Api),
        RawCredentialsMode::Store => {
            let raw_providers = std::mem::take(&mut raw.providers);
            let refresh_margin = raw.refresh_margin.map(|d| d.0);
            let cache_ttl = raw.cache_ttl.map(|d| d.0);
            let raw = RawStore {
                store: raw.store.as_deref(),
                key_env: raw.key_env.as_deref(),
                key_file: raw.key_file.as_deref(),
                audit_max_age: raw.audit_max_age.map(|d| d.0),
                audit_max_rows: raw.audit_max_rows,
            };
            let providers = validate_providers(raw_providers, server, env, report);
            let store = validate_store(raw, "credentials", env, report);
            Some(CredentialsSection::Store(StoreCredentials {
                store: store?,
                providers: providers?,
                refresh_margin,
                cache_ttl,
            }))
        }
    };
    section.filter(|_| report.problems.len() == problems)
}

/// `mode = "api"`: URL, service token, endpoint.
fn api(
    raw: RawCredentials,
    server: Option<Basics>,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<ApiCredentials> {
    let url = match &raw.url {
        None => {
            report.push(ConfigProblem::new(
                "credentials.url",
                "required with mode = \"api\": the tenant manager's base URL, such as \
                 \"https://tenants.example.com\"",
            ));
            None
        }
        Some(text) => UrlRule {
            key: "credentials.url",
            example: "https://tenants.example.com",
            insecure_switch: Some("in [credentials]"),
            allow_insecure_http: raw.allow_insecure_http,
            server,
        }
        .check(text, report)
        .filter(|url| {
            let clean = url.query().is_none();
            if !clean {
                report.push(
                    ConfigProblem::new("credentials.url", "expected a base URL without ?query")
                        .with_value(urls::shown(url.as_str())),
                );
            }
            clean
        }),
    };
    let service_token = match &raw.service_token_env {
        None => {
            report.push(ConfigProblem::new(
                "credentials.service_token_env",
                "required with mode = \"api\": the environment variable holding the tenant \
                 manager's service token",
            ));
            None
        }
        Some(name) => {
            let token = valid_var_name(name).then(|| non_empty(env, name)).flatten();
            if token.is_none() {
                report.push(ConfigProblem::new(
                    "credentials.service_token_env",
                    format!(
                        "names environment variable {name}, which is not set (or is empty); set \
                         it to the tenant manager's service token"
                    ),
                ));
            }
            token.map(Secret::new)
        }
    };
    if let Some(endpoint) = &raw.endpoint
        && (!endpoint.starts_with('/')
            || !endpoint.contains(":userId")
            || endpoint.contains(['?', '#']))
    {
        report.push(
            ConfigProblem::new(
                "credentials.endpoint",
                "expected a path starting with `/` that contains `:userId` (and may contain \
                 `:resourceType`), without ?query or #fragment, such as \
                 \"/api/credentials/:userId/:resourceType\"",
            )
            .with_value(endpoint),
        );
    }
    Some(ApiCredentials {
        url: url?,
        service_token: service_token?,
        endpoint: raw.endpoint,
        cache_ttl: raw.cache_ttl.map(|d| d.0),
        allow_insecure_http: raw.allow_insecure_http,
    })
}
