//! [`UserHash`]: how a user id becomes part of a Redis key — the first 128 bits of an
//! HMAC-SHA256 of the id, in hex — so that Redis never holds a user id in the clear and `SCAN`
//! shows no one's e-mail address. Shared by the rate limiter's and the credential cache's keys.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The HMAC key when none is given (`with_hash_key`). Public, so the hash is only as good as a
/// plain SHA-256 against someone who can guess ids; but every replica agrees on it without
/// configuration. (Named after the rate limit, its first user: changing it would move every
/// existing key.)
const DEFAULT_HASH_KEY: &[u8] = b"mcp-auth-redis rate limit v1";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes of the HMAC kept in a key: 128 bits, plenty against collisions among user ids.
const KEPT_BYTES: usize = 16;

/// An HMAC-SHA256 key that turns user ids into key segments.
#[derive(Clone)]
pub(crate) struct UserHash(Hmac<Sha256>);

impl Default for UserHash {
    fn default() -> Self {
        Self::new(DEFAULT_HASH_KEY)
    }
}

impl UserHash {
    /// Hashes under `key` (any length); every replica must be given the same key.
    pub(crate) fn new(key: &[u8]) -> Self {
        Self(Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length"))
    }

    /// `base` followed by the hex of the first 128 bits of HMAC-SHA256(`user_id`).
    pub(crate) fn key(&self, base: &str, user_id: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(user_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = String::with_capacity(base.len() + 2 * KEPT_BYTES);
        key.push_str(base);
        for byte in &digest[..KEPT_BYTES] {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_base_and_32_hex_digits_that_depend_on_id_and_key() {
        let hash = UserHash::default();
        let alice = hash.key("p:", "alice@example.com");
        assert_eq!(alice.len(), 2 + 32);
        assert!(alice.starts_with("p:"));
        assert!(alice[2..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(!alice.contains("alice"));
        assert_eq!(alice, hash.key("p:", "alice@example.com"));
        assert_ne!(alice, hash.key("p:", "bob@example.com"));
        assert_ne!(alice, UserHash::new(b"another key").key("p:", "alice@example.com"));
    }
}
