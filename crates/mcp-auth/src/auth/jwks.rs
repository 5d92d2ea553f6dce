//! The JWKS key cache behind [`JwtAuthProvider::builder().jwks_url(..)`](super::JwtAuthProviderBuilder::jwks_url).
//!
//! Keys are fetched on first use, looked up by `kid` without locking on the hot path, refetched in
//! the background after [`JwksOptions::cache_ttl`], and refetched at once when a token names an
//! unknown `kid` — which is how key rotation reaches us. Refetches are single-flight and at most
//! one per [`JwksOptions::min_refresh_interval`], so a flood of tokens with made-up `kid`s cannot
//! turn us into a load generator against the identity provider. A fetch runs on its own task:
//! a caller that stops waiting (its client went away, a timeout layer fired) leaves it running
//! for everyone queued behind it, so a hung identity provider costs one connection per
//! [`JwksOptions::timeout`], not one per request.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};
use serde::Deserialize;
use url::Url;

use super::{
    AuthError,
    jwt::{VerifyKey, jwk_algorithms},
};
use crate::{
    config::ConfigError,
    http_client::{build_client, read_body_limited},
};

/// How keys are fetched and cached.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksOptions {
    /// Minimum time between two fetches (default 30 s). Unknown-`kid` refreshes within this
    /// window are skipped.
    pub min_refresh_interval: Duration,
    /// Age after which keys are refetched in the background (default 10 min).
    pub cache_ttl: Duration,
    /// Timeout for one fetch, body included (default 5 s).
    pub timeout: Duration,
    /// Allow a plain-`http` JWKS URL on a non-loopback host (default false).
    pub allow_insecure_http: bool,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            min_refresh_interval: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(600),
            timeout: Duration::from_secs(5),
            allow_insecure_http: false,
        }
    }
}

