//! `[server]`: the listener, the public URL, browser and `Host` rules, the environment and the
//! limits every mount shares.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    time::Duration,
};

use mcp_auth::{Environment, Limits, config::ENVIRONMENT_VAR, http::AllowedHosts};
use url::Url;

use super::{
    ConfigProblem, ConfigReport, Overrides,
    env::{self, EnvSource},
    raw::{RawEnvironment, RawLimits, RawServer},
    urls,
};

/// `server.listen` when neither the file nor `--listen` gives one.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// `[server]`, checked.
#[derive(Debug, Clone)]
pub struct ServerSection {
    /// The address to listen on: `--listen`, else `server.listen`, else `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The URL clients reach the gateway at, without a mount path: `--public-url`, else
    /// `server.public_url`, else `http://{listen}`. Its host is always an accepted `Host`.
    pub public_url: Url,
    /// Whether the public URL was given (`--public-url` or `server.public_url`) rather than
    /// made from the listen address.
    pub public_url_given: bool,
    /// Browser origins allowed by CORS and the `Origin` check (`*`: any, never in production).
    pub cors_origins: Vec<String>,
    /// `Host` values accepted besides loopback and the public URL's host (`*`: any).
    pub allowed_hosts: Vec<String>,
    /// `server.environment`, else `MCP_AUTH_ENV`.
    pub environment: Environment,
    /// Per-user and total bounds: [`Limits::default`] with `[server.limits]` applied.
    pub limits: Limits,
    /// `server.limits.max_request_body_bytes`; `None`: the library's default (4 MiB).
    pub max_request_body_bytes: Option<usize>,
    /// `server.limits.max_connections`; `None`: the library's default (10 000, or half the
    /// open-file limit).
    pub max_connections: Option<usize>,
    /// `server.worker_threads`; `None`: tokio's default (one per CPU, or
    /// `TOKIO_WORKER_THREADS`).
    pub worker_threads: Option<usize>,
    /// `server.metrics`: where `/metrics` is served, if anywhere.
    pub metrics: MetricsAt,
    /// `server.drain_delay`: after SIGTERM, how long `/ready` answers `503` while every request
    /// is still served, before the listener closes (zero by default).
    pub drain_delay: Duration,
    /// `[server.progress]`: progress monitoring for every mount.
    pub progress: mcp_auth::progress::ProgressOptions,
}

/// Where `GET /metrics` is served (`server.metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetricsAt {
    /// Nowhere (the default).
    #[default]
    Off,
    /// On the public listener, next to the mounts.
    Public,
    /// On a listener of its own (an admin address only scrapers reach).
    Listen(SocketAddr),
}

/// The longest `server.drain_delay` accepted: a load balancer notices a failing readiness
/// probe within seconds, and a longer delay only holds up every restart.
const MAX_DRAIN_DELAY: Duration = Duration::from_secs(300);

/// The most `server.worker_threads` accepted: far past any useful count, and a guard against a
/// typo that would start a thread per connection's worth.
const MAX_WORKER_THREADS: usize = 1024;

impl ServerSection {
    /// The `Host` values every mount accepts: loopback, the public URL's host and
    /// `allowed_hosts` (or any host, when that lists `*`).
    pub fn host_rule(&self) -> AllowedHosts {
        if self.allowed_hosts.iter().any(|h| h == "*") {
            return AllowedHosts::Any;
        }
        let mut hosts: Vec<String> =
            self.public_url.host_str().map(str::to_owned).into_iter().collect();
        hosts.extend(self.allowed_hosts.iter().cloned());
        AllowedHosts::List(hosts)
    }
}

/// What the other sections need from `[server]`, known even when other keys of it are wrong.
#[derive(Debug, Clone, Copy)]
pub(super) struct Basics {
    /// The effective listen address.
    pub listen: SocketAddr,
    /// The effective environment.
    pub environment: Environment,
    /// What set it, for messages: `server.environment`, else `MCP_AUTH_ENV`.
    pub environment_from: &'static str,
}

impl Basics {
    /// `in production (set by …)`, for the messages of settings production refuses.
    pub fn in_production(&self) -> String {
        format!("in production (set by {})", self.environment_from)
    }
}

