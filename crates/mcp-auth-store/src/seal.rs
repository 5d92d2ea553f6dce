//! Sealing a credential's secrets for the database: AES-256-GCM, a random 96-bit nonce per seal,
//! and associated data that binds the ciphertext to its row.
//!
//! The plaintext is one small JSON object, `{"a": access_token, "r": refresh_token}` (`r` left
//! out when there is none), held in buffers that are wiped after use.
//!
//! The associated data (authenticated, not encrypted, not stored) is
//!
//! ```text
//! "mcp-auth-store/credential" ‖ format version (1 byte)
//!   ‖ len(user_id) ‖ user_id ‖ len(resource_type) ‖ resource_type ‖ len(key_id) ‖ key_id
//! ```
//!
//! with each length a big-endian `u32`, so that `("ab", "c")` and `("a", "bc")` differ. A row
//! whose ciphertext is copied or moved to another user, another resource type, or relabelled
//! with another key id therefore fails to open instead of handing one user's token to another.
//! The format version is not stored: every row so far is version 1, and a future version will
//! come with a migration that adds the column (defaulting to 1).
//!
//! Nonces are random (the OS RNG through `aead::OsRng`): at 96 bits, a key stays well within
//! NIST SP 800-38D §8.3's 2^32-seals bound for any credential store this crate is meant for;
//! rotating the key resets the count.

use aes_gcm::{
    AeadCore, Aes256Gcm, Nonce,
    aead::{Aead, OsRng, Payload},
};
use mcp_auth::Secret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::Keyring;

/// The version of the sealed format, bound into the associated data.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Separates this use of the keys from any other.
const AAD_DOMAIN: &[u8] = b"mcp-auth-store/credential";
/// Bytes in an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// The secrets of one credential, in the clear (in memory only).
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    pub(crate) access_token: Secret,
    pub(crate) refresh_token: Option<Secret>,
}

/// What the database holds for the secrets of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) key_id: String,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

/// Why a row could not be opened (or, never in practice, sealed). Never carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SealError {
    /// The row names a key id the keyring does not hold.
    #[error("the keyring has no key with the row's key id")]
    UnknownKey,
    /// Authentication failed: wrong key, tampered ciphertext, or a row moved to another user,
    /// resource type or key id.
    #[error("the ciphertext does not authenticate (tampered, moved to another row, or wrong key)")]
    Authentication,
    /// The nonce column does not hold 12 bytes.
    #[error("the stored nonce is not 12 bytes")]
    BadNonce,
    /// The plaintext authenticated but is not the expected JSON (a bug or a future format).
    #[error("the decrypted payload is not a credential")]
    Payload,
    /// Encryption failed (only on absurd plaintext sizes).
    #[error("encryption failed")]
    Encrypt,
}

#[derive(Serialize)]
struct PlainOut<'a> {
    a: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    r: Option<&'a str>,
}

#[derive(Deserialize)]
struct PlainIn {
    a: String,
    #[serde(default)]
    r: Option<String>,
}

