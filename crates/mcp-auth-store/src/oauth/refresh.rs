//! [`OAuthRefresher`]: the [`Refresher`] that redeems a stored refresh token at the provider
//! shortly before the access token expires (the [`StoreTokenResolver`](crate::StoreTokenResolver)
//! decides when, by its refresh margin).
//!
//! The refresh storms peers suffer (many requests of one user, each refreshing; a rotated
//! refresh token redeemed twice, and the provider revoking the grant for reuse) are avoided by:
//!
//! - **single flight** per (user, resource): one refresh runs (as its own task, so a caller
//!   that goes away cannot drop a rotated refresh token on the floor); every concurrent caller
//!   awaits its outcome (see `flight.rs`), shared by every refresher of one connector;
//! - **re-reading the row first**: a caller that read the credential before another refresh
//!   finished gets the row that refresh stored, not a second refresh with a spent token;
//! - **one `put`** storing the new access token together with the rotated refresh token (one
//!   SQLite row, one statement: both or neither);
//! - `invalid_grant` marks the credential `needs_reconnect` (the resolver then answers
//!   "connect your account") and is remembered (negative cache, by refresh-token digest), so
//!   the dead token is not sent again even if marking failed;
//! - an outage (unreachable, `5xx`, `429`) serves the stored token while it is still valid, and
//!   backs off exponentially per (user, resource) before asking the provider again.

use std::{sync::Arc, time::Duration};

use mcp_auth::{Credential, CredentialError};
use sha2::{Digest, Sha256};

use super::{OAuthConnector, client::TokenFailure, connect::Shared, flight::Backoff};
use crate::{
    Refresher,
    store::{CredentialStatus, CredentialStore, StoredCredential},
};

/// The first wait after a failed refresh, by default; it doubles per failure.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between refresh attempts, by default.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a refused refresh token is remembered, by default.
pub const DEFAULT_REFUSED_TTL: Duration = Duration::from_secs(3600);
/// The most (user, resource) keys the backoff table and the refused-token table each remember,
/// by default (least recently used forgotten first).
pub const DEFAULT_MAX_TRACKED: u64 = 100_000;

/// The (user, resource type) a refresh is for.
pub(crate) type Key = (String, String);

/// What one refresh came to, shared by every caller that awaited it.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// A credential to use: just refreshed, or stored by someone else meanwhile.
    Fresh(Credential),
    /// The provider refused the refresh token, or the credential is gone.
    Refused,
    /// The provider is unavailable (or refused for another reason); retry after this long.
    Backoff(Duration),
    /// The store failed.
    StoreFailed,
}

/// Refreshes OAuth credentials stored by an [`OAuthConnector`]; give it to
/// [`StoreTokenResolver::with_refresher`](crate::StoreTokenResolver::with_refresher).
///
/// Credentials of resource types without a provider are declined (`Ok(None)`). Every refresher
/// of one connector shares its flights (one refresh per user and resource at a time, whichever
/// refresher asks); each has its own backoff and memory of refused refresh tokens.
///
/// Keep the resolver's refresh margin shorter than the provider's access-token lifetime: a
/// freshly refreshed token is otherwise due again at once, and every resolve refreshes (one at
/// a time, but each a round trip to the provider).
///
/// ```no_run
/// # fn demo(store: mcp_auth_store::CredentialStore, connector: mcp_auth_store::oauth::OAuthConnector) {
/// use std::{sync::Arc, time::Duration};
/// use mcp_auth_store::StoreTokenResolver;
/// let resolver = StoreTokenResolver::new(store)
///     .with_refresher(Arc::new(connector.refresher()))
///     .with_refresh_margin(Duration::from_secs(120));
/// # }
/// ```
#[derive(Clone)]
pub struct OAuthRefresher {
    shared: Arc<Shared>,
    backoff: Backoff<Key>,
    refused: moka::sync::Cache<Key, [u8; 32]>,
    settings: Settings,
}

/// What the two tables are built from, kept to rebuild them when one setting changes.
#[derive(Debug, Clone, Copy)]
struct Settings {
    initial_backoff: Duration,
    max_backoff: Duration,
    refused_ttl: Duration,
    max_tracked: u64,
}

impl Settings {
    fn tables(&self) -> (Backoff<Key>, moka::sync::Cache<Key, [u8; 32]>) {
        let backoff = Backoff::new(self.initial_backoff, self.max_backoff, self.max_tracked);
        (backoff, refused_cache(self.refused_ttl, self.max_tracked))
    }
}

