//! [`Keyring`]: the AES-256 keys the store seals credentials with, each under a short key id, one
//! of them current.
//!
//! Every row records the id of the key that sealed it, so keys can be rotated online: add a new
//! key, mark it current, restart, then re-encrypt the rows still under the old one
//! ([`CredentialStore::rotate_key`](crate::CredentialStore::rotate_key)); the old key can be
//! dropped from the keyring once no row uses it.
//!
//! # The keyring format
//!
//! The same text is accepted from an environment variable and from a file:
//!
//! ```text
//! # one entry per line, or several on a line separated by commas
//! *k2:<32 random bytes in base64, from `openssl rand -base64 32`>
//! k1:<the previous key, kept until no row uses it>
//! ```
//!
//! - an entry is `ID:KEY`: `ID` is 1 to 32 ASCII letters, digits, `-` or `_`; `KEY` is exactly
//!   32 bytes in standard base64 (with padding; `openssl rand -base64 32` makes one);
//! - the entry marked with a leading `*` is current; without a mark, the first entry is;
//! - blank lines, whitespace around entries and lines starting with `#` are ignored.
//!
//! Errors name the entry (by position and, once known, id) and what is wrong with it; they
//! never quote key material.

use std::{fmt, path::Path};

use aes_gcm::{Aes256Gcm, KeyInit, aead::OsRng};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use zeroize::Zeroizing;

/// Bytes in a key: AES-256.
pub const KEY_LEN: usize = 32;
/// Longest key id accepted, in bytes. Ids are stored in every row and bound into its
/// associated data, so they are kept short.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Why a keyring could not be loaded. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The environment variable is not set, or is not valid UTF-8.
    #[error(
        "the environment variable `{var}` is not set (or is not UTF-8); it must hold the keyring"
    )]
    MissingEnv {
        /// The variable's name.
        var: String,
    },
    /// The key file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    File {
        /// The file's path.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The text holds no entry at all.
    #[error("the keyring holds no key (expected `ID:BASE64KEY` entries)")]
    Empty,
    /// An entry is not of the form `ID:KEY`, or its id is not acceptable.
    #[error("keyring entry {position}: {reason}")]
    Malformed {
        /// The entry's position, from 1.
        position: usize,
        /// What is wrong, without the entry's text.
        reason: &'static str,
    },
    /// A key is not valid base64, or does not decode to 32 bytes.
    #[error("key `{id}`: {reason}")]
    BadKey {
        /// The key's id.
        id: String,
        /// What is wrong, without the key.
        reason: &'static str,
    },
    /// Two entries have the same id.
    #[error("key id `{id}` appears more than once")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// More than one entry is marked current.
    #[error("more than one key is marked current with `*` (at most one may be)")]
    SeveralCurrent,
}

/// One AES-256 key; its bytes are wiped when dropped and never printed.
#[derive(Clone)]
pub(crate) struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// The cipher for this key.
    pub(crate) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }
}

/// The keys the store seals and opens credentials with, by key id; one is current.
///
/// `Debug` lists the ids and which is current, never the keys.
///
/// ```
/// use mcp_auth_store::Keyring;
/// let keyring = Keyring::parse("*k2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")?;
/// assert_eq!(keyring.current_id(), "k2");
/// assert_eq!(keyring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
/// assert!(!format!("{keyring:?}").contains("AAAA"));
/// # Ok::<(), mcp_auth_store::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, Key)>,
    current: usize,
}

