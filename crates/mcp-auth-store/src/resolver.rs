//! [`StoreTokenResolver`]: the gateway's [`TokenResolver`] reading the [`CredentialStore`]
//! in-process, without HTTP — what `[credentials] kind = "store"` will use.
//!
//! It answers as [`ApiTokenResolver`](mcp_auth::ApiTokenResolver) would against the store's
//! HTTP API, so the gateway treats both alike:
//!
//! | store says | resolver answers | the gateway tells the client |
//! |---|---|---|
//! | active, not expired | the credential | — |
//! | missing, `needs_reconnect`, user revoked | [`CredentialError::NotFound`] | `403`: connect your account |
//! | expired (and no [`Refresher`], or it declined) | [`CredentialError::Expired`] | `403` |
//! | SQLite failure, undecryptable row | [`CredentialError::TenantManagerUnavailable`] | `503` + `Retry-After` |
//!
//! Token refresh is a seam, built in [`oauth`](crate::oauth): a [`Refresher`] given with
//! [`StoreTokenResolver::with_refresher`] is asked for a new credential when the stored one
//! has a refresh token and expires within the refresh margin.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use mcp_auth::{Credential, CredentialError, Principal, TokenResolver};

use crate::store::{CredentialStatus, CredentialStore, Lookup, StoredCredential};

/// The actor the resolver's reads are audited under, unless told otherwise.
pub const DEFAULT_ACTOR: &str = "gateway";

/// Refreshes a stored credential that is about to expire. The OAuth refresh
/// ([`OAuthRefresher`](crate::oauth::OAuthRefresher): single-flight per user and resource,
/// rotated refresh tokens stored atomically, `invalid_grant` marking the credential
/// [`NeedsReconnect`](CredentialStatus::NeedsReconnect)) implements it; [`StoreTokenResolver`]
/// only decides when to ask.
#[async_trait::async_trait]
pub trait Refresher: Send + Sync + 'static {
    /// Returns a fresh credential for `stored` (and stores it), or an error the resolver passes
    /// on: [`CredentialError::NotFound`] when the provider refused the refresh token,
    /// [`CredentialError::TenantManagerUnavailable`] on a provider outage. Returning
    /// `Ok(None)` declines: the resolver then answers as if there were no refresher.
    async fn refresh(
        &self,
        store: &CredentialStore,
        stored: &StoredCredential,
    ) -> Result<Option<Credential>, CredentialError>;
}

/// A [`TokenResolver`] over a [`CredentialStore`] in the same process.
///
/// ```no_run
/// # async fn demo(store: mcp_auth_store::CredentialStore) {
/// use mcp_auth_store::StoreTokenResolver;
/// let resolver = StoreTokenResolver::new(store);
/// # }
/// ```
#[derive(Clone)]
pub struct StoreTokenResolver {
    store: CredentialStore,
    actor: String,
    retry_after: Duration,
    refresher: Option<Arc<dyn Refresher>>,
    refresh_margin: Duration,
}

impl std::fmt::Debug for StoreTokenResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTokenResolver")
            .field("store", &self.store)
            .field("actor", &self.actor)
            .field("retry_after", &self.retry_after)
            .field("refresher", &self.refresher.is_some())
            .field("refresh_margin", &self.refresh_margin)
            .finish()
    }
}

impl StoreTokenResolver {
    /// A resolver reading `store`, audited as [`DEFAULT_ACTOR`], without refresh.
    pub fn new(store: CredentialStore) -> Self {
        Self {
            store,
            actor: DEFAULT_ACTOR.to_owned(),
            retry_after: Duration::from_secs(5),
            refresher: None,
            refresh_margin: Duration::from_secs(60),
        }
    }

    /// The actor named in the audit log for this resolver's reads (default `gateway`).
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The `retry_after` reported when the store fails (default 5 s).
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Asks `refresher` for a new credential when the stored one has a refresh token and
    /// expires within the [refresh margin](Self::with_refresh_margin).
    pub fn with_refresher(mut self, refresher: Arc<dyn Refresher>) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// How long before its expiry a credential is refreshed (default 60 s).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    fn unavailable(&self) -> CredentialError {
        CredentialError::TenantManagerUnavailable { retry_after: self.retry_after }
    }

    fn wants_refresh(&self, stored: &StoredCredential) -> bool {
        stored.refresh_token.is_some()
            && stored.info.expires_at.is_some_and(|at| {
                at <= SystemTime::now().checked_add(self.refresh_margin).unwrap_or(at)
            })
    }
}

#[async_trait::async_trait]
impl TokenResolver for StoreTokenResolver {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        let not_found = || CredentialError::NotFound { resource_type: resource_type.to_owned() };
        let lookup = self.store.lookup(principal.user_id(), resource_type, &self.actor).await;
        let stored = match lookup {
            Ok(Lookup::Found(stored)) => stored,
            Ok(_) => return Err(not_found()),
            Err(error) => {
                tracing::error!(resource_type, %error, "the credential store failed");
                return Err(self.unavailable());
            }
        };
        if stored.info.status != CredentialStatus::Active {
            return Err(not_found());
        }
        if let Some(refresher) = &self.refresher
            && self.wants_refresh(&stored)
            && let Some(fresh) = refresher.refresh(&self.store, &stored).await?
        {
            return Ok(fresh);
        }
        if stored.is_expired() {
            return Err(CredentialError::Expired { resource_type: resource_type.to_owned() });
        }
        let credential = Credential::new(stored.access_token.clone());
        Ok(match stored.info.expires_at {
            Some(at) => credential.with_expiry(at),
            None => credential,
        })
    }
}
