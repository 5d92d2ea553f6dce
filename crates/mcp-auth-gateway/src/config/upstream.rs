//! A `[[servers]]` entry's upstream, checked: a stdio `command` (found on `PATH`, its `args`,
//! `env` and `cwd` templates parsed) or a Streamable HTTP `url` (its `headers` templates
//! parsed), and the rules that tie templates to the rest of the file.

use http::{HeaderName, HeaderValue};
use mcp_auth::SimpleTokenResolver;
use url::Url;

use super::{
    ConfigProblem, ConfigReport, CredentialsSection, command,
    entry::{Context, duplicate_extra},
    env::{non_empty, valid_var_name},
    raw::RawServerEntry,
    urls::UrlRule,
};
use crate::template::Template;

/// Where an entry's MCP server is.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// `command`: a child process per instance, speaking MCP over stdin/stdout.
    Stdio(StdioUpstream),
    /// `url`: a Streamable HTTP server.
    Http(HttpUpstream),
}

/// A stdio upstream.
#[derive(Debug, Clone)]
pub struct StdioUpstream {
    /// `command`: the program, as configured (run directly, never through a shell).
    pub command: String,
    /// `args`: its arguments.
    pub args: Vec<Template>,
    /// `env`: variables set for the child, sorted by name.
    pub env: Vec<(String, Template)>,
    /// `pass_env`: gateway variables the child inherits besides `PATH`, `HOME` and `LANG`.
    pub pass_env: Vec<String>,
    /// `cwd`: the child's working directory; `None`: the gateway's.
    pub cwd: Option<Template>,
}

/// A Streamable HTTP upstream.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    /// `url`: the MCP endpoint.
    pub url: Url,
    /// `headers`: sent with every request to it, sorted by name.
    pub headers: Vec<(HeaderName, Template)>,
}

/// The prefix of the gateway's own variables, which `pass_env` never passes
/// ([`env_allow_list`](crate::child::env_allow_list)).
const GATEWAY_PREFIX: &str = "MCP_AUTH_";

/// Headers that carry the caller's own credentials: forwarding them upstream would pass the
/// client's token through, which the MCP authorization spec forbids.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// `extras`: valid header names, lower-cased, unique, none carrying credentials.
pub(super) fn extras(at: &str, raw: &[String], report: &mut ConfigReport) -> Vec<String> {
    let key = format!("{at}.extras");
    let mut extras = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let at = format!("{key}[{i}]");
        match HeaderName::try_from(name.as_str()) {
            Err(_) => report.push(
                ConfigProblem::new(at, "expected an HTTP header name, such as \"x-tenant-id\"")
                    .with_value(name),
            ),
            Ok(header) if CREDENTIAL_HEADERS.contains(&header.as_str()) => report.push(
                ConfigProblem::new(
                    at,
                    "carries the caller's own credentials, which must not reach the upstream \
                     (MCP forbids token passthrough); use {access_token}",
                )
                .with_value(name),
            ),
            Ok(header) => extras.push(header.as_str().to_owned()),
        }
    }
    if let Some((first, second)) = duplicate_extra(&extras) {
        report.push(ConfigProblem::new(
            key,
            format!("\"{first}\" and \"{second}\" name the same extra; list each header once"),
        ));
    }
    extras
}

/// Checks the upstream of entry `at`.
pub(super) fn validate(
    at: &str,
    mut raw: RawServerEntry,
    resource_type: &str,
    extras: &[String],
    warm_pool: usize,
    context: &Context<'_>,
    report: &mut ConfigReport,
) -> Option<Upstream> {
    let mut templates = Templates { extras, parsed: Vec::new() };
    let upstream = match (raw.command.take(), raw.url.take()) {
        (Some(_), Some(_)) => {
            report.push(ConfigProblem::new(
                at,
                "has both command (a stdio server) and url (an http server); give exactly one",
            ));
            return None;
        }
        (None, None) => {
            report.push(ConfigProblem::new(
                at,
                "has neither command (a stdio server) nor url (an http server); give exactly one",
            ));
            return None;
        }
        (Some(program), None) => {
            stdio(at, program, raw, &mut templates, context, report).map(Upstream::Stdio)
        }
        (None, Some(url)) => {
            if warm_pool > 0 {
                report.push(ConfigProblem::new(
                    format!("{at}.instances.warm_pool"),
                    "only used with command (stdio servers): an http upstream has no process \
                     to start ahead",
                ));
            }
            http(at, &url, raw, &mut templates, context, report).map(Upstream::Http)
        }
    };
    templates_fit(at, &templates.parsed, resource_type, warm_pool, context, report);
    upstream
}

/// The templates of one entry: parsed against its extras, kept for the rules that tie them to
/// the rest of the file.
struct Templates<'a> {
    extras: &'a [String],
    parsed: Vec<(String, Template)>,
}

impl Templates<'_> {
    fn parse(&mut self, key: String, text: &str, report: &mut ConfigReport) -> Option<Template> {
        match Template::parse(text, &key, self.extras) {
            Ok(template) => {
                self.parsed.push((key, template.clone()));
                Some(template)
            }
            Err(problem) => {
                report.push(problem);
                None
            }
        }
    }
}

/// Reports each of `keys` that was given although it belongs to the other kind of server.
fn only(at: &str, keys: &[(&str, bool)], what: &str, report: &mut ConfigReport) {
    for (key, _) in keys.iter().filter(|(_, given)| *given) {
        report.push(ConfigProblem::new(format!("{at}.{key}"), format!("only used with {what}")));
    }
}

