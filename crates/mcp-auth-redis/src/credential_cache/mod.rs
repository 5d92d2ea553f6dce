//! [`RedisCredentialCache`]: a [`TokenResolver`] in front of another (in the gateway, the
//! tenant-manager [`ApiTokenResolver`](mcp_auth::ApiTokenResolver)) that shares what it
//! resolves with every replica through Redis, so that a user whose requests land on several
//! replicas costs the tenant manager one call per TTL for the whole cluster, not one per replica.
//!
//! A resolution looks, in order:
//!
//! 1. in a local moka cache (bounded, default 10 000 entries): a hit costs microseconds;
//! 2. in Redis, `GET {prefix}cred:{resource_type}:{hash}` within the connection's timeout, where
//!    `hash` is the first 128 bits of an HMAC-SHA256 of the user id (as the rate limit's keys);
//!    a hit is opened and kept locally;
//! 3. in the inner resolver; its credential is sealed and `SET … PX` in Redis for the cache TTL
//!    (default [`DEFAULT_TTL`]), cut at the credential's expiry less [`EXPIRY_MARGIN`]. One that
//!    expires sooner is returned but not cached. Errors are returned as they are and never
//!    cached here (the inner resolver has its own negative caching and cool-downs).
//!
//! Concurrent resolutions of one user and resource type on one replica share one Redis read and
//! one inner call (moka's single-flight); replicas missing at the same moment may each call the
//! inner resolver once.
//!
//! Values are sealed with AES-256-GCM under a [`CacheKey`] every replica shares (`seal.rs`): no
//! secret is in Redis in the clear, and a value that does not open (another key, tampering, a
//! value copied to another user's key) counts as a miss, is logged without its bytes, and is
//! overwritten by the fresh answer.
//!
//! When Redis fails a call (an error, or no answer within the timeout), resolutions go straight
//! to the inner resolver; after [`FAILURES_BEFORE_DOWN`](crate::FAILURES_BEFORE_DOWN) failures
//! in a row they skip Redis for [`RECHECK_AFTER`](crate::RECHECK_AFTER): the cache fails open,
//! since the inner resolver can answer on its own.
//!
//! [`invalidate`](TokenResolver::invalidate) forgets the credential here, in Redis and in the
//! inner resolver. Other replicas' local tiers keep it until their entry ends (at most the TTL)
//! unless they are told too: a revocation recorded with
//! [`RedisRevocations`](crate::RedisRevocations) (`mcp-auth invalidate`) runs the same
//! invalidation on every replica within a second.

mod local;
mod seal;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime},
};

use aes_gcm::Aes256Gcm;
use mcp_auth::{
    Credential, CredentialError, Principal, TokenResolver, credentials::ResolverCacheStats,
};

use self::local::{EntryTtl, LocalEntry, LocalKey, lifetime};
#[doc(inline)]
pub use self::{
    local::EXPIRY_MARGIN,
    seal::{CACHE_KEY_LEN, CacheKey, CacheKeyError},
};
use crate::{RedisConnection, outage::OutageWindow, user_hash::UserHash};

/// How long a credential is shared when no TTL is given ([`RedisCredentialCache::with_ttl`]).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Most entries of the local tier when no capacity is given
/// ([`RedisCredentialCache::with_local_capacity`]).
pub const DEFAULT_LOCAL_CAPACITY: u64 = 10_000;

/// How the cache has answered since it was built (counts only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialCacheStats {
    /// Answered by the local tier (or by a concurrent resolution of the same key).
    pub local_hits: u64,
    /// Answered by a value in Redis.
    pub redis_hits: u64,
    /// Values in Redis that did not open (another key, tampered), counted as misses.
    pub undecryptable: u64,
}

/// A [`TokenResolver`] that shares `R`'s credentials across replicas through Redis; see the
/// module docs. `Debug` shows neither the key nor any credential.
pub struct RedisCredentialCache<R> {
    inner: R,
    connection: RedisConnection,
    cipher: Aes256Gcm,
    /// `{prefix}cred:`.
    key_base: String,
    user_hash: UserHash,
    ttl: Duration,
    local: moka::future::Cache<LocalKey, LocalEntry>,
    outage: OutageWindow,
    local_hits: AtomicU64,
    redis_hits: AtomicU64,
    undecryptable: AtomicU64,
}

