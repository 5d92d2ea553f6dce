//! Config tests: defaults and mapping here, `check`'s messages in `messages.rs`, the shipped
//! examples in `examples.rs`, the library builder in `wrap.rs`, `[log]` in `logging.rs`, `[redis]` in `redis.rs`.

mod authorization;
mod examples;
mod logging;
mod messages;
mod redis;
mod store;
mod wrap;

use std::{net::SocketAddr, time::Duration};

use mcp_auth::{
    Environment,
    http::AllowedHosts,
    instances::{InstanceMode, InstanceOptions},
    middleware::RateLimitConfig,
};

use super::*;
use crate::template::{Position, TemplateVars};

pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef";
pub(super) const ORIGIN: &str = "gw.toml";

/// The environment of most tests: a PATH with `sh`, and the default JWT secret.
pub(super) fn base_env(name: &str) -> Option<String> {
    match name {
        "PATH" => Some("/usr/bin:/bin".to_owned()),
        "MCP_AUTH_JWT_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    }
}

/// `base_env` plus `extra`.
pub(super) fn env_with(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let extra: Vec<(String, String)> =
        extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name: &str| {
        extra.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| base_env(name))
    }
}

pub(super) fn check(text: &str) -> Result<GatewayConfig, ConfigReport> {
    parse_with_env(text, ORIGIN, &Overrides::default(), &base_env)
}

pub(super) fn valid(text: &str) -> GatewayConfig {
    check(text).unwrap_or_else(|report| panic!("unexpected problems:\n{report}"))
}

/// The report's lines.
pub(super) fn lines(text: &str, env: &dyn EnvSource) -> Vec<String> {
    match parse_with_env(text, ORIGIN, &Overrides::default(), env) {
        Ok(_) => Vec::new(),
        Err(report) => report.to_string().lines().map(str::to_owned).collect(),
    }
}

/// Asserts that checking `text` reports exactly `line` (among others).
#[track_caller]
pub(super) fn assert_reports(text: &str, env: &dyn EnvSource, line: &str) {
    let lines = lines(text, env);
    assert!(lines.iter().any(|l| l == line), "expected\n  {line}\ngot\n  {}", lines.join("\n  "));
}

const MINIMAL: &str = "[[servers]]\nname = \"sh\"\ncommand = \"sh\"\n";

#[test]
fn a_minimal_file_takes_every_default() {
    let config = valid(MINIMAL);
    assert_eq!(config.server.listen, DEFAULT_LISTEN);
    assert_eq!(config.public_url().as_str(), "http://127.0.0.1:8080/");
    assert_eq!(config.server.environment, Environment::Development);
    assert_eq!(config.server.limits, mcp_auth::Limits::default());
    assert_eq!(config.server.drain_delay, Duration::ZERO, "no delay unless asked");
    assert!(
        matches!(&config.auth, AuthSection::Jwt(jwt) if matches!(&jwt.key, JwtKey::Secret { key: "auth.secret_env", .. }))
    );
    assert!(matches!(config.credentials, CredentialsSection::None));
    let entry = &config.servers[0];
    assert_eq!((entry.path.as_str(), entry.resource_type.as_str()), ("/sh", "default"));
    assert_eq!(config.mount_url(entry), "http://127.0.0.1:8080/sh");
    let defaults = InstanceOptions::default();
    assert_eq!(entry.instances.options.mode, defaults.mode);
    assert_eq!(entry.instances.options.max_instances, defaults.max_instances);
    assert_eq!(entry.instances.options.idle_timeout, defaults.idle_timeout);
    assert_eq!(entry.instances.request_timeout, DEFAULT_REQUEST_TIMEOUT);
    assert_eq!((entry.instances.warm_pool, entry.instances.max_instances_per_user), (0, None));
    assert!(!entry.forward_roots, "roots are answered by the gateway unless asked");
    assert_eq!(entry.rate_limit, RateLimitConfig::default());
}

#[test]
fn every_key_maps_onto_the_library_settings() {
    let text = r#"
        [server]
        listen = "127.0.0.1:9999"
        public_url = "https://mcp.example.com/base/"
        cors_origins = ["https://app.example.com"]
        allowed_hosts = ["internal.example.com"]
        environment = "production"
        worker_threads = 3
        drain_delay = "5s"
        [server.limits]
        max_request_body_bytes = 1024
        max_connections = 50
        max_in_flight_per_user = 4
        max_sessions_per_user = 3
        max_sessions_total = 100
        session_hibernate_after = "2m"
        session_idle_timeout = 7200
        [auth]
        issuer = "https://idp.example.com"
        user_claim = "email"
        [credentials]
        mode = "jwt"
        [[servers]]
        name = "gh"
        path = "/github"
        resource_type = "github"
        url = "https://api.example.com/mcp"
        headers = { Authorization = "Bearer {access_token}", X-Tenant = "{extra.x-tenant-id}" }
        extras = ["X-Tenant-Id"]
        forward_roots = true
        [servers.instances]
        mode = "per_session"
        max_instances = 7
        max_instances_per_user = 2
        idle_timeout = "10m"
        max_lifetime = 3600
        request_timeout = "5s"
        [servers.rate_limit]
        per_second = 5
        burst = 9
        enabled = false
    "#;
    let config = valid(text);
    let server = &config.server;
    assert_eq!(server.listen, "127.0.0.1:9999".parse::<SocketAddr>().unwrap());
    assert_eq!(server.environment, Environment::Production);
    assert_eq!(
        server.host_rule(),
        AllowedHosts::List(vec!["mcp.example.com".into(), "internal.example.com".into()])
    );
    assert_eq!((server.max_request_body_bytes, server.max_connections), (Some(1024), Some(50)));
    assert_eq!(server.worker_threads, Some(3));
    assert_eq!(server.drain_delay, Duration::from_secs(5));
    assert_eq!(server.limits.max_in_flight_per_user, 4);
    assert_eq!(server.limits.max_sessions_total, 100);
    assert_eq!(server.limits.session_hibernate_after, Duration::from_secs(120));
    assert_eq!(server.limits.session_idle_timeout, Duration::from_secs(7200));
    let entry = &config.servers[0];
    assert_eq!(config.mount_url(entry), "https://mcp.example.com/base/github");
    assert_eq!(entry.extras, ["x-tenant-id"]);
    assert!(entry.forward_roots);
    let Upstream::Http(http) = &entry.upstream else { panic!("http upstream") };
    assert_eq!(http.headers.len(), 2);
    let policy = &entry.instances;
    assert_eq!(policy.options.mode, InstanceMode::PerSession);
    assert_eq!(policy.options.max_instances, 7);
    assert_eq!(policy.options.idle_timeout, Duration::from_secs(600));
    assert_eq!(policy.options.max_lifetime, Duration::from_secs(3600));
    assert_eq!(
        (policy.max_instances_per_user, policy.request_timeout),
        (Some(2), Duration::from_secs(5))
    );
    assert_eq!(
        (entry.rate_limit.requests, entry.rate_limit.burst, entry.rate_limit.enabled),
        (5, 9, false)
    );
}

