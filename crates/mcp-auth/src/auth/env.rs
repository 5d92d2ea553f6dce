//! [`EnvAuthProvider`]: the identity of a single-user process, read from its environment.
//!
//! This is how stdio servers authenticate: the process is started for one user, so the user is
//! whoever the environment says (`MCP_USER_ID` by default) and every message is theirs.

use super::{AuthError, AuthProvider, Principal, RequestContext};
use crate::config::ConfigError;

/// The variable read by default.
pub const DEFAULT_USER_ID_VAR: &str = "MCP_USER_ID";
/// The user id used when the variable is unset and not required.
pub const DEFAULT_USER_ID: &str = "local-user";

/// Authenticates every request as the user named by an environment variable.
///
/// The variable is read once, when the provider is built; a process's identity does not change.
///
/// ```
/// use mcp_auth::auth::EnvAuthProvider;
/// let provider = EnvAuthProvider::builder().var("MY_USER").default_user("alice").build()?;
/// # Ok::<_, mcp_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EnvAuthProvider {
    principal: Principal,
}

impl EnvAuthProvider {
    /// Reads `MCP_USER_ID`, defaulting to `local-user`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().build()
    }

    /// Always authenticates as `user_id` (tests, fixed single-user deployments).
    pub fn fixed(user_id: impl Into<String>) -> Result<Self, ConfigError> {
        let user_id = user_id.into();
        let principal =
            Principal::new(user_id.clone()).map_err(|_| invalid_user("env.user_id", &user_id))?;
        Ok(Self { principal })
    }

    /// Starts a builder.
    pub fn builder() -> EnvAuthProviderBuilder {
        EnvAuthProviderBuilder::default()
    }

    /// The user every request is authenticated as.
    pub fn user_id(&self) -> &str {
        self.principal.user_id()
    }
}

#[async_trait::async_trait]
impl AuthProvider for EnvAuthProvider {
    async fn authenticate(&self, _ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        Ok(self.principal.clone())
    }
}

/// Builder for [`EnvAuthProvider`].
#[derive(Debug, Clone)]
pub struct EnvAuthProviderBuilder {
    var: String,
    default_user: Option<String>,
}

impl Default for EnvAuthProviderBuilder {
    fn default() -> Self {
        Self { var: DEFAULT_USER_ID_VAR.to_owned(), default_user: Some(DEFAULT_USER_ID.to_owned()) }
    }
}

impl EnvAuthProviderBuilder {
    /// The variable to read (default `MCP_USER_ID`).
    pub fn var(mut self, name: impl Into<String>) -> Self {
        self.var = name.into();
        self
    }

    /// The user id when the variable is unset or empty (default `local-user`).
    pub fn default_user(mut self, user_id: impl Into<String>) -> Self {
        self.default_user = Some(user_id.into());
        self
    }

    /// Makes the variable mandatory: building fails when it is unset or empty.
    pub fn required(mut self) -> Self {
        self.default_user = None;
        self
    }

    /// Reads the variable and builds the provider.
    pub fn build(self) -> Result<EnvAuthProvider, ConfigError> {
        let from_env = std::env::var(&self.var).ok().filter(|v| !v.is_empty());
        let user_id = match (from_env, self.default_user) {
            (Some(user), _) => user,
            (None, Some(default)) => default,
            (None, None) => {
                return Err(ConfigError::missing(
                    self.var,
                    "the user id this process serves (the variable is required)",
                ));
            }
        };
        let principal =
            Principal::new(user_id.clone()).map_err(|_| invalid_user(&self.var, &user_id))?;
        Ok(EnvAuthProvider { principal })
    }
}

fn invalid_user(key: &str, value: &str) -> ConfigError {
    ConfigError::invalid(
        key,
        value,
        "a user id of 1 to 255 bytes without control or invisible formatting characters",
    )
}
