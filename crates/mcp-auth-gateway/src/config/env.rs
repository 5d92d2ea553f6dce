//! [`EnvSource`]: where the config reads environment variables — the process for `load`, a
//! closure in tests, so that no test has to change the process environment.

use mcp_auth::{Environment, config::ENVIRONMENT_VAR};

/// Environment variables, by name.
pub trait EnvSource {
    /// The value of `name`, when set (and valid Unicode).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment ([`std::env::var`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> EnvSource for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The value of `name` when set and not empty.
pub(crate) fn non_empty(env: &dyn EnvSource, name: &str) -> Option<String> {
    env.var(name).filter(|value| !value.is_empty())
}

/// [`Environment::from_env`], reading `MCP_AUTH_ENV` from `env`.
pub(crate) fn environment(env: &dyn EnvSource) -> Environment {
    match env.var(ENVIRONMENT_VAR) {
        Some(v) if matches!(v.trim().to_ascii_lowercase().as_str(), "production" | "prod") => {
            Environment::Production
        }
        _ => Environment::Development,
    }
}

/// True when `name` can be an environment variable name: not empty, without `=` or NUL.
pub(crate) fn valid_var_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}
