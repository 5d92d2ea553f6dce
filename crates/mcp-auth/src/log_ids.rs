//! How log lines name users: [`UserIdLogging`], and where the request id comes from.
//!
//! **Users.** A user id may be an e-mail address, or another identifier an operator's logs
//! should not hold. So every line of this crate that names a user gives a *tag* instead: the
//! first 8 bytes of HMAC-SHA256 of the user id under a key, in hex (16 characters). One key
//! gives one user one tag, on every line — grep for it — and without the key nobody can tell
//! whose tag it is by hashing guessed ids, as they could with a plain hash of an e-mail address.
//! [`UserIdLogging::with_raw_ids`] logs the ids themselves instead, for logs that may hold them.
//!
//! The default key is random, drawn once per process: tags are stable for the life of the
//! process, and differ after a restart and between replicas. Give a key of your own
//! ([`UserIdLogging::keyed`]) to keep them stable across both.
//!
//! The setting belongs to each component that logs users, so that nothing is process-global:
//! [`WrapServerBuilder::user_id_logging`](crate::WrapServerBuilder::user_id_logging) (the
//! security events, instances, stdio and HTTP transports of that server),
//! [`AuthenticatedServerBuilder::user_id_logging`](crate::tool::AuthenticatedServerBuilder::user_id_logging)
//! (the same, plus the [`with_logging`](crate::middleware::with_logging) layer of its tools,
//! through [`ToolContext`](crate::tool::ToolContext)), and
//! [`ApiTokenResolverBuilder::user_id_logging`](crate::credentials::ApiTokenResolverBuilder::user_id_logging).
//! Left alone they all use the process's default key, so they agree; give every one the same
//! value when you set a key.
//!
//! **Requests.** Every HTTP request the [`wrap_server`](crate::wrap_server) router serves has
//! an id: the client's `X-Request-ID` when it is 1 to 64 visible ASCII characters, else one
//! made here (a random per-process prefix and a counter). The response carries it in
//! `X-Request-ID`, the request's handling runs in a `request` span with a `request_id` field —
//! so every line logged while serving it carries the id — and
//! [`RequestContext::request_id`](crate::auth::RequestContext::request_id) returns it. See
//! [`crate::http`].

use std::{
    fmt,
    sync::{Arc, LazyLock},
};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// Bytes of the HMAC kept in a tag: 8 bytes, 16 hex digits.
const TAG_BYTES: usize = 8;

/// How log lines name a user: a keyed hash of the id (the default), or the id itself. Cheap to
/// clone. `Debug` never shows the key.
///
/// ```
/// use mcp_auth::{Secret, UserIdLogging};
/// let logging = UserIdLogging::keyed(&Secret::new("a key of at least 32 random bytes......"));
/// let tag = logging.tag("alice@example.com").to_string();
/// assert_eq!(tag.len(), 16);
/// assert_eq!(logging.tag("alice@example.com").to_string(), tag);
/// assert_eq!(logging.with_raw_ids(true).tag("alice@example.com").to_string(), "alice@example.com");
/// ```
#[derive(Clone)]
pub struct UserIdLogging {
    /// HMAC-SHA256 with the key already absorbed: a tag clones it and hashes only the id.
    mac: Arc<Hmac<Sha256>>,
    raw_ids: bool,
}

/// The process's random key, drawn on first use.
static PROCESS_DEFAULT: LazyLock<UserIdLogging> =
    LazyLock::new(|| UserIdLogging::from_key(&rand::random::<[u8; 32]>()));

impl Default for UserIdLogging {
    /// Tags under the process's random key: stable until the process exits.
    fn default() -> Self {
        PROCESS_DEFAULT.clone()
    }
}

impl UserIdLogging {
    /// Tags under `key`: the same user gets the same tag in every process given this key. Use
    /// at least 32 random bytes (`openssl rand -base64 32`), and keep it as secret as the logs'
    /// readers are many: with it, a tag can be checked against guessed ids.
    pub fn keyed(key: &Secret) -> Self {
        Self::from_key(key.expose().as_bytes())
    }

    fn from_key(key: &[u8]) -> Self {
        // HMAC takes a key of any length (RFC 2104 §2), so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        Self { mac: Arc::new(mac), raw_ids: false }
    }

    /// `true`: log user ids as they are instead of their tags (default `false`).
    pub fn with_raw_ids(mut self, raw_ids: bool) -> Self {
        self.raw_ids = raw_ids;
        self
    }

    /// Whether user ids are logged as they are.
    pub fn raw_ids(&self) -> bool {
        self.raw_ids
    }

    /// How logs name `user_id`: its tag, or the id itself with
    /// [`with_raw_ids`](Self::with_raw_ids). Computed only when displayed, so a field
    /// `user = %logging.tag(id)` costs nothing on a line nobody logs.
    pub fn tag<'a>(&'a self, user_id: &'a str) -> UserTag<'a> {
        UserTag { logging: self, user_id }
    }
}

impl fmt::Debug for UserIdLogging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserIdLogging")
            .field("key", &crate::secret::REDACTED)
            .field("raw_ids", &self.raw_ids)
            .finish()
    }
}

/// A user as log lines name them; see [`UserIdLogging::tag`].
#[derive(Clone, Copy)]
pub struct UserTag<'a> {
    logging: &'a UserIdLogging,
    user_id: &'a str,
}

impl fmt::Display for UserTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.logging.raw_ids {
            // User ids are validated free of control characters (`Principal::new`): a raw id
            // cannot forge a log line.
            return f.write_str(self.user_id);
        }
        let mut mac = (*self.logging.mac).clone();
        mac.update(self.user_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; TAG_BYTES * 2];
        for (i, byte) in digest[..TAG_BYTES].iter().enumerate() {
            text[2 * i] = HEX[usize::from(byte >> 4)];
            text[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for UserTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_16_hex_digits_of_hmac_sha256_under_the_key() {
        // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let logging = UserIdLogging::keyed(&Secret::new("Jefe"));
        assert_eq!(logging.tag("what do ya want for nothing?").to_string(), "5bdcc146bf60754e");
    }

    #[test]
    fn tags_are_stable_under_one_key_and_differ_under_another() {
        let (a, b) = (Secret::new("key-a"), Secret::new("key-b"));
        let tag = |key: &Secret, user: &str| UserIdLogging::keyed(key).tag(user).to_string();
        assert_eq!(tag(&a, "alice"), tag(&a, "alice"));
        assert_ne!(tag(&a, "alice"), tag(&b, "alice"));
        assert_ne!(tag(&a, "alice"), tag(&a, "bob"));
        let default = UserIdLogging::default();
        assert_eq!(
            default.tag("alice").to_string(),
            UserIdLogging::default().tag("alice").to_string()
        );
        assert_ne!(default.tag("alice").to_string(), tag(&a, "alice"));
    }

    #[test]
    fn raw_ids_are_logged_only_when_asked_and_the_key_never_printed() {
        let logging = UserIdLogging::keyed(&Secret::new("the-key-7f1c"));
        assert!(!logging.tag("alice").to_string().contains("alice"));
        assert_eq!(logging.clone().with_raw_ids(true).tag("alice").to_string(), "alice");
        assert!(!format!("{logging:?}").contains("the-key-7f1c"));
    }
}