/// The associated data of the row `(user_id, resource_type)` sealed under `key_id`.
fn associated_data(user_id: &str, resource_type: &str, key_id: &str) -> Vec<u8> {
    let fields = [user_id, resource_type, key_id];
    let mut aad = Vec::with_capacity(
        AAD_DOMAIN.len() + 1 + fields.iter().map(|f| 4 + f.len()).sum::<usize>(),
    );
    aad.extend_from_slice(AAD_DOMAIN);
    aad.push(FORMAT_VERSION);
    for field in fields {
        // Ids are at most a few hundred bytes (validated by the store), far below u32::MAX.
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

/// Seals `secrets` for the row `(user_id, resource_type)` under the keyring's current key.
pub(crate) fn seal(
    keyring: &Keyring,
    user_id: &str,
    resource_type: &str,
    secrets: &Secrets,
) -> Result<Sealed, SealError> {
    let (key_id, key) = keyring.current();
    let plaintext = Zeroizing::new(
        serde_json::to_vec(&PlainOut {
            a: secrets.access_token.expose(),
            r: secrets.refresh_token.as_ref().map(Secret::expose),
        })
        .map_err(|_| SealError::Encrypt)?,
    );
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = associated_data(user_id, resource_type, key_id);
    let ciphertext = key
        .cipher()
        .encrypt(&nonce, Payload { msg: &plaintext, aad: &aad })
        .map_err(|_| SealError::Encrypt)?;
    Ok(Sealed { key_id: key_id.to_owned(), nonce: nonce.to_vec(), ciphertext })
}

/// Opens the sealed secrets of the row `(user_id, resource_type)`.
pub(crate) fn open(
    keyring: &Keyring,
    user_id: &str,
    resource_type: &str,
    sealed: &Sealed,
) -> Result<Secrets, SealError> {
    let key = keyring.get(&sealed.key_id).ok_or(SealError::UnknownKey)?;
    if sealed.nonce.len() != NONCE_LEN {
        return Err(SealError::BadNonce);
    }
    let aad = associated_data(user_id, resource_type, &sealed.key_id);
    let plaintext = Zeroizing::new(
        key.cipher()
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload { msg: &sealed.ciphertext, aad: &aad },
            )
            .map_err(|_| SealError::Authentication)?,
    );
    let PlainIn { a, r } = serde_json::from_slice(&plaintext).map_err(|_| SealError::Payload)?;
    Ok(Secrets { access_token: Secret::new(a), refresh_token: r.map(Secret::new) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = "ghp_access_token_1234567890";
    const REFRESH: &str = "ghr_refresh_token_0987654321";

    fn secrets() -> Secrets {
        Secrets { access_token: Secret::new(ACCESS), refresh_token: Some(Secret::new(REFRESH)) }
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
    }

    #[test]
    fn a_sealed_credential_opens_to_the_same_secrets() {
        let keyring = Keyring::generate();
        let sealed = seal(&keyring, "alice", "github", &secrets()).unwrap();
        let opened = open(&keyring, "alice", "github", &sealed).unwrap();
        assert_eq!(opened.access_token.expose(), ACCESS);
        assert_eq!(opened.refresh_token.unwrap().expose(), REFRESH);

        let bare = Secrets { access_token: Secret::new(ACCESS), refresh_token: None };
        let sealed = seal(&keyring, "alice", "github", &bare).unwrap();
        assert!(open(&keyring, "alice", "github", &sealed).unwrap().refresh_token.is_none());
    }

    #[test]
    fn another_user_resource_or_key_id_does_not_open() {
        let keyring = Keyring::generate().with_generated_key("k2").unwrap();
        let sealed = seal(&keyring, "alice", "github", &secrets()).unwrap();
        assert_eq!(sealed.key_id, "k2");
        assert_eq!(
            open(&keyring, "bob", "github", &sealed).unwrap_err(),
            SealError::Authentication
        );
        assert_eq!(
            open(&keyring, "alice", "gitlab", &sealed).unwrap_err(),
            SealError::Authentication
        );
        // The fields are length-prefixed: shifting a byte from one to the other is a change.
        assert_eq!(
            open(&keyring, "alicegit", "hub", &sealed).unwrap_err(),
            SealError::Authentication
        );
        // Relabelled with another key id that the keyring does hold.
        let relabelled = Sealed { key_id: "k1".into(), ..sealed.clone() };
        assert_eq!(
            open(&keyring, "alice", "github", &relabelled).unwrap_err(),
            SealError::Authentication
        );
        let unknown = Sealed { key_id: "k9".into(), ..sealed };
        assert_eq!(open(&keyring, "alice", "github", &unknown).unwrap_err(), SealError::UnknownKey);
    }

    #[test]
    fn length_prefixes_keep_split_points_apart() {
        assert_ne!(associated_data("ab", "c", "k1"), associated_data("a", "bc", "k1"));
        assert_ne!(associated_data("a", "b", "ck1"), associated_data("a", "bc", "k1"));
    }

    #[test]
    fn a_tampered_ciphertext_or_nonce_does_not_open() {
        let keyring = Keyring::generate();
        let sealed = seal(&keyring, "alice", "github", &secrets()).unwrap();
        for index in [0, sealed.ciphertext.len() / 2, sealed.ciphertext.len() - 1] {
            let mut tampered = sealed.clone();
            tampered.ciphertext[index] ^= 0x01;
            assert_eq!(
                open(&keyring, "alice", "github", &tampered).unwrap_err(),
                SealError::Authentication
            );
        }
        let mut tampered = sealed.clone();
        tampered.nonce[0] ^= 0x01;
        assert_eq!(
            open(&keyring, "alice", "github", &tampered).unwrap_err(),
            SealError::Authentication
        );
        let short = Sealed { nonce: vec![0; 8], ..sealed };
        assert_eq!(open(&keyring, "alice", "github", &short).unwrap_err(), SealError::BadNonce);
    }

    #[test]
    fn another_key_does_not_open() {
        let sealed = seal(&Keyring::generate(), "alice", "github", &secrets()).unwrap();
        let other = Keyring::generate();
        assert_eq!(
            open(&other, "alice", "github", &sealed).unwrap_err(),
            SealError::Authentication
        );
    }

    #[test]
    fn the_sealed_form_never_contains_the_plaintext_and_nonces_differ() {
        let keyring = Keyring::generate();
        let first = seal(&keyring, "alice", "github", &secrets()).unwrap();
        let second = seal(&keyring, "alice", "github", &secrets()).unwrap();
        for sealed in [&first, &second] {
            for needle in [ACCESS, REFRESH, "ghp_", "ghr_"] {
                assert!(!contains(&sealed.ciphertext, needle), "{needle}");
                assert!(!contains(&sealed.nonce, needle), "{needle}");
            }
        }
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
    }
}