impl Keyring {
    /// Parses the [keyring format](self#the-keyring-format).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, Key)> = Vec::new();
        let mut current = None;
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let position = index + 1;
            let (marked, entry) = match entry.strip_prefix('*') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, entry),
            };
            let Some((id, encoded)) = entry.split_once(':') else {
                return Err(KeyError::Malformed { position, reason: "expected `ID:BASE64KEY`" });
            };
            let id = id.trim();
            check_id(id).map_err(|reason| KeyError::Malformed { position, reason })?;
            if keys.iter().any(|(known, _)| known == id) {
                return Err(KeyError::DuplicateId { id: id.to_owned() });
            }
            let key = decode_key(encoded.trim())
                .map_err(|reason| KeyError::BadKey { id: id.to_owned(), reason })?;
            if marked {
                if current.is_some() {
                    return Err(KeyError::SeveralCurrent);
                }
                current = Some(keys.len());
            }
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys, current: current.unwrap_or(0) })
    }

    /// Reads the keyring from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, KeyError> {
        let text = Zeroizing::new(
            std::env::var(var).map_err(|_| KeyError::MissingEnv { var: var.to_owned() })?,
        );
        Self::parse(&text)
    }

    /// Reads the keyring from a file (keep it readable by the service's user only).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|source| KeyError::File { path: path.display().to_string(), source })?,
        );
        Self::parse(&text)
    }

    /// A keyring of one fresh random key, `k1`, drawn from the operating system's RNG.
    pub fn generate() -> Self {
        Self { keys: vec![("k1".to_owned(), random_key())], current: 0 }
    }

    /// This keyring plus a fresh random key under `id`, which becomes current: the first step
    /// of a key rotation.
    pub fn with_generated_key(mut self, id: &str) -> Result<Self, KeyError> {
        check_id(id)
            .map_err(|reason| KeyError::Malformed { position: self.keys.len() + 1, reason })?;
        if self.get(id).is_some() {
            return Err(KeyError::DuplicateId { id: id.to_owned() });
        }
        self.keys.insert(0, (id.to_owned(), random_key()));
        self.current = 0;
        Ok(self)
    }

    /// The keyring in its own [format](self#the-keyring-format), the current key first and
    /// marked, one entry per line: what an operator puts in the env var or file. It is key
    /// material, hence a [`mcp_auth::Secret`].
    pub fn export(&self) -> mcp_auth::Secret {
        let mut text = String::new();
        for (index, (id, key)) in self.ordered().enumerate() {
            let mark = if index == 0 { "*" } else { "" };
            text.push_str(&format!("{mark}{id}:{}\n", STANDARD.encode(key.0.as_ref())));
        }
        mcp_auth::Secret::new(text)
    }

    /// The id of the key new credentials are sealed with.
    pub fn current_id(&self) -> &str {
        &self.keys[self.current].0
    }

    /// Every key id, the current one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ordered().map(|(id, _)| id.as_str())
    }

    /// True when the keyring holds a key with this id.
    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn current(&self) -> (&str, &Key) {
        let (id, key) = &self.keys[self.current];
        (id, key)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|(known, _)| known == id).map(|(_, key)| key)
    }

    fn ordered(&self) -> impl Iterator<Item = &(String, Key)> {
        let current = &self.keys[self.current];
        std::iter::once(current)
            .chain(self.keys.iter().enumerate().filter(|(i, _)| *i != self.current).map(|(_, k)| k))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current_id())
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

/// Accepts `[A-Za-z0-9_-]{1,32}`.
fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN {
        return Err("the key id must be 1 to 32 characters");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err("the key id may hold only ASCII letters, digits, `-` and `_`");
    }
    Ok(())
}

fn decode_key(encoded: &str) -> Result<Key, &'static str> {
    let bytes = Zeroizing::new(
        STANDARD.decode(encoded).map_err(|_| "the key is not valid standard base64")?,
    );
    let array: [u8; KEY_LEN] =
        bytes.as_slice().try_into().map_err(|_| "the key must decode to exactly 32 bytes")?;
    Ok(Key(Zeroizing::new(array)))
}

fn random_key() -> Key {
    let key = Aes256Gcm::generate_key(OsRng);
    Key(Zeroizing::new(key.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const B: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    #[test]
    fn the_first_entry_is_current_unless_one_is_marked() {
        let ring = Keyring::parse(&format!("k1:{A}\nk2:{B}")).unwrap();
        assert_eq!(ring.current_id(), "k1");
        let ring = Keyring::parse(&format!("# comment\n k1:{A} , *k2:{B}\n\n")).unwrap();
        assert_eq!(ring.current_id(), "k2");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
    }

    #[test]
    fn export_parses_back_to_the_same_keys() {
        let ring = Keyring::generate().with_generated_key("k2").unwrap();
        let again = Keyring::parse(ring.export().expose()).unwrap();
        assert_eq!(again.current_id(), "k2");
        for id in ["k1", "k2"] {
            assert_eq!(ring.get(id).unwrap().0, again.get(id).unwrap().0);
        }
    }

    #[test]
    fn errors_name_the_problem_but_never_the_key() {
        let short = "c2hvcnQga2V5IG1hdGVyaWFs"; // "short key material"
        let cases = [
            (String::new(), "no key"),
            (format!("k1{A}"), "entry 1"),
            (format!("k1:{A}\nk 2:{B}"), "entry 2"),
            (format!("k1:{short}"), "exactly 32 bytes"),
            ("k1:not base64!".to_owned(), "base64"),
            (format!("k1:{A},k1:{B}"), "more than once"),
            (format!("*k1:{A},*k2:{B}"), "more than one key"),
        ];
        for (text, expected) in cases {
            let message = Keyring::parse(&text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text:?}: {message}");
            for material in [A, B, short, "not base64"] {
                assert!(!message.contains(material), "{message}");
            }
        }
    }

    #[test]
    fn debug_lists_ids_only() {
        let ring = Keyring::parse(&format!("k1:{A}")).unwrap();
        let printed = format!("{ring:?}");
        assert!(printed.contains("k1") && !printed.contains("AAAA"), "{printed}");
    }
}
