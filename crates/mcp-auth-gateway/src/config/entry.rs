//! `[[servers]]`, checked: one mount each — its name and path, its upstream (see
//! `upstream.rs`), its instance policy and its rate limit.

use std::{collections::HashMap, time::Duration};

use mcp_auth::{
    instances::{InstanceMode, InstanceOptions},
    middleware::RateLimitConfig,
};
use mcp_auth_redis::FailMode;

use super::{
    ConfigProblem, ConfigReport, CredentialsSection,
    authorization::MountAuthorization,
    env::EnvSource,
    raw::{RawFailMode, RawInstanceMode, RawInstances, RawRateLimit, RawServerEntry},
    server::Basics,
    upstream::{self, Upstream},
};
use crate::{child::MAX_WARM_POOL, template::extra_key};

/// Longest accepted `idle_timeout`, `max_lifetime` and `request_timeout`: timers add them to
/// the current instant, which must not overflow.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// `request_timeout` when the file gives none.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One `[[servers]]` entry, checked: an upstream MCP server mounted at a path.
#[derive(Debug, Clone)]
pub struct ServerEntry {
    /// `name`: unique, `[a-z0-9_-]+`; the server name of the mount's info document.
    pub name: String,
    /// `path`: the unique mount path, e.g. `/mcp` (default `/{name}`).
    pub path: String,
    /// `resource_type`: passed to the token resolver (default `default`).
    pub resource_type: String,
    /// `command` (stdio) or `url` (http), with their settings.
    pub upstream: Upstream,
    /// `extras`: the request headers whose values templates may use as `{extra.NAME}`,
    /// lower-cased.
    pub extras: Vec<String>,
    /// `forward_roots`: the upstream's `roots/list` goes to the caller (default false: the
    /// gateway answers it with no roots, so a caller cannot widen what the server may touch).
    pub forward_roots: bool,
    /// `[servers.instances]`.
    pub instances: InstancePolicy,
    /// `[servers.rate_limit]`: [`RateLimitConfig::default`] with the file's keys applied.
    pub rate_limit: RateLimitConfig,
    /// `rate_limit.shared` and `rate_limit.fail_mode`: `Some` when the budget is kept in
    /// `[redis]`, shared by every replica; `None`: per process.
    pub shared_rate_limit: Option<FailMode>,
    /// `scopes`, `resource_documentation`, `connect_url`.
    pub authorization: MountAuthorization,
}

/// `[servers.instances]`, checked.
#[derive(Debug, Clone)]
pub struct InstancePolicy {
    /// `mode`, `max_instances`, `idle_timeout`, `max_lifetime` over
    /// [`InstanceOptions::default`].
    pub options: InstanceOptions,
    /// `max_instances_per_user`; `None`: [`mcp_auth::Limits`]' default (8).
    pub max_instances_per_user: Option<usize>,
    /// `warm_pool`: stdio children started before any user asks (default 0).
    pub warm_pool: usize,
    /// `request_timeout`: longest wait for the upstream's answer (default 60 s).
    pub request_timeout: Duration,
}

/// What checking an entry needs from the rest of the file (sections that were valid).
pub(super) struct Context<'a> {
    pub server: Option<Basics>,
    pub credentials: Option<&'a CredentialsSection>,
    pub env: &'a dyn EnvSource,
    /// Whether the file has a `[redis]` section (valid or not).
    pub redis: bool,
}

/// Checks every entry (`None` items already had a problem reported) and their uniqueness.
pub(super) fn validate_all(
    entries: Vec<Option<RawServerEntry>>,
    context: &Context<'_>,
    report: &mut ConfigReport,
) -> Option<Vec<ServerEntry>> {
    if entries.is_empty() {
        report.push(ConfigProblem::new(
            "servers",
            "no [[servers]] entry; add at least one upstream server to mount (a [[servers]] \
             table with a name and a command or url)",
        ));
        return None;
    }
    unique(&entries, report);
    let count = entries.len();
    let checked: Vec<ServerEntry> = entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, raw)| validate(i, raw?, context, report))
        .collect();
    (checked.len() == count).then_some(checked)
}

/// `path` as configured, or `/{name}`.
fn mount_path(raw: &RawServerEntry) -> String {
    raw.path.clone().unwrap_or_else(|| format!("/{}", raw.name))
}

