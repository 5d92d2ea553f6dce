//! What the credential cache stores in Redis: a credential sealed with AES-256-GCM under the
//! [`CacheKey`] every replica shares, so that whoever reads Redis (a dump, a replica, `MONITOR`)
//! learns no secret.
//!
//! The stored value is
//!
//! ```text
//! format version (1 byte) ‖ nonce (12 random bytes) ‖ AES-256-GCM ciphertext and tag
//! ```
//!
//! and the plaintext inside it, held in buffers wiped after use,
//!
//! ```text
//! fresh_until (u64 BE, ms since the epoch) ‖ has_expiry (0 or 1) ‖ expires_at (u64 BE, ms)
//!   ‖ the secret (UTF-8)
//! ```
//!
//! `fresh_until` is when the writer's Redis TTL ends: a replica that reads the value keeps it
//! in its local tier no longer than that, so no replica serves a credential longer than the
//! cache TTL after the tenant manager gave it. `expires_at` is the credential's own expiry.
//!
//! The associated data (authenticated, not stored) is `"mcp-auth-redis/credential-cache" ‖
//! version ‖ the Redis key`. The key names the user (by hash) and the resource type, so a value
//! copied to another user's key fails to open instead of handing one user's token to another.
//!
//! Nonces are random (the OS RNG): at 96 bits, a key stays well within NIST SP 800-38D §8.3's
//! 2^32-seals bound for a cache written once per user and TTL; rotating the key resets it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::{
    AeadCore, Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, OsRng, Payload},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use mcp_auth::{Credential, Secret};
use zeroize::Zeroizing;

/// The version of the sealed format: the first stored byte, and bound into the associated data.
const FORMAT_VERSION: u8 = 1;
/// Separates this use of the key from any other.
const AAD_DOMAIN: &[u8] = b"mcp-auth-redis/credential-cache";
/// Bytes in an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Bytes of the plaintext before the secret.
const HEADER_LEN: usize = 8 + 1 + 8;
/// Bytes in an AES-256 key.
pub const CACHE_KEY_LEN: usize = 32;

/// The AES-256 key the credential cache seals values with: 32 bytes, the same on every replica.
/// Its bytes are wiped when dropped and never printed.
///
/// ```
/// use mcp_auth_redis::CacheKey;
/// // `openssl rand -base64 32`
/// let key = CacheKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")?;
/// assert_eq!(format!("{key:?}"), "CacheKey([redacted])");
/// assert!(CacheKey::from_base64("c2hvcnQ=").is_err());
/// # Ok::<(), mcp_auth_redis::CacheKeyError>(())
/// ```
#[derive(Clone)]
pub struct CacheKey(Zeroizing<[u8; CACHE_KEY_LEN]>);

/// Why a [`CacheKey`] could not be read. Never quotes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheKeyError {
    /// The text is not standard base64 (with padding).
    #[error("the key is not standard base64 (make one with `openssl rand -base64 32`)")]
    NotBase64,
    /// The text decodes to the wrong number of bytes.
    #[error("the key decodes to {bytes} bytes, not 32 (make one with `openssl rand -base64 32`)")]
    WrongLength {
        /// How many bytes it decodes to.
        bytes: usize,
    },
}

impl CacheKey {
    /// The key of these 32 bytes.
    pub fn new(bytes: [u8; CACHE_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key in standard base64 (what `openssl rand -base64 32` prints), surrounding
    /// whitespace ignored.
    pub fn from_base64(text: &str) -> Result<Self, CacheKeyError> {
        let bytes =
            Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| CacheKeyError::NotBase64)?);
        let array = <[u8; CACHE_KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| CacheKeyError::WrongLength { bytes: bytes.len() })?;
        Ok(Self::new(array))
    }

    /// A random key from the OS RNG (for tests and single-process use: replicas must share one).
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        let mut bytes = [0; CACHE_KEY_LEN];
        bytes.copy_from_slice(&key);
        Self::new(bytes)
    }

    /// The cipher for this key.
    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }
}

impl From<[u8; CACHE_KEY_LEN]> for CacheKey {
    fn from(bytes: [u8; CACHE_KEY_LEN]) -> Self {
        Self::new(bytes)
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey([redacted])")
    }
}

/// What a sealed value holds, in the clear (in memory only).
#[derive(Debug, Clone)]
pub(super) struct Opened {
    pub(super) credential: Credential,
    /// When the writer's Redis TTL ends.
    pub(super) fresh_until: SystemTime,
}

/// Why a stored value could not be opened. Never carries the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum OpenError {
    /// Another format version, or too short to hold a nonce and a tag.
    #[error("not a sealed credential of format version 1")]
    Format,
    /// Authentication failed: another key, tampered bytes, or a value moved to another key.
    #[error("the ciphertext does not authenticate (another key, tampered, or moved)")]
    Authentication,
    /// Authenticated, but not the expected plaintext (a bug on the writer's side).
    #[error("the decrypted payload is not a credential")]
    Payload,
}

/// The associated data of a value stored at `redis_key`.
fn associated_data(redis_key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 1 + redis_key.len());
    aad.extend_from_slice(AAD_DOMAIN);
    aad.push(FORMAT_VERSION);
    aad.extend_from_slice(redis_key.as_bytes());
    aad
}

