//! # mcp-auth-store
//!
//! The tenant manager, built in: an encrypted per-user credential store for
//! [mcp-auth](mcp_auth). This first step holds the [`Keyring`] and the sealing of a
//! credential's secrets (AES-256-GCM, bound to user, resource type and key id); the store, the
//! in-process resolver and the HTTP API follow.

pub mod keys;
#[allow(dead_code)] // used by the store, next
mod seal;

#[doc(inline)]
pub use self::keys::{KeyError, Keyring};
