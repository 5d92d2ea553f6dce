//! Configuration errors and the deployment [`Environment`].
//!
//! Every builder in this crate validates eagerly and reports a [`ConfigError`] that names the
//! offending key, shows the bad value (or `[redacted]` when the key holds a secret) and says what
//! would be valid — so a misconfiguration is fixed from the message alone.

use std::fmt;

use crate::secret::REDACTED;

/// Environment variable that selects the deployment [`Environment`].
pub const ENVIRONMENT_VAR: &str = "MCP_AUTH_ENV";

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration `{key}` = {value}: {expected}")]
#[non_exhaustive]
pub struct ConfigError {
    /// Dotted path of the setting, e.g. `jwt.audience` or `tenant_api.tenant_manager_url`.
    pub key: String,
    /// The rejected value, already redacted when the key holds a secret.
    pub value: String,
    /// What a valid value looks like.
    pub expected: String,
}

impl ConfigError {
    /// A non-secret setting had an invalid value; the value is quoted in the message.
    pub fn invalid(
        key: impl Into<String>,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            key: key.into(),
            value: format!("{:?}", value.to_string()),
            expected: expected.into(),
        }
    }

    /// A secret setting had an invalid value; the value is never shown.
    pub fn invalid_secret(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self { key: key.into(), value: REDACTED.to_owned(), expected: expected.into() }
    }

    /// A required setting was not given.
    pub fn missing(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self { key: key.into(), value: "(unset)".to_owned(), expected: expected.into() }
    }
}

/// Where the process runs. Production refuses settings that are only safe on a laptop (a `*`
/// CORS origin, anonymous access, plain-HTTP tenant managers); development warns instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// Local development and tests (the default).
    #[default]
    Development,
    /// A real deployment: unsafe settings are errors.
    Production,
}

impl Environment {
    /// Reads [`ENVIRONMENT_VAR`]: `production` (or `prod`) selects production, anything else or
    /// unset selects development.
    pub fn from_env() -> Self {
        match std::env::var(ENVIRONMENT_VAR) {
            Ok(v) if matches!(v.trim().to_ascii_lowercase().as_str(), "production" | "prod") => {
                Self::Production
            }
            _ => Self::Development,
        }
    }

    /// True in production.
    pub fn is_production(self) -> bool {
        self == Self::Production
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_key_value_and_expectation() {
        let err = ConfigError::invalid("jwt.leeway", "-3", "a duration such as `30s`");
        assert_eq!(
            err.to_string(),
            "invalid configuration `jwt.leeway` = \"-3\": a duration such as `30s`"
        );
    }

    #[test]
    fn secret_values_are_redacted() {
        let err = ConfigError::invalid_secret("jwt.secret", "at least 32 bytes");
        assert!(err.to_string().contains("[redacted]"));
    }
}