impl std::fmt::Debug for OAuthRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRefresher")
            .field("in_flight", &self.shared.flights.len())
            .field("backing_off", &self.backoff.len())
            .finish_non_exhaustive()
    }
}

impl OAuthRefresher {
    /// A refresher for the providers of `connector`, with the default backoff
    /// ([`DEFAULT_INITIAL_BACKOFF`] doubling up to [`DEFAULT_MAX_BACKOFF`]) and
    /// [`DEFAULT_REFUSED_TTL`].
    pub fn new(connector: &OAuthConnector) -> Self {
        let settings = Settings {
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            refused_ttl: DEFAULT_REFUSED_TTL,
            max_tracked: DEFAULT_MAX_TRACKED,
        };
        let (backoff, refused) = settings.tables();
        Self { shared: connector.shared.clone(), backoff, refused, settings }
    }

    /// Sets the wait after the first failed refresh of a credential (it doubles per failure)
    /// and the longest wait.
    pub fn with_backoff(self, initial: Duration, max: Duration) -> Self {
        let max_backoff = max.max(initial);
        let settings = Settings { initial_backoff: initial, max_backoff, ..self.settings };
        self.rebuilt(settings)
    }

    /// Sets how long a refresh token the provider refused is remembered (and not sent again).
    pub fn with_refused_ttl(self, ttl: Duration) -> Self {
        let settings = Settings { refused_ttl: ttl, ..self.settings };
        self.rebuilt(settings)
    }

    /// Sets how many (user, resource) keys the backoff table and the refused-token table each
    /// remember (default [`DEFAULT_MAX_TRACKED`]).
    pub fn with_max_tracked(self, keys: u64) -> Self {
        let settings = Settings { max_tracked: keys, ..self.settings };
        self.rebuilt(settings)
    }

    /// How many (user, resource) keys are backing off after a failed refresh, and how many
    /// refused refresh tokens are remembered.
    pub fn tracked(&self) -> (u64, u64) {
        self.refused.run_pending_tasks();
        (self.backoff.len(), self.refused.entry_count())
    }

    fn rebuilt(mut self, settings: Settings) -> Self {
        (self.backoff, self.refused) = settings.tables();
        self.settings = settings;
        self
    }

    /// The outcome of one refresh of `stored`: run by the one caller that starts the flight.
    async fn run(
        shared: Arc<Shared>,
        store: CredentialStore,
        backoff: Backoff<Key>,
        refused: moka::sync::Cache<Key, [u8; 32]>,
        stored: StoredCredential,
    ) -> Outcome {
        let (user_id, resource_type) = (&stored.info.user_id, &stored.info.resource_type);
        let current = match store.get(user_id, resource_type, &shared.actor).await {
            Ok(Some(current)) => current,
            Ok(None) => return Outcome::Refused,
            Err(error) => {
                tracing::error!(resource_type, %error, "cannot re-read a credential to refresh");
                return Outcome::StoreFailed;
            }
        };
        if current.info.status != CredentialStatus::Active {
            return Outcome::Refused;
        }
        if changed(&stored, &current) && !current.is_expired() {
            // Refreshed (or reconnected) since the caller read it: use that.
            return Outcome::Fresh(credential(&current));
        }
        let Some(refresh_token) = &current.refresh_token else { return Outcome::Refused };
        let key = (user_id.clone(), resource_type.clone());
        let result =
            shared.providers.refresh(resource_type, refresh_token, &current.info.scopes).await;
        match result {
            Ok(fresh) => {
                backoff.succeeded(&key);
                let access_token = fresh.access_token.clone();
                let info = match store.put(user_id, resource_type, fresh, &shared.actor).await {
                    Ok(info) => info,
                    Err(error) => {
                        // The provider may have rotated the refresh token we could not store:
                        // the user will have to connect again if it did.
                        tracing::error!(resource_type, %error, "cannot store a refreshed credential");
                        return Outcome::StoreFailed;
                    }
                };
                tracing::debug!(resource_type, "an upstream credential was refreshed");
                let credential = Credential::new(access_token);
                Outcome::Fresh(match info.expires_at {
                    Some(at) => credential.with_expiry(at),
                    None => credential,
                })
            }
            Err(TokenFailure::InvalidGrant) => {
                refused.insert(key, digest(refresh_token.expose()));
                tracing::warn!(
                    resource_type,
                    "the provider refused the refresh token (invalid_grant); the user must \
                     connect again"
                );
                // The user may have connected again while the provider was answering: mark the
                // row only if it still holds the refused token. (A reconnect between this read
                // and the mark is still lost to `needs_reconnect`; the store has no conditional
                // update yet.)
                match store.get(user_id, resource_type, &shared.actor).await {
                    Ok(Some(now))
                        if now.refresh_token.as_ref() != Some(refresh_token)
                            && now.info.status == CredentialStatus::Active
                            && !now.is_expired() =>
                    {
                        return Outcome::Fresh(credential(&now));
                    }
                    _ => {}
                }
                if let Err(error) =
                    store.mark_needs_reconnect(user_id, resource_type, &shared.actor).await
                {
                    tracing::error!(resource_type, %error, "cannot mark a credential needs_reconnect");
                }
                Outcome::Refused
            }
            Err(TokenFailure::Refused(error)) => {
                tracing::error!(
                    resource_type,
                    error,
                    "the provider refused a refresh; check the client registration"
                );
                Outcome::Backoff(backoff.failed(&key))
            }
            Err(TokenFailure::Transient(reason)) => {
                let wait = backoff.failed(&key);
                tracing::warn!(
                    resource_type,
                    reason,
                    retry_in_ms = wait.as_millis() as u64,
                    "refresh failed; backing off"
                );
                Outcome::Backoff(wait)
            }
        }
    }
}

