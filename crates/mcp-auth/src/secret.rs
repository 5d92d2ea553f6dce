//! [`Secret`]: a string that never prints itself.
//!
//! Every token, service token, resolved upstream credential and signing secret in this crate
//! travels as a `Secret`. Its `Debug` and `Display` print `[redacted]`, so a stray `{:?}` in a log
//! line, an error message or a panic cannot leak it. The bytes are zeroed when the last clone is
//! dropped (via [`secrecy`]). Clones are cheap: they share one allocation.

use std::{fmt, sync::Arc};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// What a redacted value prints as, everywhere in this crate.
pub const REDACTED: &str = "[redacted]";

/// A secret string: a bearer token, an API key, an upstream credential or a signing secret.
///
/// ```
/// use mcp_auth::Secret;
/// let token = Secret::new("ghp_very_secret");
/// assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
/// assert_eq!(token.expose(), "ghp_very_secret");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<SecretString>);

impl Secret {
    /// Wraps a value. Prefer moving a `String` in, so that no unzeroed copy is left behind.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::new(SecretString::from(value.into())))
    }

    /// The secret value itself. Call this only where the value is about to be used (a header
    /// being built, a signature being checked), never to log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// True when the secret is the empty string (static mode passes an empty access token).
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Constant-time comparison, so that checking a presented API key against a stored one does not
/// leak how many leading bytes matched.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}

impl Eq for Secret {}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2");
        let printed = format!("{secret:?} {secret} {:?}", Some(secret.clone()));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn equality_compares_the_values() {
        assert_eq!(Secret::new("a-key"), Secret::new("a-key"));
        assert_ne!(Secret::new("a-key"), Secret::new("a-kez"));
        assert_ne!(Secret::new("a-key"), Secret::new("a-key-longer"));
    }
}
