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
//!
//! Answers are cached per (user, resource type), bounded, single-flight (concurrent requests of
//! one user share one store read), and evicted by every change made through the same store;
//! see `cache.rs` for how long each answer is kept. Every store read is audited, so without the
//! cache every request would write an audit row.

mod cache;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

use mcp_auth::{
    Credential, CredentialError, Principal, TokenResolver, credentials::ResolverCacheStats,
};
use moka::future::Cache;

pub use self::cache::IN_MARGIN_TTL;
use self::cache::{Entry, Evictor, Key, Lifetimes};
use crate::store::{ChangeListener, CredentialStatus, CredentialStore, Lookup, StoredCredential};

/// How long a credential is cached by default (cut at its refresh or expiry time). A change made
/// through the same store evicts it at once; this bounds how late a change made by another
/// process (the CLI) is seen.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// How long "no credential" (missing, revoked, needs reconnect, expired) is cached by default.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// The most (user, resource type) answers cached by default.
pub const DEFAULT_MAX_CAPACITY: u64 = 10_000;

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
    lifetimes: Lifetimes,
    cache: Cache<Key, Entry>,
    /// Registered with the store's change feed, which holds it weakly: it listens as long as a
    /// clone of this resolver lives.
    evictor: Arc<Evictor>,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
}

impl std::fmt::Debug for StoreTokenResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTokenResolver")
            .field("store", &self.store)
            .field("actor", &self.actor)
            .field("retry_after", &self.retry_after)
            .field("refresher", &self.refresher.is_some())
            .field("refresh_margin", &self.refresh_margin)
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl StoreTokenResolver {
    /// A resolver reading `store`, audited as [`DEFAULT_ACTOR`], without refresh.
    pub fn new(store: CredentialStore) -> Self {
        let (cache, evictor) = listening_cache(&store, DEFAULT_MAX_CAPACITY);
        Self {
            store,
            actor: DEFAULT_ACTOR.to_owned(),
            retry_after: Duration::from_secs(5),
            refresher: None,
            refresh_margin: Duration::from_secs(60),
            lifetimes: Lifetimes {
                cache_ttl: DEFAULT_CACHE_TTL,
                negative_ttl: DEFAULT_NEGATIVE_TTL,
            },
            cache,
            evictor,
            stats: Arc::default(),
        }
    }

    /// How long a credential is cached (default [`DEFAULT_CACHE_TTL`]); never past the time it
    /// is due for refresh or expires. Zero caches nothing, but concurrent requests still share
    /// one read.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.cache_ttl = ttl;
        self
    }

    /// How long "no credential" is cached (default [`DEFAULT_NEGATIVE_TTL`]).
    pub fn with_negative_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.negative_ttl = ttl;
        self
    }

    /// The most (user, resource type) answers cached (default [`DEFAULT_MAX_CAPACITY`]); the
    /// cache starts empty again.
    pub fn with_max_capacity(mut self, entries: u64) -> Self {
        (self.cache, self.evictor) = listening_cache(&self.store, entries);
        self
    }

    /// How many answers the cache holds now (after its pending maintenance).
    pub async fn cached_entries(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
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
}

#[async_trait::async_trait]
impl TokenResolver for StoreTokenResolver {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        let key = (principal.user_id().to_owned(), resource_type.to_owned());
        let seq_before = self.store.changes().seq();
        let fetched = AtomicBool::new(false);
        let entry = self
            .cache
            .try_get_with_by_ref(&key, async {
                fetched.store(true, Ordering::Relaxed);
                self.fetch(principal.user_id(), resource_type).await
            })
            .await;
        if fetched.into_inner() {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            // A change committed while this read ran may have been announced before the entry
            // was inserted, and so not have evicted it: drop it now (the answer itself stands,
            // the change and the request having raced).
            if entry.is_ok() && self.store.changes().seq() != seq_before {
                self.cache.invalidate(&key).await;
            }
        } else {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
        }
        match entry {
            Ok(entry) => entry.answer,
            Err(error) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                Err((*error).clone())
            }
        }
    }

    async fn invalidate(&self, user_id: &str, resource_type: &str) {
        self.cache.invalidate(&(user_id.to_owned(), resource_type.to_owned())).await;
    }

    async fn invalidate_all(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks().await;
    }

    fn cache_stats(&self) -> Option<ResolverCacheStats> {
        let mut stats = ResolverCacheStats::default();
        stats.hits = self.stats.hits.load(Ordering::Relaxed);
        stats.misses = self.stats.misses.load(Ordering::Relaxed);
        stats.errors = self.stats.errors.load(Ordering::Relaxed);
        Some(stats)
    }
}

impl StoreTokenResolver {
    /// Reads the store (and refreshes, when due): the answer to cache, or the failure not to.
    async fn fetch(&self, user_id: &str, resource_type: &str) -> Result<Entry, CredentialError> {
        let negative = |answer: CredentialError| {
            Ok(Entry { answer: Err(answer), ttl: self.lifetimes.negative_ttl })
        };
        let not_found = || CredentialError::NotFound { resource_type: resource_type.to_owned() };
        let stored = match self.store.lookup(user_id, resource_type, &self.actor).await {
            Ok(Lookup::Found(stored)) => stored,
            Ok(_) => return negative(not_found()),
            Err(error) => {
                tracing::error!(resource_type, %error, "the credential store failed");
                return Err(self.unavailable());
            }
        };
        if stored.info.status != CredentialStatus::Active {
            return negative(not_found());
        }
        let refresher = self.refresher.as_ref().filter(|_| stored.refresh_token.is_some());
        let refresh_due = refresher.and_then(|_| self.refresh_due(stored.info.expires_at));
        if let Some(refresher) = refresher
            && refresh_due.is_some_and(|due| due <= SystemTime::now())
        {
            match refresher.refresh(&self.store, &stored).await {
                Ok(Some(fresh)) => {
                    let due = self.refresh_due(fresh.expires_at());
                    let ttl = self.lifetimes.found(&fresh, due);
                    return Ok(Entry { answer: Ok(fresh), ttl });
                }
                Ok(None) => {}
                Err(error @ CredentialError::TenantManagerUnavailable { .. }) => return Err(error),
                Err(error) => return negative(error),
            }
        }
        if stored.is_expired() {
            return negative(CredentialError::Expired { resource_type: resource_type.to_owned() });
        }
        let credential = Credential::new(stored.access_token.clone());
        let credential = match stored.info.expires_at {
            Some(at) => credential.with_expiry(at),
            None => credential,
        };
        let ttl = self.lifetimes.found(&credential, refresh_due);
        Ok(Entry { answer: Ok(credential), ttl })
    }

    /// When a credential expiring at `expires_at` is due for refresh: that less the margin
    /// (`None` without expiry).
    fn refresh_due(&self, expires_at: Option<SystemTime>) -> Option<SystemTime> {
        expires_at.map(|at| at.checked_sub(self.refresh_margin).unwrap_or(at))
    }
}

/// A cache whose entries every change made through `store` evicts.
fn listening_cache(
    store: &CredentialStore,
    max_capacity: u64,
) -> (Cache<Key, Entry>, Arc<Evictor>) {
    let cache = cache::build(max_capacity);
    let evictor = Arc::new(Evictor(cache.clone()));
    let listener: Arc<dyn ChangeListener> = evictor.clone();
    store.changes().listen(Arc::downgrade(&listener));
    (cache, evictor)
}