#[async_trait::async_trait]
impl Refresher for OAuthRefresher {
    async fn refresh(
        &self,
        store: &CredentialStore,
        stored: &StoredCredential,
    ) -> Result<Option<Credential>, CredentialError> {
        let resource_type = &stored.info.resource_type;
        let Some(refresh_token) = &stored.refresh_token else { return Ok(None) };
        if self.shared.providers.get(resource_type).is_none() {
            return Ok(None);
        }
        let not_found = || CredentialError::NotFound { resource_type: resource_type.clone() };
        let key = (stored.info.user_id.clone(), resource_type.clone());
        if self.refused.get(&key).is_some_and(|dead| dead == digest(refresh_token.expose())) {
            return Err(not_found());
        }
        let outcome = match self.backoff.waiting(&key) {
            Some(wait) => Outcome::Backoff(wait),
            None => {
                let run = Self::run(
                    self.shared.clone(),
                    store.clone(),
                    self.backoff.clone(),
                    self.refused.clone(),
                    stored.clone(),
                );
                // A panicked flight: as if the store had failed.
                self.shared.flights.run(key, run).await.unwrap_or(Outcome::StoreFailed)
            }
        };
        match outcome {
            Outcome::Fresh(credential) => Ok(Some(credential)),
            Outcome::Refused => Err(not_found()),
            // Still valid: the resolver serves the stored token.
            Outcome::Backoff(_) | Outcome::StoreFailed if !stored.is_expired() => Ok(None),
            Outcome::Backoff(retry_after) => Err(CredentialError::TenantManagerUnavailable {
                retry_after: retry_after.max(Duration::from_secs(1)),
            }),
            Outcome::StoreFailed => Err(CredentialError::TenantManagerUnavailable {
                retry_after: Duration::from_secs(5),
            }),
        }
    }
}

fn refused_cache(ttl: Duration, capacity: u64) -> moka::sync::Cache<Key, [u8; 32]> {
    moka::sync::Cache::builder()
        .max_capacity(capacity)
        .time_to_live(ttl)
        // LRU: a token refused just now is always remembered (see `Backoff::new`).
        .eviction_policy(moka::policy::EvictionPolicy::lru())
        .build()
}

/// A refresh token's SHA-256: what the negative cache keeps instead of the token.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// True when the row changed since `seen` was read (another refresh, or a reconnect).
fn changed(seen: &StoredCredential, current: &StoredCredential) -> bool {
    seen.access_token != current.access_token || seen.info.expires_at != current.info.expires_at
}

fn credential(stored: &StoredCredential) -> Credential {
    let credential = Credential::new(stored.access_token.clone());
    match stored.info.expires_at {
        Some(at) => credential.with_expiry(at),
        None => credential,
    }
}