impl JwksOptions {
    /// Sets [`Self::min_refresh_interval`].
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Sets [`Self::cache_ttl`].
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Sets [`Self::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`Self::allow_insecure_http`].
    pub fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

pub(crate) struct JwksCache {
    shared: Arc<Shared>,
}

struct Shared {
    url: Url,
    client: reqwest::Client,
    template: Validation,
    options: JwksOptions,
    keys: RwLock<Arc<KeySet>>,
    /// When the last fetch attempt finished. Held for the whole of a fetch (by the fetch's own
    /// task), which makes refetches single-flight.
    last_attempt: Arc<tokio::sync::Mutex<Option<Instant>>>,
    background_refresh: AtomicBool,
    fetches: AtomicU64,
    /// The provider's verified-token cache, emptied when the key set changes.
    verified: Option<super::jwt::VerifiedCache>,
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    all: Vec<Arc<VerifyKey>>,
    fetched_at: Option<Instant>,
}

impl KeySet {
    /// The key ids, to tell whether a refetch changed anything.
    fn kids(&self) -> std::collections::BTreeSet<&str> {
        self.by_kid.keys().map(String::as_str).collect()
    }

    fn find(&self, kid: Option<&str>) -> Option<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            // A token without `kid` is only unambiguous against a single-key set.
            None if self.all.len() == 1 => self.all.first().cloned(),
            None => None,
        }
    }
}

impl JwksCache {
    pub(crate) fn new(
        url: Url,
        template: Validation,
        options: JwksOptions,
        verified: Option<super::jwt::VerifiedCache>,
    ) -> Result<Self, ConfigError> {
        let client = build_client(options.timeout)?;
        Ok(Self {
            shared: Arc::new(Shared {
                url,
                client,
                template,
                options,
                keys: RwLock::default(),
                last_attempt: Arc::new(tokio::sync::Mutex::new(None)),
                background_refresh: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
                verified,
            }),
        })
    }

    /// The key for `kid`, refetching the set once (rate-limited) if the `kid` is unknown.
    pub(crate) async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerifyKey>, AuthError> {
        let set = self.shared.current();
        if let (Some(fetched_at), Some(key)) = (set.fetched_at, set.find(kid)) {
            if fetched_at.elapsed() > self.shared.options.cache_ttl {
                self.refresh_in_background();
            }
            return Ok(key);
        }
        self.shared.refresh_if_due().await;
        let set = self.shared.current();
        if set.fetched_at.is_none() {
            return Err(AuthError::KeysUnavailable);
        }
        set.find(kid).ok_or(AuthError::UnknownKey)
    }

    /// Fetches now, ignoring the rate limit; fails when the endpoint does not serve usable keys.
    pub(crate) async fn refresh_now(&self) -> Result<(), AuthError> {
        let last = self.shared.last_attempt.clone().lock_owned().await;
        self.shared.fetch_detached(last).await
    }

    fn refresh_in_background(&self) {
        if self.shared.background_refresh.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            shared.refresh_if_due().await;
            shared.background_refresh.store(false, Ordering::Release);
        });
    }
}

impl Shared {
    fn current(&self) -> Arc<KeySet> {
        // A poisoned lock only means a writer panicked mid-swap of an `Arc`; the value is intact.
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn refresh_if_due(self: &Arc<Self>) {
        let waiting_since = Instant::now();
        let last = self.last_attempt.clone().lock_owned().await;
        // Skip when another caller fetched while we waited for the lock (single-flight), or
        // when the last fetch is too recent (rate limit).
        if last.is_some_and(|at| {
            at >= waiting_since || at.elapsed() < self.options.min_refresh_interval
        }) {
            return;
        }
        // Failures are logged inside; callers fall back to the keys they already have.
        let _ = self.fetch_detached(last).await;
    }

    /// Fetches on a task of its own, which keeps the single-flight lock until the fetch is done
    /// and stamped, and waits for it.
    ///
    /// The caller may be dropped while it waits (its client disconnected, a timeout layer
    /// fired). Were the fetch part of the caller's future it would be cancelled too, unstamped,
    /// and the next caller in the queue would start another: with a hung identity provider and
    /// impatient clients that is one outbound connection per request, and
    /// `min_refresh_interval` never applies.
    async fn fetch_detached(
        self: &Arc<Self>,
        mut last: tokio::sync::OwnedMutexGuard<Option<Instant>>,
    ) -> Result<(), AuthError> {
        let shared = self.clone();
        let fetch = tokio::spawn(async move {
            let result = shared.fetch_and_store().await;
            // Stamped on completion, so that everyone who queued during this fetch skips theirs.
            *last = Some(Instant::now());
            result
        });
        // A join error means the runtime is shutting down (or the fetch panicked): no keys.
        fetch.await.unwrap_or(Err(AuthError::KeysUnavailable))
    }

    async fn fetch_and_store(&self) -> Result<(), AuthError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch().await {
            Ok(set) => {
                tracing::debug!(url = %self.url, keys = set.all.len(), "JWKS refreshed");
                let changed = self.current().kids() != set.kids();
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
                if let (true, Some(verified)) = (changed, &self.verified) {
                    // A key that left the set must not keep vouching for cached tokens.
                    verified.invalidate_all();
                }
                Ok(())
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "JWKS fetch failed; keeping the previous keys");
                Err(AuthError::KeysUnavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self
            .client
            .get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let body = read_body_limited(response).await.map_err(|e| e.to_string())?;
        let document: RawJwkSet =
            serde_json::from_slice(&body).map_err(|_| "body is not a JWKS document".to_owned())?;
        let mut set = KeySet { fetched_at: Some(Instant::now()), ..KeySet::default() };
        for raw in document.keys {
            // One unusable key (an encryption key, an unsupported curve) must not discard the rest.
            let Some((kid, key)) = self.usable_key(raw) else { continue };
            let key = Arc::new(key);
            if let Some(kid) = kid {
                set.by_kid.insert(kid, key.clone());
            }
            set.all.push(key);
        }
        if set.all.is_empty() {
            return Err("no usable signing keys in the JWKS".to_owned());
        }
        Ok(set)
    }

    fn usable_key(&self, raw: serde_json::Value) -> Option<(Option<String>, VerifyKey)> {
        let jwk: Jwk = serde_json::from_value(raw).ok()?;
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
        {
            return None;
        }
        let algorithms = jwk_algorithms(&jwk)?;
        let key = DecodingKey::from_jwk(&jwk).ok()?;
        Some((jwk.common.key_id.clone(), VerifyKey::new(key, algorithms, &self.template)))
    }
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}