impl<R> std::fmt::Debug for RedisCredentialCache<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCredentialCache")
            .field("key_base", &self.key_base)
            .field("ttl", &self.ttl)
            .field("cached_locally", &self.local.entry_count())
            .finish_non_exhaustive()
    }
}

fn local_cache(capacity: u64) -> moka::future::Cache<LocalKey, LocalEntry> {
    moka::future::Cache::builder()
        .name("mcp-auth-redis.credential_cache")
        .max_capacity(capacity)
        .expire_after(EntryTtl)
        .build()
}

impl<R: TokenResolver> RedisCredentialCache<R> {
    /// Caches `inner`'s credentials in Redis through `connection`, sealed under `key` (the same
    /// on every replica), with the default TTL, hash key and local capacity.
    pub fn new(inner: R, connection: &RedisConnection, key: CacheKey) -> Self {
        Self {
            inner,
            connection: connection.clone(),
            cipher: key.cipher(),
            key_base: format!("{}cred:", connection.key_prefix),
            user_hash: UserHash::default(),
            ttl: DEFAULT_TTL,
            local: local_cache(DEFAULT_LOCAL_CAPACITY),
            outage: OutageWindow::default(),
            local_hits: AtomicU64::new(0),
            redis_hits: AtomicU64::new(0),
            undecryptable: AtomicU64::new(0),
        }
    }

    /// How long a credential is shared (default [`DEFAULT_TTL`]), in Redis and in each local
    /// tier; always cut at the credential's expiry less [`EXPIRY_MARGIN`]. Zero disables the
    /// cache (concurrent resolutions on a replica still share one inner call).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Hashes user ids under `key` (HMAC-SHA256), as
    /// [`RedisRateLimiter::with_hash_key`](crate::RedisRateLimiter::with_hash_key) does. Every
    /// replica must be given the same key.
    pub fn with_hash_key(mut self, key: &[u8]) -> Self {
        self.user_hash = UserHash::new(key);
        self
    }

    /// Most entries of the local tier (default [`DEFAULT_LOCAL_CAPACITY`]); the least recently
    /// used go first. Zero turns the local tier off: every resolution then costs a Redis round
    /// trip, and an invalidation on one replica is seen by every other at once.
    pub fn with_local_capacity(mut self, entries: u64) -> Self {
        self.local = local_cache(entries);
        self
    }

    /// The resolver behind the cache.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// The Redis key of `user_id`'s credential for `resource_type` (for tests and operators).
    pub fn key_of(&self, user_id: &str, resource_type: &str) -> String {
        let base = format!("{}{resource_type}:", self.key_base);
        self.user_hash.key(&base, user_id)
    }

    /// How many credentials the local tier holds, once its pending evictions have run.
    pub async fn cached_locally(&self) -> u64 {
        self.local.run_pending_tasks().await;
        self.local.entry_count()
    }

    /// How the cache has answered so far.
    pub fn stats(&self) -> CredentialCacheStats {
        let read = |count: &AtomicU64| count.load(Ordering::Relaxed);
        CredentialCacheStats {
            local_hits: read(&self.local_hits),
            redis_hits: read(&self.redis_hits),
            undecryptable: read(&self.undecryptable),
        }
    }

    /// A local miss: Redis, else the inner resolver (whose answer is then shared).
    async fn fetch(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<LocalEntry, CredentialError> {
        let redis_key = self.key_of(principal.user_id(), resource_type);
        if let Some(entry) = self.read(&redis_key, resource_type).await {
            self.redis_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry);
        }
        let credential = self.inner.resolve(principal, resource_type).await?;
        let now = SystemTime::now();
        let ttl = lifetime(&credential, self.ttl, now);
        self.write(&redis_key, &credential, ttl, now).await;
        Ok(LocalEntry { credential, ttl })
    }