/// Seals `credential`, cached until `fresh_until`, for `redis_key`.
pub(super) fn seal(
    cipher: &Aes256Gcm,
    redis_key: &str,
    credential: &Credential,
    fresh_until: SystemTime,
) -> Vec<u8> {
    let secret = credential.secret().expose().as_bytes();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(HEADER_LEN + secret.len()));
    plaintext.extend_from_slice(&epoch_millis(fresh_until).to_be_bytes());
    let expiry = credential.expires_at();
    plaintext.push(u8::from(expiry.is_some()));
    plaintext.extend_from_slice(&expiry.map_or(0, epoch_millis).to_be_bytes());
    plaintext.extend_from_slice(secret);
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = associated_data(redis_key);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: &plaintext, aad: &aad })
        // Fails only for plaintexts beyond 64 GiB.
        .expect("AES-GCM seals any credential-sized plaintext");
    let mut stored = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    stored.push(FORMAT_VERSION);
    stored.extend_from_slice(&nonce);
    stored.extend_from_slice(&ciphertext);
    stored
}

/// Opens a value read from `redis_key`.
pub(super) fn open(
    cipher: &Aes256Gcm,
    redis_key: &str,
    stored: &[u8],
) -> Result<Opened, OpenError> {
    let Some((&FORMAT_VERSION, rest)) = stored.split_first() else {
        return Err(OpenError::Format);
    };
    // A nonce and at least the 16-byte tag.
    if rest.len() < NONCE_LEN + 16 {
        return Err(OpenError::Format);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let aad = associated_data(redis_key);
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| OpenError::Authentication)?,
    );
    if plaintext.len() < HEADER_LEN {
        return Err(OpenError::Payload);
    }
    let (header, secret) = plaintext.split_at(HEADER_LEN);
    let millis = |bytes: &[u8]| {
        let array = <[u8; 8]>::try_from(bytes).expect("8 bytes");
        UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(array))
    };
    let fresh_until = millis(&header[..8]);
    let expires_at = match header[8] {
        0 => None,
        1 => Some(millis(&header[9..])),
        _ => return Err(OpenError::Payload),
    };
    let secret = std::str::from_utf8(secret).map_err(|_| OpenError::Payload)?;
    let mut credential = Credential::new(Secret::new(secret));
    if let Some(at) = expires_at {
        credential = credential.with_expiry(at);
    }
    Ok(Opened { credential, fresh_until })
}

/// Milliseconds since the epoch, rounded down (an expiry a little early, never late); 0 before.
fn epoch_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ghp_cached_secret_1234567890";
    const KEY: &str = "mcp-auth:cred:github:0123456789abcdef0123456789abcdef";

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    fn credential() -> Credential {
        Credential::new(SECRET).with_expiry(UNIX_EPOCH + Duration::from_millis(1_893_456_000_123))
    }

    #[test]
    fn a_sealed_credential_opens_to_the_same_secret_expiry_and_freshness() {
        let cipher = CacheKey::generate().cipher();
        let fresh_until = UNIX_EPOCH + Duration::from_millis(1_800_000_000_456);
        let stored = seal(&cipher, KEY, &credential(), fresh_until);
        let opened = open(&cipher, KEY, &stored).unwrap();
        assert_eq!(opened.credential, credential());
        assert_eq!(opened.fresh_until, fresh_until);
        let bare = seal(&cipher, KEY, &Credential::new(SECRET), fresh_until);
        assert_eq!(open(&cipher, KEY, &bare).unwrap().credential.expires_at(), None);
    }

    #[test]
    fn another_key_another_redis_key_or_tampering_does_not_open() {
        let cipher = CacheKey::generate().cipher();
        let stored = seal(&cipher, KEY, &credential(), SystemTime::now());
        let other = CacheKey::generate().cipher();
        assert_eq!(open(&other, KEY, &stored).unwrap_err(), OpenError::Authentication);
        let moved = KEY.replace("0123", "3210");
        assert_eq!(open(&cipher, &moved, &stored).unwrap_err(), OpenError::Authentication);
        for index in [1, 13, stored.len() / 2, stored.len() - 1] {
            let mut tampered = stored.clone();
            tampered[index] ^= 0x01;
            assert_eq!(open(&cipher, KEY, &tampered).unwrap_err(), OpenError::Authentication);
        }
        let mut version = stored.clone();
        version[0] = 2;
        assert_eq!(open(&cipher, KEY, &version).unwrap_err(), OpenError::Format);
        assert_eq!(open(&cipher, KEY, &stored[..20]).unwrap_err(), OpenError::Format);
        assert_eq!(open(&cipher, KEY, b"").unwrap_err(), OpenError::Format);
    }

    #[test]
    fn the_sealed_form_never_contains_the_secret_and_nonces_differ() {
        let cipher = CacheKey::generate().cipher();
        let first = seal(&cipher, KEY, &credential(), SystemTime::now());
        let second = seal(&cipher, KEY, &credential(), SystemTime::now());
        for stored in [&first, &second] {
            assert!(!contains(stored, SECRET.as_bytes()));
            assert!(!contains(stored, b"ghp_"));
        }
        assert_ne!(first[1..13], second[1..13]);
    }

    #[test]
    fn keys_are_read_from_base64_of_exactly_32_bytes() {
        assert!(CacheKey::from_base64(" AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").is_ok());
        assert_eq!(CacheKey::from_base64("not base64!").unwrap_err(), CacheKeyError::NotBase64);
        assert_eq!(
            CacheKey::from_base64("AQEBAQ==").unwrap_err(),
            CacheKeyError::WrongLength { bytes: 4 }
        );
        let error = CacheKey::from_base64("c2VjcmV0LXZhbHVl").unwrap_err().to_string();
        assert!(!error.contains("c2VjcmV0"), "{error}");
    }
}
