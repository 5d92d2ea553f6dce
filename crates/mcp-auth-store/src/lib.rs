//! # mcp-auth-store
//!
//! The tenant manager, built in: an encrypted per-user credential store for
//! [mcp-auth](mcp_auth), and the HTTP API the original TypeScript package's tenant manager
//! served.
//!
//! Where it sits in the request path: after authentication, mcp-auth asks a
//! [`TokenResolver`](mcp_auth::TokenResolver) for the caller's upstream credential. That
//! resolver is either
//!
//! - [`StoreTokenResolver`], reading this store in-process, or
//! - [`mcp_auth::ApiTokenResolver`], calling [`service`]'s `GET /api/credentials/{user}/{resource}`
//!   on a tenant manager built from this crate (or any other that speaks the contract).
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | the [`Keyring`]: AES-256 keys by key id, one current; its text format |
//! | `seal` | AES-256-GCM sealing of a credential's secrets, bound to user, resource and key id |
//! | [`store`] | the [`CredentialStore`]: SQLite, migrations, audit log, key rotation |
//! | [`resolver`] | [`StoreTokenResolver`] and the [`Refresher`] seam |
//! | [`service`] | the tenant-manager and admin HTTP API, as an axum `Router` |
//! | [`oauth`] | OAuth 2.1 "connect" ([`OAuthConnector`](oauth::OAuthConnector)) and refresh ([`OAuthRefresher`](oauth::OAuthRefresher)) of upstream credentials |
//!
//! The database file never holds a secret in the clear; see [`store`] for the layout.

pub mod keys;
pub mod oauth;
pub mod resolver;
mod seal;
pub mod service;
pub mod store;

#[doc(inline)]
pub use self::{
    keys::{KeyError, Keyring},
    resolver::{Refresher, StoreTokenResolver},
    service::TenantManagerService,
    store::{
        AuditRetention, CredentialInfo, CredentialStatus, CredentialStore, Lookup, NewCredential,
        RotationReport, StoreError, StoredCredential,
    },
};
