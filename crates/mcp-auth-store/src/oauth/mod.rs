//! OAuth 2.1 for upstream providers: a user *connects* an account (authorization code with
//! PKCE, [`OAuthConnector`]) and the tokens land in the [`CredentialStore`](crate::CredentialStore);
//! later, shortly before the access token expires, [`OAuthRefresher`] redeems the refresh token
//! (one refresh per user and resource at a time, rotated refresh tokens stored with their access
//! token, `invalid_grant` → `needs_reconnect`, outages served from the still-valid token).
//!
//! | module | what |
//! |---|---|
//! | `config` | [`OAuthProvider`]: endpoints, client registration, scopes |
//! | `connect` | [`OAuthConnector`]: the authorize URL and the callback |
//! | `state` | the pending `state`s: bound to user and resource, single use, expiring |
//! | `client` | the token endpoint through the `oauth2` crate over our reqwest |
//! | `refresh` | [`OAuthRefresher`], the [`Refresher`](crate::Refresher) |
//! | `flight` | single flight and backoff per (user, resource) |

mod client;
mod config;
mod connect;
mod error;
mod flight;
mod refresh;
mod state;

#[doc(inline)]
pub use self::{
    config::OAuthProvider,
    connect::{
        AuthorizationRequest, ConnectorOptions, DEFAULT_MAX_PENDING, DEFAULT_OAUTH_ACTOR,
        DEFAULT_STATE_TTL, DEFAULT_TOKEN_TIMEOUT, OAuthConnector,
    },
    error::OAuthError,
    refresh::{
        DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_TRACKED, DEFAULT_REFUSED_TTL,
        OAuthRefresher,
    },
    state::MAX_PENDING_PER_USER,
};