#[test]
fn command_line_overrides_win_and_the_public_url_follows_the_effective_listen() {
    let overrides = Overrides { listen: Some("127.0.0.1:7000".parse().unwrap()), public_url: None };
    let text = format!("[server]\nlisten = \"127.0.0.1:1\"\n{MINIMAL}");
    let config = parse_with_env(&text, ORIGIN, &overrides, &base_env).unwrap();
    assert_eq!(config.public_url().as_str(), "http://127.0.0.1:7000/");
    let overrides = Overrides { listen: None, public_url: Some("https://gw.example.com".into()) };
    let config = parse_with_env(&text, ORIGIN, &overrides, &base_env).unwrap();
    assert_eq!(config.mount_url(&config.servers[0]), "https://gw.example.com/sh");
    let overrides = Overrides { listen: None, public_url: Some("gw.example.com".into()) };
    let report = parse_with_env(&text, ORIGIN, &overrides, &base_env).unwrap_err();
    assert_eq!(report.problems[0].key, "--public-url");
}

#[test]
fn the_environment_comes_from_mcp_auth_env_unless_the_file_says() {
    let env = env_with(&[("MCP_AUTH_ENV", "production")]);
    let config = parse_with_env(MINIMAL, ORIGIN, &Overrides::default(), &env).unwrap();
    assert_eq!(config.server.environment, Environment::Production);
    let text = format!("[server]\nenvironment = \"development\"\n{MINIMAL}");
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    assert_eq!(config.server.environment, Environment::Development);
}

#[test]
fn stdio_templates_are_parsed_and_render_per_user() {
    let text = r#"
        [[servers]]
        name = "memory"
        path = "/mcp"
        command = "sh"
        args = ["-c", "exec server", "--user={user_id}"]
        env = { MEMORY_FILE_PATH = "/tmp/mem/{user_id_hash}.json" }
        pass_env = ["NODE_OPTIONS"]
        cwd = "/srv/{user_id_hash}"
    "#;
    let config = valid(text);
    let Upstream::Stdio(stdio) = &config.servers[0].upstream else { panic!("stdio upstream") };
    assert_eq!(stdio.command, "sh");
    assert_eq!(stdio.pass_env, ["NODE_OPTIONS"]);
    let token = mcp_auth::Secret::new("");
    let extras = mcp_auth::extras::Extras::default();
    let hash = crate::template::user_id_hash("alice");
    let vars = TemplateVars {
        access_token: &token,
        user_id: "alice",
        user_id_hash: &hash,
        extras: &extras,
    };
    let args: Vec<String> =
        stdio.args.iter().map(|a| a.render(&vars, Position::Arg).unwrap()).collect();
    assert_eq!(args, ["-c", "exec server", "--user=alice"]);
    let (name, value) = &stdio.env[0];
    assert_eq!(name, "MEMORY_FILE_PATH");
    assert_eq!(value.render(&vars, Position::Env).unwrap(), format!("/tmp/mem/{hash}.json"));
    let cwd = stdio.cwd.as_ref().unwrap().render(&vars, Position::Cwd).unwrap();
    assert_eq!(cwd, format!("/srv/{hash}"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = r#"
        [server]
        listn = "127.0.0.1:1"
        [auth]
        mode = "jwt"
        secret_env = "UNSET_SECRET"
        [[servers]]
        name = "a"
        comand = "sh"
        [[servers]]
        name = "b"
        command = "sh"
        [servers.instances]
        idle_timeout = "soon"
    "#;
    let keys: Vec<String> = check(text).unwrap_err().problems.into_iter().map(|p| p.key).collect();
    for key in [
        "server.listn",
        "servers[0].comand",
        "servers[1].instances.idle_timeout",
        "auth.secret_env",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
}

#[test]
fn debug_output_never_shows_a_secret() {
    let env = env_with(&[("TENANT_TOKEN", "tenant-service-token-value")]);
    let text = format!(
        "[credentials]\nmode = \"api\"\nurl = \"https://t.example.com\"\n\
         service_token_env = \"TENANT_TOKEN\"\n{MINIMAL}"
    );
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET) && !debug.contains("tenant-service-token-value"), "{debug}");
}