/// Names and paths are unique, and no mount lies below another (each serves sub-paths such as
/// `/sse` and `/health`, which would collide).
fn unique(entries: &[Option<RawServerEntry>], report: &mut ConfigReport) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut paths: Vec<(String, usize)> = Vec::new();
    for (i, raw) in entries.iter().enumerate() {
        let Some(raw) = raw else { continue };
        if let Some(first) = names.get(raw.name.as_str()) {
            report.push(ConfigProblem::new(
                format!("servers[{i}].name"),
                format!(
                    "\"{}\" is already the name of servers[{first}]; names must be unique",
                    raw.name
                ),
            ));
        } else {
            names.insert(&raw.name, i);
        }
        let path = mount_path(raw);
        for (other, first) in &paths {
            let (outer, inner) =
                if path.len() <= other.len() { (&path, other) } else { (other, &path) };
            if path == *other {
                report.push(ConfigProblem::new(
                    format!("servers[{i}].path"),
                    format!(
                        "\"{path}\" is already the path of servers[{first}]; paths must be unique"
                    ),
                ));
            } else if inner.starts_with(&format!("{outer}/")) {
                report.push(ConfigProblem::new(
                    format!("servers[{i}].path"),
                    format!(
                        "\"{path}\" and servers[{first}].path \"{other}\" overlap: a mount also \
                         serves the paths below it (/sse, /messages, /health), so one may not \
                         lie below another"
                    ),
                ));
            }
        }
        paths.push((path, i));
    }
}

/// Checks one entry.
fn validate(
    i: usize,
    raw: RawServerEntry,
    context: &Context<'_>,
    report: &mut ConfigReport,
) -> Option<ServerEntry> {
    let problems = report.problems.len();
    let at = format!("servers[{i}]");
    if raw.name.is_empty()
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
    {
        report.push(
            ConfigProblem::new(
                format!("{at}.name"),
                "expected lower-case letters, digits, `_` and `-`, such as \"memory\"",
            )
            .with_value(&raw.name),
        );
    }
    let path = mount_path(&raw);
    if !valid_path(&path) {
        report.push(
            ConfigProblem::new(
                format!("{at}.path"),
                "expected a mount path such as \"/mcp\": starting with `/`, no trailing `/`, \
                 segments of letters, digits, `.`, `_`, `~` and `-`",
            )
            .with_value(&path),
        );
    }
    let resource_type = raw.resource_type.clone().unwrap_or_else(|| "default".to_owned());
    if resource_type.is_empty()
        || !resource_type.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        report.push(
            ConfigProblem::new(
                format!("{at}.resource_type"),
                "expected letters, digits, `-`, `_` and `.`, such as \"github\"",
            )
            .with_value(&resource_type),
        );
    }
    let extras = upstream::extras(&at, &raw.extras, report);
    let instances = instances(&at, &raw.instances, report);
    let rate_limit = rate_limit(&at, &raw.rate_limit, report);
    let shared_rate_limit = shared_rate_limit(&at, &raw.rate_limit, context.redis, report);
    let authorization = super::authorization::mount(&at, &raw, report);
    let name = raw.name.clone();
    let forward_roots = raw.forward_roots;
    let upstream =
        upstream::validate(&at, raw, &resource_type, &extras, instances.warm_pool, context, report);
    let entry = ServerEntry {
        name,
        path,
        resource_type,
        upstream: upstream?,
        extras,
        forward_roots,
        instances,
        rate_limit,
        shared_rate_limit,
        authorization,
    };
    (report.problems.len() == problems).then_some(entry)
}

/// Letters, digits, `.`, `_`, `~`, `-` segments after `/`; no empty, `.` or `..` segment.
fn valid_path(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/').all(|segment| {
            !matches!(segment, "" | "." | "..")
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
        })
    })
}