/// The effective listen address and environment of `raw`.
pub(super) fn basics(raw: &RawServer, overrides: &Overrides, env: &dyn EnvSource) -> Basics {
    let listen = overrides
        .listen
        .or_else(|| raw.listen.as_deref().and_then(|text| text.trim().parse().ok()))
        .unwrap_or(DEFAULT_LISTEN);
    let (environment, environment_from) = match raw.environment {
        Some(RawEnvironment::Production) => (Environment::Production, "server.environment"),
        Some(RawEnvironment::Development) => (Environment::Development, "server.environment"),
        None => (env::environment(env), ENVIRONMENT_VAR),
    };
    Basics { listen, environment, environment_from }
}

/// Checks `[server]`, with the command-line overrides applied.
pub(super) fn validate(
    raw: RawServer,
    overrides: &Overrides,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<ServerSection> {
    let problems = report.problems.len();
    let basics = basics(&raw, overrides, env);
    let Basics { listen, environment, .. } = basics;
    if let Some(text) =
        raw.listen.as_deref().filter(|text| text.trim().parse::<SocketAddr>().is_err())
    {
        report.push(
            ConfigProblem::new(
                "server.listen",
                "expected an IP address and port, such as \"127.0.0.1:8080\" (loopback only), \
                 \"0.0.0.0:8080\" (all interfaces) or \"[::1]:8080\"; not a host name",
            )
            .with_value(text),
        );
    }
    let public_url = match (&overrides.public_url, &raw.public_url) {
        (Some(url), _) => public_url("--public-url", url, report),
        (None, Some(url)) => public_url("server.public_url", url, report),
        (None, None) if listen.ip().is_unspecified() => {
            report.push(ConfigProblem::new(
                "server.public_url",
                format!(
                    "required when listening on all interfaces ({listen}): clients cannot reach \
                     {}, and the public URL's host is the accepted Host header and the default \
                     JWT audience; give the URL clients use, e.g. \"https://mcp.example.com\"",
                    listen.ip()
                ),
            ));
            None
        }
        (None, None) => public_url("server.listen", &format!("http://{listen}"), report),
    };
    for (i, origin) in raw.cors_origins.iter().enumerate() {
        let key = format!("server.cors_origins[{i}]");
        if origin.trim() == "*" {
            if environment.is_production() {
                report.push(
                    ConfigProblem::new(
                        key,
                        format!(
                            "a wildcard origin (any web page) is refused {}; list the browser \
                             origins to allow, e.g. [\"https://app.example.com\"]",
                            basics.in_production()
                        ),
                    )
                    .with_value(origin),
                );
            }
        } else if !is_origin(origin) {
            report.push(
                ConfigProblem::new(
                    key,
                    "expected an origin: scheme, host and optional port, without a path, such \
                     as \"https://app.example.com\"",
                )
                .with_value(origin),
            );
        }
    }
    for (i, host) in raw.allowed_hosts.iter().enumerate().filter(|(_, h)| *h != "*") {
        if !is_host(host) {
            report.push(
                ConfigProblem::new(
                    format!("server.allowed_hosts[{i}]"),
                    "expected a host name without scheme or port, such as \"mcp.example.com\"",
                )
                .with_value(host),
            );
        }
    }
    let metrics = match raw.metrics.as_deref() {
        None | Some("off") => MetricsAt::Off,
        Some("public") => MetricsAt::Public,
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(addr) if addr != listen => MetricsAt::Listen(addr),
            _ => {
                report.push(
                    ConfigProblem::new(
                        "server.metrics",
                        "expected \"off\", \"public\" (on the listen address) or an address \
                         of its own such as \"127.0.0.1:9464\"",
                    )
                    .with_value(text),
                );
                MetricsAt::Off
            }
        },
    };
    let limits = limits(&raw.limits, report);
    let progress = super::progress::progress(&raw.progress, report);
    if raw.worker_threads.is_some_and(|n| n == 0 || n > MAX_WORKER_THREADS) {
        report.push(ConfigProblem::new(
            "server.worker_threads",
            format!("must be between 1 and {MAX_WORKER_THREADS}"),
        ));
    }
    let drain_delay = raw.drain_delay.map_or(Duration::ZERO, |d| d.0);
    if drain_delay > MAX_DRAIN_DELAY {
        report.push(
            ConfigProblem::new(
                "server.drain_delay",
                "at most \"5m\"; a load balancer stops sending new requests within a few \
                 probe periods (\"5s\" suits Kubernetes)",
            )
            .with_value(format!("{}s", drain_delay.as_secs())),
        );
    }
    let public_url = public_url?;
    let public_url_given = overrides.public_url.is_some() || raw.public_url.is_some();
    (report.problems.len() == problems).then_some(ServerSection {
        listen,
        public_url,
        public_url_given,
        cors_origins: raw.cors_origins,
        allowed_hosts: raw.allowed_hosts,
        environment,
        limits,
        max_request_body_bytes: raw.limits.max_request_body_bytes,
        max_connections: raw.limits.max_connections,
        worker_threads: raw.worker_threads,
        metrics,
        drain_delay,
        progress,
    })
}

