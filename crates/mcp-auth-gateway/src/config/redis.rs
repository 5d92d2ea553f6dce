//! `[redis]`, checked: where the state shared by the replicas lives (the per-user rate limits
//! of mounts with `rate_limit.shared = true`; with `credential_key_env`, the credentials
//! resolved from the tenant manager). Without the section, nothing uses Redis.
//!
//! The URL may carry a password (`redis://:PASSWORD@host`): problems name the key, never its
//! value, and the checked section's `Debug` hides it, as it hides the keys.

use std::time::Duration;

use mcp_auth::Secret;
use mcp_auth_redis::{CacheKey, DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT, RedisConfig};

use super::{
    ConfigProblem, ConfigReport, MIN_USER_HASH_KEY_BYTES,
    env::{EnvSource, non_empty, valid_var_name},
    raw::RawRedis,
};

/// The longest `redis.timeout` accepted: a check sits on every request's path.
pub const MAX_REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// `[redis]`, checked.
#[derive(Debug, Clone)]
pub struct RedisSection {
    /// `redis.url`.
    pub url: Secret,
    /// `redis.key_prefix` (default `mcp-auth:`).
    pub key_prefix: String,
    /// `redis.timeout` (default 50 ms).
    pub timeout: Duration,
    /// The key of `redis.user_hash_key_env`: user ids in keys are HMAC-SHA256 under it.
    pub user_hash_key: Option<Secret>,
    /// The key of `redis.credential_key_env`: with it, `credentials.mode = "api"` resolvers
    /// share what they resolve through Redis, sealed under it.
    pub credential_key: Option<CacheKey>,
}

impl RedisSection {
    /// The settings of `mcp_auth_redis::RedisConnection`.
    pub fn connection_config(&self) -> RedisConfig {
        RedisConfig::new(self.url.expose())
            .with_key_prefix(&self.key_prefix)
            .with_timeout(self.timeout)
    }
}

/// Checks `[redis]`.
pub(super) fn validate_redis(
    raw: RawRedis,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<RedisSection> {
    let problems = report.problems.len();
    let url = redis_url(raw.url, raw.url_env.as_deref(), env, report);
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if url.is_empty() {
        // Already reported by `redis_url`.
    } else if !matches!(scheme, Some("redis" | "rediss" | "redis+unix" | "unix")) {
        report.push(
            ConfigProblem::new(
                "redis.url",
                "expected redis://HOST:PORT, rediss://HOST:PORT or redis+unix:///PATH/TO/SOCKET",
            )
            .with_secret_value(),
        );
    }
    let key_prefix = raw.key_prefix.unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
    if key_prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        report.push(
            ConfigProblem::new("redis.key_prefix", "no spaces or control characters")
                .with_value(format!("{key_prefix:?}")),
        );
    }
    let timeout = raw.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if timeout.is_zero() || timeout > MAX_REDIS_TIMEOUT {
        report.push(
            ConfigProblem::new("redis.timeout", "between 1ms and 5s, such as \"50ms\"")
                .with_value(format!("{timeout:?}")),
        );
    }
    let user_hash_key = raw.user_hash_key_env.as_deref().and_then(|name| {
        let key = valid_var_name(name).then(|| non_empty(env, name)).flatten();
        match key {
            Some(key) if key.len() >= MIN_USER_HASH_KEY_BYTES => Some(Secret::new(key)),
            _ => {
                report.push(ConfigProblem::new(
                    "redis.user_hash_key_env",
                    format!(
                        "names environment variable {name}, which is not set or holds fewer \
                         than {MIN_USER_HASH_KEY_BYTES} bytes; set it to the same key on every \
                         replica (`openssl rand -base64 48`), or leave the key out"
                    ),
                ));
                None
            }
        }
    });
    let credential_key =
        raw.credential_key_env.as_deref().and_then(|name| credential_key(name, env, report));
    (report.problems.len() == problems).then(|| RedisSection {
        url: Secret::new(url),
        key_prefix,
        timeout,
        user_hash_key,
        credential_key,
    })
}

/// `redis.url`, or the value of the variable `redis.url_env` names (exactly one of the two);
/// empty after a problem was reported.
fn redis_url(
    url: Option<String>,
    url_env: Option<&str>,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> String {
    const EXPECTED: &str = "redis://HOST:PORT, rediss://HOST:PORT or redis+unix:///PATH/TO/SOCKET";
    match (url, url_env) {
        (Some(url), None) if !url.is_empty() => url,
        (None, Some(name)) => {
            match valid_var_name(name).then(|| non_empty(env, name)).flatten() {
                Some(url) => url,
                None => {
                    report.push(ConfigProblem::new(
                    "redis.url_env",
                    format!("names environment variable {name}, which is not set; set it to {EXPECTED}"),
                ));
                    String::new()
                }
            }
        }
        (Some(_), Some(_)) => {
            report.push(ConfigProblem::new("redis.url", "give url or url_env, not both"));
            String::new()
        }
        _ => {
            report.push(ConfigProblem::new(
                "redis.url",
                format!("required key is missing: {EXPECTED} (or url_env, naming a variable that holds it)"),
            ));
            String::new()
        }
    }
}

/// The key in the environment variable `name`, or a problem that says what is wrong with it
/// (never the value).
fn credential_key(name: &str, env: &dyn EnvSource, report: &mut ConfigReport) -> Option<CacheKey> {
    let reason = match valid_var_name(name).then(|| non_empty(env, name)).flatten() {
        None => format!(
            "names environment variable {name}, which is not set; set it to the base64 of a \
             32-byte key (`openssl rand -base64 32`), the same on every replica"
        ),
        Some(text) => match CacheKey::from_base64(&text) {
            Ok(key) => return Some(key),
            Err(error) => format!(
                "names environment variable {name}, which does not hold a usable key: {error}; \
                 use the same key on every replica"
            ),
        },
    };
    report.push(ConfigProblem::new("redis.credential_key_env", reason));
    None
}