/// `[servers.instances]` over the library's defaults.
fn instances(at: &str, raw: &RawInstances, report: &mut ConfigReport) -> InstancePolicy {
    let mut options = InstanceOptions::default();
    if let Some(mode) = raw.mode {
        options = options.with_mode(match mode {
            RawInstanceMode::PerUser => InstanceMode::PerUser,
            RawInstanceMode::PerSession => InstanceMode::PerSession,
        });
    }
    let at_least_one = |key: &str, zero: bool, report: &mut ConfigReport| {
        if zero {
            report.push(ConfigProblem::new(format!("{at}.instances.{key}"), "must be at least 1"));
        }
    };
    at_least_one("max_instances", raw.max_instances == Some(0), report);
    at_least_one("max_instances_per_user", raw.max_instances_per_user == Some(0), report);
    if let Some(max) = raw.max_instances {
        options = options.with_max_instances(max);
    }
    if raw.warm_pool > MAX_WARM_POOL {
        report.push(
            ConfigProblem::new(
                format!("{at}.instances.warm_pool"),
                format!(
                    "at most {MAX_WARM_POOL} children may wait per server; a few cover the \
                     start of new users"
                ),
            )
            .with_value(raw.warm_pool),
        );
    }
    let mut duration = |key: &str, value: Option<Duration>, default: Duration| {
        let value = value.unwrap_or(default);
        if value.is_zero() || value > MAX_DURATION {
            report.push(ConfigProblem::new(
                format!("{at}.instances.{key}"),
                "must be above zero and at most 30d",
            ));
        }
        value
    };
    let idle_timeout =
        duration("idle_timeout", raw.idle_timeout.map(|d| d.0), options.idle_timeout);
    let max_lifetime =
        duration("max_lifetime", raw.max_lifetime.map(|d| d.0), options.max_lifetime);
    let request_timeout =
        duration("request_timeout", raw.request_timeout.map(|d| d.0), DEFAULT_REQUEST_TIMEOUT);
    InstancePolicy {
        options: options.with_idle_timeout(idle_timeout).with_max_lifetime(max_lifetime),
        max_instances_per_user: raw.max_instances_per_user,
        warm_pool: raw.warm_pool,
        request_timeout,
    }
}

/// `[servers.rate_limit]` over [`RateLimitConfig::default`].
fn rate_limit(at: &str, raw: &RawRateLimit, report: &mut ConfigReport) -> RateLimitConfig {
    let mut config = RateLimitConfig::default();
    for (key, value) in [("per_second", raw.per_second), ("burst", raw.burst)] {
        if value == Some(0) {
            report.push(ConfigProblem::new(
                format!("{at}.rate_limit.{key}"),
                "must be at least 1 (set enabled = false to turn the limit off)",
            ));
        }
    }
    if let Some(per_second) = raw.per_second {
        config.requests = per_second;
        config.period = Duration::from_secs(1);
    }
    if let Some(burst) = raw.burst {
        config = config.with_burst(burst);
    }
    if let Some(enabled) = raw.enabled {
        config = config.with_enabled(enabled);
    }
    config
}

/// `rate_limit.shared` and `rate_limit.fail_mode`, which need `[redis]` and each other.
fn shared_rate_limit(
    at: &str,
    raw: &RawRateLimit,
    redis: bool,
    report: &mut ConfigReport,
) -> Option<FailMode> {
    let fail_mode = match raw.fail_mode {
        Some(RawFailMode::Closed) => FailMode::Closed,
        Some(RawFailMode::Open) | None => FailMode::Open,
    };
    match (raw.shared.unwrap_or(false), raw.enabled.unwrap_or(true)) {
        (true, false) => report.push(ConfigProblem::new(
            format!("{at}.rate_limit.shared"),
            "shared = true with enabled = false; remove one of them",
        )),
        (true, true) if !redis => report.push(ConfigProblem::new(
            format!("{at}.rate_limit.shared"),
            "needs a [redis] section (url = \"redis://…\") to keep the shared budget in",
        )),
        (true, true) => return Some(fail_mode),
        (false, _) if raw.fail_mode.is_some() => report.push(ConfigProblem::new(
            format!("{at}.rate_limit.fail_mode"),
            "applies only with shared = true (a per-process limit needs no Redis)",
        )),
        (false, _) => {}
    }
    None
}

/// The name under which each extra reaches the factory must be unique too.
pub(super) fn duplicate_extra(extras: &[String]) -> Option<(&str, &str)> {
    extras.iter().enumerate().find_map(|(i, a)| {
        extras[..i].iter().find(|b| extra_key(a) == extra_key(b)).map(|b| (b.as_str(), a.as_str()))
    })
}