/// The public URL: absolute http(s), no query, fragment or credentials.
fn public_url(key: &str, text: &str, report: &mut ConfigReport) -> Option<Url> {
    let problem = |message: &str| ConfigProblem::new(key, message).with_value(urls::shown(text));
    let expected = "expected an absolute http(s) URL such as \"https://mcp.example.com\"";
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(error) => {
            report.push(problem(&format!("not a URL ({error}); {expected}")));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        report.push(problem(&format!("{expected}: only http and https are served")));
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        report.push(problem(&format!("{expected}, without user@, ?query or #fragment")));
        return None;
    }
    Some(url)
}

/// `scheme://host[:port]`, nothing after it.
fn is_origin(origin: &str) -> bool {
    let Some((_, rest)) = origin.split_once("://") else { return false };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' '])
        && Url::parse(origin).is_ok()
        && http::HeaderValue::from_str(origin).is_ok()
}

/// A host name or IP address as the `Host` header carries it, without the port.
fn is_host(host: &str) -> bool {
    let bracketed_ipv6 = host.starts_with('[') && host.ends_with(']');
    !host.is_empty()
        && !host.contains(['/', '?', '#', '@', ' ', '\t'])
        && (bracketed_ipv6 || !host.contains(':'))
}

/// [`Limits::default`] with `[server.limits]` applied; zeros reported.
fn limits(raw: &RawLimits, report: &mut ConfigReport) -> Limits {
    let mut limits = Limits::default();
    let counts = [
        ("max_request_body_bytes", raw.max_request_body_bytes),
        ("max_connections", raw.max_connections),
        ("max_in_flight_per_user", raw.max_in_flight_per_user),
        ("max_unread_response_bytes_per_user", raw.max_unread_response_bytes_per_user),
        ("max_sessions_per_user", raw.max_sessions_per_user),
        ("max_sse_sessions_per_user", raw.max_sse_sessions_per_user),
        ("max_sessions_total", raw.max_sessions_total),
    ];
    for (key, value) in counts {
        if value == Some(0) {
            report.push(ConfigProblem::new(format!("server.limits.{key}"), "must be at least 1"));
        }
    }
    let durations = [
        ("session_hibernate_after", raw.session_hibernate_after),
        ("session_idle_timeout", raw.session_idle_timeout),
    ];
    for (key, value) in durations {
        if value.is_some_and(|d| d.0.is_zero()) {
            report.push(ConfigProblem::new(format!("server.limits.{key}"), "must be more than 0"));
        }
    }
    if raw.max_in_flight_per_user.is_some_and(|n| n > tokio::sync::Semaphore::MAX_PERMITS) {
        report.push(ConfigProblem::new(
            "server.limits.max_in_flight_per_user",
            format!("must be at most {}", tokio::sync::Semaphore::MAX_PERMITS),
        ));
    }
    if raw.max_connections.is_some_and(|n| u32::try_from(n).is_err()) {
        report.push(ConfigProblem::new(
            "server.limits.max_connections",
            "must be below the open-file limit (`ulimit -n`)",
        ));
    }
    if let Some(n) = raw.max_in_flight_per_user {
        limits = limits.with_max_in_flight_per_user(n);
    }
    if let Some(n) = raw.max_unread_response_bytes_per_user {
        limits = limits.with_max_unread_response_bytes_per_user(n);
    }
    if let Some(n) = raw.max_sessions_per_user {
        limits = limits.with_max_sessions_per_user(n);
    }
    if let Some(n) = raw.max_sse_sessions_per_user {
        limits = limits.with_max_sse_sessions_per_user(n);
    }
    if let Some(n) = raw.max_sessions_total {
        limits = limits.with_max_sessions_total(n);
    }
    if let Some(after) = raw.session_hibernate_after {
        limits = limits.with_session_hibernate_after(after.0);
    }
    if let Some(timeout) = raw.session_idle_timeout {
        limits = limits.with_session_idle_timeout(timeout.0);
    }
    limits
}
