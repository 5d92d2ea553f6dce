//! [`ApiTokenResolver`]: each caller's upstream credential, fetched from a tenant manager over
//! HTTP, cached, single-flight and stale-if-error.
//!
//! Where the other resolvers read a credential from the process environment or from the caller's
//! own JWT, this one asks a separate service — the tenant manager, which stores every user's
//! connected accounts — with `GET {tenant_manager_url}/api/credentials/{userId}/{resourceType}`
//! and `Authorization: Bearer <service token>`.
//!
//! It keeps the original `APITokenResolver`'s contract and fixes what the seed inventory (§9.3)
//! lists against it: the credential's `expiresAt` bounds caching, concurrent misses share one
//! call, `404`s are cached briefly, outages are retried with backoff and bridged with the last
//! good credential, the body read has a timeout, custom headers cannot replace `Authorization`,
//! and every placeholder in the path template is substituted.
//!
//! | file | holds |
//! |---|---|
//! | `builder.rs` | [`ApiTokenResolverBuilder`]: settings, defaults, validation |
//! | `template.rs` | the endpoint path template and its percent-encoding |
//! | `fetch.rs` | the HTTP call, status mapping, retries with backoff |
//! | `response.rs` | parsing the `200` body (token and expiry field variants) |
//! | `cache.rs` | cache entries, their lifetimes, and what each answers without a call |

mod builder;
mod cache;
mod fetch;
mod response;
mod template;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moka::ops::compute::Op;

#[doc(inline)]
pub use self::builder::{ApiTokenResolverBuilder, DEFAULT_ENDPOINT_PATH};
use self::{
    cache::{Cached, Failure, Key, Lifetimes},
    fetch::{Fetched, Fetcher},
};
use super::{Credential, CredentialError, ResolverCacheStats, TokenResolver};
use crate::{auth::Principal, secret::Secret};

/// Resolves credentials from a tenant manager over HTTP.
///
/// - **Cache**: per `(user id, resource type)`, fresh for
///   [`cache_ttl`](ApiTokenResolverBuilder::cache_ttl) but never past the credential's own
///   `expiresAt`; bounded by [`max_capacity`](ApiTokenResolverBuilder::max_capacity).
/// - **Single-flight**: concurrent misses for one key make one call; the others wait for it.
/// - **Outages**: `5xx`, connection failures and timeouts are retried with jittered
///   exponential backoff; if the tenant manager still fails, a credential within the
///   [`stale_if_error`](ApiTokenResolverBuilder::stale_if_error) window (and not expired) is
///   served instead, else [`CredentialError::TenantManagerUnavailable`].
/// - **Missing credentials** (`404`/`410`) are [`CredentialError::NotFound`] and remembered for
///   [`negative_ttl`](ApiTokenResolverBuilder::negative_ttl).
///
/// Cloning is cheap and clones share the cache. `Debug` shows the endpoint, never the token.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use mcp_auth::{ApiTokenResolver, Principal, TokenResolver};
///
/// let resolver = ApiTokenResolver::builder("https://tenants.example.com", "service-token").build()?;
/// let alice = Principal::new("alice")?;
/// let credential = resolver.resolve(&alice, "github").await?;
/// # let _ = credential; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ApiTokenResolver {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Fetcher,
    cache: moka::future::Cache<Key, Cached>,
    lifetimes: Lifetimes,
    negative_ttl: Duration,
    failure_cooldown: Duration,
    counts: Counts,
}

/// What [`ResolverCacheStats`] reports, counted as it happens.
#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    errors: AtomicU64,
}

fn bump(count: &AtomicU64) {
    count.fetch_add(1, Ordering::Relaxed);
}

impl ApiTokenResolver {
    /// Starts a builder for a tenant manager at `tenant_manager_url` (its trailing `/` is
    /// ignored), authenticating with `service_token`.
    pub fn builder(
        tenant_manager_url: impl Into<String>,
        service_token: impl Into<Secret>,
    ) -> ApiTokenResolverBuilder {
        ApiTokenResolverBuilder::new(tenant_manager_url.into(), service_token.into())
    }