    /// The credential Redis holds at `redis_key`, if any that is still worth caching.
    async fn read(&self, redis_key: &str, resource_type: &str) -> Option<LocalEntry> {
        if self.outage.is_down() {
            return None;
        }
        let mut manager = self.connection.manager.clone();
        let mut get = redis::cmd("GET");
        get.arg(redis_key);
        // `None` twice over: Redis failed, or holds nothing.
        let stored = self
            .within_timeout(get.query_async::<Option<Vec<u8>>>(&mut manager))
            .await
            .flatten()?;
        let opened = match seal::open(&self.cipher, redis_key, &stored) {
            Ok(opened) => opened,
            Err(error) => {
                self.undecryptable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    key = redis_key,
                    resource_type,
                    %error,
                    "redis credential cache: a cached value does not open (another key on \
                     another replica, or tampered); treated as a miss and overwritten"
                );
                return None;
            }
        };
        let now = SystemTime::now();
        let fresh_for = opened.fresh_until.duration_since(now).unwrap_or(Duration::ZERO);
        let ttl = lifetime(&opened.credential, self.ttl.min(fresh_for), now);
        (!ttl.is_zero()).then_some(LocalEntry { credential: opened.credential, ttl })
    }

    /// Shares `credential` for `ttl` (best effort: a failure only costs other replicas a call).
    async fn write(
        &self,
        redis_key: &str,
        credential: &Credential,
        ttl: Duration,
        now: SystemTime,
    ) {
        // `PX` takes whole milliseconds, at least one.
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 || self.outage.is_down() {
            return;
        }
        let sealed = seal::seal(&self.cipher, redis_key, credential, now + ttl);
        let mut manager = self.connection.manager.clone();
        let mut set = redis::cmd("SET");
        set.arg(redis_key).arg(sealed).arg("PX").arg(millis);
        self.within_timeout(set.query_async::<()>(&mut manager)).await;
    }

    /// Runs one Redis call within the connection's timeout, keeping the outage window: `None`
    /// when Redis failed it.
    async fn within_timeout<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        let reason = match tokio::time::timeout(self.connection.timeout, call).await {
            Ok(Ok(answer)) => {
                if self.outage.mark_up() {
                    tracing::info!("redis credential cache: Redis answers again; sharing resumed");
                }
                return Some(answer);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {:?}", self.connection.timeout),
        };
        if self.outage.mark_down() {
            tracing::warn!(
                reason,
                "redis credential cache: Redis unavailable; resolving through the inner resolver \
                 on each replica until it answers again"
            );
        }
        None
    }
}

#[async_trait::async_trait]
impl<R: TokenResolver> TokenResolver for RedisCredentialCache<R> {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        let key = (principal.user_id().to_owned(), resource_type.to_owned());
        let entry = self
            .local
            .entry(key)
            .or_try_insert_with(self.fetch(principal, resource_type))
            .await
            .map_err(|error| (*error).clone())?;
        if !entry.is_fresh() {
            self.local_hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(entry.into_value().credential)
    }

    /// Forgets the credential in the inner resolver, then in Redis (best effort, within the
    /// timeout, tried even while Redis counts as down: a revocation is worth the wait), then
    /// locally — in that order, so that a resolution running meanwhile refetches rather than
    /// re-sharing the old credential.
    async fn invalidate(&self, user_id: &str, resource_type: &str) {
        self.inner.invalidate(user_id, resource_type).await;
        let redis_key = self.key_of(user_id, resource_type);
        let mut manager = self.connection.manager.clone();
        let mut delete = redis::cmd("DEL");
        delete.arg(&redis_key);
        if self.within_timeout(delete.query_async::<i64>(&mut manager)).await.is_none() {
            tracing::warn!(
                key = redis_key,
                resource_type,
                "redis credential cache: could not delete an invalidated credential; other \
                 replicas may use it until its TTL ends"
            );
        }
        self.local.invalidate(&(user_id.to_owned(), resource_type.to_owned())).await;
    }

    /// Forgets every credential of the inner resolver and of the local tier (this replica
    /// missed revocations it cannot name). The values in Redis stay: the replicas that did read
    /// those revocations deleted theirs, and the rest expire within the TTL; deleting them all
    /// would mean a `SCAN` of the whole keyspace for what is a rare event.
    async fn invalidate_all(&self) {
        self.inner.invalidate_all().await;
        self.local.invalidate_all();
        self.local.run_pending_tasks().await;
    }

    /// The inner resolver's counts, with this cache's local and Redis hits added to `hits`:
    /// `misses` still counts calls to the tenant manager, so hits / (hits + misses) is the
    /// share of resolutions the whole stack answered without it.
    fn cache_stats(&self) -> Option<ResolverCacheStats> {
        let ours = self.stats();
        let mut stats = self.inner.cache_stats().unwrap_or_default();
        stats.hits += ours.local_hits + ours.redis_hits;
        Some(stats)
    }
}
