//! [`StoreError`]: why a store operation failed. Messages name the operation, the field or the
//! key id at fault; never a secret, and never a user id (those go to the audit log).

/// Why a [`CredentialStore`](super::CredentialStore) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed: the file cannot be opened, is locked past the busy timeout, is corrupt,
    /// or the disk is full.
    #[error("credential database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database file was migrated by a newer version of this crate.
    #[error(
        "the credential database has schema version {found}, newer than the {supported} this \
         program knows; upgrade the program"
    )]
    SchemaTooNew {
        /// The database's `user_version`.
        found: i64,
        /// The newest version this crate can use.
        supported: i64,
    },
    /// A stored row could not be decrypted: its key is missing from the keyring, or the row
    /// was tampered with or moved to another user or resource type. The row is left as it is.
    #[error("the stored `{resource_type}` credential (key `{key_id}`) cannot be opened: {reason}")]
    Undecryptable {
        /// The resource type of the row.
        resource_type: String,
        /// The key id the row names.
        key_id: String,
        /// Why, without any secret.
        reason: String,
    },
    /// An argument was refused before anything was stored.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument (`user_id`, `resource_type`, `scopes`, `access_token`, …).
        field: &'static str,
        /// What would be valid.
        reason: &'static str,
    },
    /// Sealing failed (never expected in practice).
    #[error("cannot encrypt the credential")]
    Seal,
    /// The blocking task running the SQLite work panicked or was cancelled.
    #[error("the credential store's worker task failed")]
    Worker,
}
