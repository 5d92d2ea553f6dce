//! [`SimpleTokenResolver`]: one credential for everybody, from an environment variable.

use std::collections::HashMap;

use super::{Credential, CredentialError, TokenResolver};
use crate::auth::Principal;

/// Resolves credentials from environment variables.
///
/// For a resource type it reads, in order: the variable mapped to that resource type with
/// [`resource_var`](Self::resource_var); else the variable set with
/// [`token_env_var`](Self::token_env_var); else `{RESOURCE_TYPE}_ACCESS_TOKEN`, upper-cased with
/// every character outside `[A-Z0-9]` turned into `_` (so `mock-api` reads
/// `MOCK_API_ACCESS_TOKEN`, a name a shell can export — the original produced `MOCK-API_…`).
/// The variable is read on every call, and an unset or empty one is
/// [`CredentialError::NotFound`].
///
/// ```
/// use mcp_auth::SimpleTokenResolver;
/// let resolver = SimpleTokenResolver::new().token_env_var("API_TOKEN");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimpleTokenResolver {
    token_env_var: Option<String>,
    resource_vars: HashMap<String, String>,
}

impl SimpleTokenResolver {
    /// A resolver using the `{RESOURCE_TYPE}_ACCESS_TOKEN` convention.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads this variable for every resource type that has no mapping of its own.
    pub fn token_env_var(mut self, var: impl Into<String>) -> Self {
        self.token_env_var = Some(var.into());
        self
    }

    /// Reads `var` for `resource_type`.
    pub fn resource_var(
        mut self,
        resource_type: impl Into<String>,
        var: impl Into<String>,
    ) -> Self {
        self.resource_vars.insert(resource_type.into(), var.into());
        self
    }

    /// The variable read for `resource_type`.
    pub fn var_for(&self, resource_type: &str) -> String {
        if let Some(var) = self.resource_vars.get(resource_type).or(self.token_env_var.as_ref()) {
            return var.clone();
        }
        let stem: String = resource_type
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect();
        format!("{stem}_ACCESS_TOKEN")
    }
}

#[async_trait::async_trait]
impl TokenResolver for SimpleTokenResolver {
    async fn resolve(
        &self,
        _principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        match std::env::var(self.var_for(resource_type)) {
            Ok(value) if !value.is_empty() => Ok(Credential::new(value)),
            _ => Err(CredentialError::NotFound { resource_type: resource_type.to_owned() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names() {
        let plain = SimpleTokenResolver::new();
        assert_eq!(plain.var_for("github"), "GITHUB_ACCESS_TOKEN");
        assert_eq!(plain.var_for("mock-api"), "MOCK_API_ACCESS_TOKEN");
        let configured = SimpleTokenResolver::new()
            .token_env_var("API_TOKEN")
            .resource_var("github", "GH_TOKEN");
        assert_eq!(configured.var_for("github"), "GH_TOKEN");
        assert_eq!(configured.var_for("myapi"), "API_TOKEN");
    }
}
