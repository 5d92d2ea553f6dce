//! # mcp-auth-store
//!
//! The tenant manager, built in: an encrypted per-user credential store for
//! [mcp-auth](mcp_auth), and the HTTP API the original TypeScript package's tenant manager
//! served.
//!
//! The in-process resolver and the HTTP API are the next steps.
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | the [`Keyring`]: AES-256 keys by key id, one current; its text format |
//! | `seal` | AES-256-GCM sealing of a credential's secrets, bound to user, resource and key id |
//! | [`store`] | the [`CredentialStore`]: SQLite, migrations, audit log, key rotation |
//!
//! The database file never holds a secret in the clear; see [`store`] for the layout.

pub mod keys;
mod seal;
pub mod store;

#[doc(inline)]
pub use self::{
    keys::{KeyError, Keyring},
    store::{
        CredentialInfo, CredentialStatus, CredentialStore, Lookup, NewCredential, RotationReport,
        StoreError, StoredCredential,
    },
};