/// `command` and its `args`, `env`, `pass_env` and `cwd`.
fn stdio(
    at: &str,
    program: String,
    raw: RawServerEntry,
    templates: &mut Templates<'_>,
    context: &Context<'_>,
    report: &mut ConfigReport,
) -> Option<StdioUpstream> {
    let http_only =
        [("headers", !raw.headers.is_empty()), ("allow_insecure_http", raw.allow_insecure_http)];
    only(at, &http_only, "url (http servers)", report);
    if let Err(message) = command::find(&program, context.env) {
        report.push(ConfigProblem::new(format!("{at}.command"), message));
    }
    let args: Vec<Template> = raw
        .args
        .iter()
        .enumerate()
        .filter_map(|(j, arg)| templates.parse(format!("{at}.args[{j}]"), arg, report))
        .collect();
    let mut env = Vec::with_capacity(raw.env.len());
    for (name, value) in &raw.env {
        let key = format!("{at}.env.{name}");
        if !valid_var_name(name) {
            report.push(ConfigProblem::new(&key, "expected an environment variable name (no `=`)"));
        }
        env.extend(templates.parse(key, value, report).map(|t| (name.clone(), t)));
    }
    for (i, name) in raw.pass_env.iter().enumerate() {
        let key = format!("{at}.pass_env[{i}]");
        if !valid_var_name(name) {
            report.push(
                ConfigProblem::new(
                    key,
                    "expected an environment variable name (not empty, no `=`)",
                )
                .with_value(name),
            );
        } else if name.starts_with(GATEWAY_PREFIX) {
            report.push(
                ConfigProblem::new(
                    key,
                    format!(
                        "the gateway's own {GATEWAY_PREFIX}* variables never reach a server \
                         (some are secrets); give the server a value with env instead"
                    ),
                )
                .with_value(name),
            );
        }
    }
    let cwd = raw.cwd.as_deref().and_then(|cwd| templates.parse(format!("{at}.cwd"), cwd, report));
    let complete = args.len() == raw.args.len()
        && env.len() == raw.env.len()
        && cwd.is_some() == raw.cwd.is_some();
    complete.then_some(StdioUpstream { command: program, args, env, pass_env: raw.pass_env, cwd })
}

/// `url` and its `headers`.
fn http(
    at: &str,
    url: &str,
    raw: RawServerEntry,
    templates: &mut Templates<'_>,
    context: &Context<'_>,
    report: &mut ConfigReport,
) -> Option<HttpUpstream> {
    let stdio_only = [
        ("args", !raw.args.is_empty()),
        ("env", !raw.env.is_empty()),
        ("pass_env", !raw.pass_env.is_empty()),
        ("cwd", raw.cwd.is_some()),
    ];
    only(at, &stdio_only, "command (stdio servers)", report);
    let rule = UrlRule {
        key: &format!("{at}.url"),
        example: "http://127.0.0.1:9000/mcp",
        insecure_switch: Some("on this server"),
        allow_insecure_http: raw.allow_insecure_http,
        server: context.server,
    };
    let url = rule.check(url, report);
    let mut headers = Vec::with_capacity(raw.headers.len());
    for (name, value) in &raw.headers {
        let key = format!("{at}.headers.{name}");
        let Ok(header) = HeaderName::try_from(name.as_str()) else {
            report.push(ConfigProblem::new(&key, "expected an HTTP header name"));
            continue;
        };
        let Some(template) = templates.parse(key.clone(), value, report) else { continue };
        if HeaderValue::from_str(&template.literal_text()).is_err() {
            report.push(ConfigProblem::new(
                &key,
                "the text is not a valid HTTP header value (visible ASCII characters, spaces and \
                 tabs)",
            ));
        }
        headers.push((header, template));
    }
    let complete = headers.len() == raw.headers.len();
    url.filter(|_| complete).map(|url| HttpUpstream { url, headers })
}

/// The rules between templates and the rest of the file: `{access_token}` needs a resolver, a
/// warm pool needs templates that do not depend on the user, and an env resolver's variable
/// must be set.
fn templates_fit(
    at: &str,
    templates: &[(String, Template)],
    resource_type: &str,
    warm_pool: usize,
    context: &Context<'_>,
    report: &mut ConfigReport,
) {
    if let Some(CredentialsSection::None) = context.credentials {
        for (key, _) in templates.iter().filter(|(_, t)| t.uses_access_token()) {
            report.push(ConfigProblem::new(
                key,
                "uses {access_token}, but credentials.mode = \"none\" gives no credential (it \
                 would always be empty); set [credentials] mode, or remove {access_token}",
            ));
        }
    }
    if let Some(CredentialsSection::Env { var: None }) = context.credentials {
        let var = SimpleTokenResolver::new().var_for(resource_type);
        if non_empty(context.env, &var).is_none() {
            report.push(ConfigProblem::new(
                format!("{at}.resource_type"),
                format!(
                    "credentials.mode = \"env\" reads {var} for resource type \"{resource_type}\", \
                     which is not set (or is empty); set it, or name the variable with \
                     credentials.var"
                ),
            ));
        }
    }
    if warm_pool > 0
        && let Some((key, template)) = templates.iter().find(|(_, t)| t.uses_identity())
    {
        let variable = template.variables().next().map(ToString::to_string).unwrap_or_default();
        report.push(ConfigProblem::new(
            format!("{at}.instances.warm_pool"),
            format!(
                "warm_pool = {warm_pool} starts children before any user is known, but {key} \
                 uses {variable}, which a warm child could not be given; set warm_pool = 0, or \
                 keep per-user values out of args, env and cwd"
            ),
        ));
    }
}