    /// The answer for `key`, from the cache when it can give one, else from one fetch shared
    /// with every concurrent caller of the same key.
    async fn resolve_key(&self, key: Key) -> Result<Credential, CredentialError> {
        let started = Instant::now();
        // Fast path: no per-key lock, which matters because nearly every request is a hit.
        if let Some(answer) =
            self.inner.cache.get(&key).await.and_then(|c| c.answer(started, started))
        {
            bump(&self.inner.counts.hits);
            return answer;
        }
        let (user_id, resource_type) = (key.0.clone(), key.1.clone());
        let mut answer = None;
        // moka runs `and_compute_with` closures for one key one at a time, in arrival order: the
        // first caller fetches, the others queue and then find its result (see `Cached::answer`).
        self.inner
            .cache
            .entry(key)
            .and_compute_with(|current| {
                let answer = &mut answer;
                async move {
                    let current = current.map(moka::Entry::into_value);
                    let now = Instant::now();
                    if let Some(cached) = current.as_ref().and_then(|c| c.answer(started, now)) {
                        bump(&self.inner.counts.hits);
                        *answer = Some(cached);
                        return Op::Nop;
                    }
                    bump(&self.inner.counts.misses);
                    let fetched = self.inner.fetcher.fetch(&user_id, &resource_type).await;
                    let (op, result) = self.settle(current, fetched, &user_id, &resource_type);
                    *answer = Some(result);
                    op
                }
            })
            .await;
        answer.unwrap_or(Err(CredentialError::TenantManagerUnavailable {
            retry_after: self.inner.fetcher.default_retry_after,
        }))
    }

    /// What a fetch means for the cache entry and for the caller.
    fn settle(
        &self,
        current: Option<Cached>,
        fetched: Fetched,
        user_id: &str,
        resource_type: &str,
    ) -> (Op<Cached>, Result<Credential, CredentialError>) {
        let inner = &self.inner;
        let now = Instant::now();
        match fetched {
            Fetched::Credential(credential) if credential.is_expired() => {
                tracing::info!(
                    user = %self.inner.fetcher.user_ids.tag(user_id),
                    resource_type,
                    "the tenant manager's credential has expired"
                );
                let error = CredentialError::Expired { resource_type: resource_type.to_owned() };
                (self.negative(error.clone(), now), Err(error))
            }
            Fetched::Credential(credential) => {
                let entry = Cached::found(credential.clone(), now, inner.lifetimes);
                (Op::Put(entry), Ok(credential))
            }
            Fetched::NotFound => {
                let error = CredentialError::NotFound { resource_type: resource_type.to_owned() };
                (self.negative(error.clone(), now), Err(error))
            }
            Fetched::Unavailable { retry_after } => {
                let failure = Failure::new(now, retry_after, inner.failure_cooldown);
                if let Some(stale) = current.as_ref().and_then(|c| c.stale_fallback(now)).cloned() {
                    tracing::warn!(
                        user = %self.inner.fetcher.user_ids.tag(user_id),
                        resource_type,
                        "tenant manager unavailable; serving the cached credential past its TTL"
                    );
                    let entry = current.map(|c| c.with_failure(failure));
                    bump(&inner.counts.stale);
                    return (entry.map_or(Op::Nop, Op::Put), Ok(stale));
                }
                bump(&inner.counts.errors);
                (
                    Op::Put(Cached::Failed(failure)),
                    Err(CredentialError::TenantManagerUnavailable { retry_after }),
                )
            }
        }
    }

    fn negative(&self, error: CredentialError, now: Instant) -> Op<Cached> {
        Op::Put(Cached::Negative { error, stored_at: now, until: now + self.inner.negative_ttl })
    }
}

#[async_trait::async_trait]
impl TokenResolver for ApiTokenResolver {
    async fn resolve(
        &self,
        principal: &Principal,
        resource_type: &str,
    ) -> Result<Credential, CredentialError> {
        self.resolve_key((principal.user_id().to_owned(), resource_type.to_owned())).await
    }

    async fn invalidate(&self, user_id: &str, resource_type: &str) {
        let user = self.inner.fetcher.user_ids.tag(user_id);
        tracing::debug!(%user, resource_type, "credential invalidated");
        self.inner.cache.invalidate(&(user_id.to_owned(), resource_type.to_owned())).await;
    }

    async fn invalidate_all(&self) {
        self.inner.cache.invalidate_all();
        self.inner.cache.run_pending_tasks().await;
    }

    fn cache_stats(&self) -> Option<ResolverCacheStats> {
        let counts = &self.inner.counts;
        let read = |count: &AtomicU64| count.load(Ordering::Relaxed);
        Some(ResolverCacheStats {
            hits: read(&counts.hits),
            misses: read(&counts.misses),
            stale: read(&counts.stale),
            errors: read(&counts.errors),
        })
    }
}

impl fmt::Debug for ApiTokenResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fetcher = &self.inner.fetcher;
        f.debug_struct("ApiTokenResolver")
            .field("tenant_manager_url", &fetcher.base_url)
            .field("endpoint_path", &fetcher.template.as_str())
            .field("cache_ttl", &self.inner.lifetimes.cache_ttl)
            .field("stale_if_error", &self.inner.lifetimes.stale_if_error)
            .field("negative_ttl", &self.inner.negative_ttl)
            .field("max_retries", &fetcher.max_retries)
            .field("cached_entries", &self.inner.cache.entry_count())
            .finish_non_exhaustive()
    }
}
