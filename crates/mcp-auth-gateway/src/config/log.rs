//! `[log]`, checked: the log's format, and how its lines name users. The key of the users' tags
//! is read here, once, straight into [`Secret`].

use mcp_auth::{Secret, UserIdLogging};

use super::{
    ConfigProblem, ConfigReport,
    env::{EnvSource, non_empty, valid_var_name},
    raw::{RawLog, RawLogFormat},
};

/// The shortest key accepted for the users' tags: 32 bytes, as for an HS256 secret.
pub const MIN_USER_HASH_KEY_BYTES: usize = 32;

/// `[log]`, checked.
#[derive(Debug, Clone, Default)]
pub struct LogSection {
    /// `log.format`.
    pub format: LogFormat,
    /// `log.log_user_ids` and the key of `log.user_hash_key_env`/`user_hash_key_file`: how
    /// every mount, resolver and child's stderr names users.
    pub user_ids: UserIdLogging,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal (the default).
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Checks `[log]`.
pub(super) fn validate_log(
    raw: RawLog,
    env: &dyn EnvSource,
    report: &mut ConfigReport,
) -> Option<LogSection> {
    let format = match raw.format {
        RawLogFormat::Pretty => LogFormat::Pretty,
        RawLogFormat::Json => LogFormat::Json,
    };
    let key = match (&raw.user_hash_key_env, &raw.user_hash_key_file) {
        (Some(_), Some(_)) => {
            report.push(ConfigProblem::new(
                "log",
                "both user_hash_key_env and user_hash_key_file; give one of them",
            ));
            return None;
        }
        (Some(name), None) => {
            let Some(key) = valid_var_name(name).then(|| non_empty(env, name)).flatten() else {
                report.push(ConfigProblem::new(
                    "log.user_hash_key_env",
                    format!(
                        "names environment variable {name}, which is not set (or is empty); set \
                         it to a key of at least {MIN_USER_HASH_KEY_BYTES} bytes (`openssl rand \
                         -base64 48`), or leave the key out for a random one per process"
                    ),
                ));
                return None;
            };
            Some(checked(Secret::new(key), "log.user_hash_key_env", name, report)?)
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                report.push(ConfigProblem::new(
                    "log.user_hash_key_file",
                    format!("cannot read {}: {error}", path.display()),
                ));
            });
            let mut text = text.ok()?;
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
            let source = path.display().to_string();
            Some(checked(Secret::new(text), "log.user_hash_key_file", &source, report)?)
        }
        (None, None) => None,
    };
    let user_ids = key.as_ref().map_or_else(UserIdLogging::default, UserIdLogging::keyed);
    Some(LogSection { format, user_ids: user_ids.with_raw_ids(raw.log_user_ids) })
}

/// `key` when it is long enough to be a secret.
fn checked(
    key: Secret,
    at: &'static str,
    source: &str,
    report: &mut ConfigReport,
) -> Option<Secret> {
    if key.expose().len() < MIN_USER_HASH_KEY_BYTES {
        report.push(
            ConfigProblem::new(
                at,
                format!(
                    "the key in {source} is shorter than {MIN_USER_HASH_KEY_BYTES} bytes; \
                     generate one with `openssl rand -base64 48`"
                ),
            )
            .with_secret_value(),
        );
        return None;
    }
    Some(key)
}
