//! The HTTP call to the tenant manager: one `GET` per attempt, retried with jittered exponential
//! backoff on outages, and the mapping from what came back to a [`Fetched`] outcome.
//!
//! | tenant manager answers | outcome | retried |
//! |---|---|---|
//! | `200` with a usable body | the credential | — |
//! | `404`, `410` | not found | no |
//! | `401`, `403` (our service token was refused) | unavailable, logged as an error | no |
//! | `429` | unavailable, its `Retry-After` passed on | no |
//! | `5xx` without `Retry-After`, connect error, timeout | unavailable once attempts run out | yes |
//! | `5xx` with `Retry-After` | unavailable, its `Retry-After` passed on | no: it said when |
//! | anything else, or an unusable `200` body | unavailable | no |
//!
//! Log lines carry the user id, resource type, status, attempt and duration — never the service
//! token, the credential or a response body.

use std::time::{Duration, Instant};

use reqwest::{
    Response, StatusCode,
    header::{HeaderMap, RETRY_AFTER},
};
use tower::{
    retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff},
    util::rng::HasherRng,
};

use super::{
    response::{Unusable, parse_body},
    template::PathTemplate,
};
use crate::{
    credentials::Credential,
    http_client::{BodyError, read_body_limited},
    log_ids::UserIdLogging,
};

/// Longest wait between two attempts, whatever the base delay.
pub(super) const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// Up to 100 % of each backoff step is added at random, so that callers failing together do not
/// retry together.
const JITTER: f64 = 1.0;
/// Bounds on a `Retry-After` taken from the tenant manager: a manager asking for "0" or for a day
/// should not make clients spin or give up.
const RETRY_AFTER_BOUNDS: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));

/// What one fetch (all attempts included) established.
#[derive(Debug, Clone)]
pub(super) enum Fetched {
    /// The tenant manager returned a credential (its expiry is not checked here).
    Credential(Credential),
    /// The tenant manager has no such credential (`404`, `410`), or the user id cannot be
    /// addressed at all.
    NotFound,
    /// No usable answer: outage, refusal of our service token, or a malformed response.
    Unavailable {
        /// How long clients should wait before retrying.
        retry_after: Duration,
    },
}

/// The outcome of a single attempt.
enum Attempt {
    Done(Fetched),
    /// Worth another attempt (5xx, transport failure); `retry_after` applies if none is left.
    Retry {
        retry_after: Duration,
    },
}

/// Everything needed to call the tenant manager; built and validated by the builder.
#[derive(Debug)]
pub(super) struct Fetcher {
    pub(super) client: reqwest::Client,
    /// The tenant manager URL without trailing `/`.
    pub(super) base_url: String,
    pub(super) template: PathTemplate,
    /// `Authorization` (marked sensitive), `Accept` and the custom headers.
    pub(super) headers: HeaderMap,
    pub(super) max_retries: u32,
    pub(super) retry_base_delay: Duration,
    pub(super) default_retry_after: Duration,
    /// How log lines name users.
    pub(super) user_ids: UserIdLogging,
}

/// A backoff session starting at `base` and doubling up to [`MAX_RETRY_DELAY`].
///
/// Each call seeds a new [`HasherRng`]: `make_backoff` clones the maker's RNG, so a maker kept
/// for the resolver's lifetime would hand every fetch the same "random" delays, and keys failing
/// together would retry in lockstep.
pub(super) fn new_backoff(
    base: Duration,
) -> Result<ExponentialBackoff, tower::retry::backoff::InvalidBackoff> {
    ExponentialBackoffMaker::new(base, base.max(MAX_RETRY_DELAY), JITTER, HasherRng::default())
        .map(|mut maker| maker.make_backoff())
}

impl Fetcher {
    /// Fetches the credential of `user_id` for `resource_type`, retrying outages.
    pub(super) async fn fetch(&self, user_id: &str, resource_type: &str) -> Fetched {
        let Some(path) = self.template.render(user_id, resource_type) else {
            tracing::warn!(
                user = %self.user_ids.tag(user_id),
                resource_type,
                "user id or resource type cannot be placed in the endpoint path (empty, `.` or \
                 `..`); treating the credential as not found"
            );
            return Fetched::NotFound;
        };
        let url = format!("{}{path}", self.base_url);
        // The parameters were validated when the resolver was built, so this is always `Some`;
        // were it not, retries would merely run without delay.
        let mut backoff = new_backoff(self.retry_base_delay).ok();
        let attempts = self.max_retries.saturating_add(1);
        for attempt in 1..=attempts {
            let started = Instant::now();
            let retry_after = match self.attempt(&url, user_id, resource_type, attempt).await {
                Attempt::Done(fetched) => return fetched,
                Attempt::Retry { retry_after } => retry_after,
            };
            if attempt == attempts {
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    attempts,
                    "tenant manager unavailable after all attempts"
                );
                return Fetched::Unavailable { retry_after };
            }
            tracing::debug!(
                user = %self.user_ids.tag(user_id),
                resource_type,
                attempt,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "retrying the tenant manager after backoff"
            );
            if let Some(backoff) = backoff.as_mut() {
                backoff.next_backoff().await;
            }
        }
        // Only reachable with zero attempts, which `saturating_add(1)` rules out.
        Fetched::Unavailable { retry_after: self.default_retry_after }
    }

    async fn attempt(
        &self,
        url: &str,
        user_id: &str,
        resource_type: &str,
        attempt: u32,
    ) -> Attempt {
        let started = Instant::now();
        let sent = self.client.get(url).headers(self.headers.clone()).send().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    attempt,
                    elapsed_ms,
                    timeout = error.is_timeout(),
                    connect = error.is_connect(),
                    error = %error.without_url(),
                    "tenant manager request failed"
                );
                return Attempt::Retry { retry_after: self.default_retry_after };
            }
        };
        let status = response.status();
        let code = status.as_u16();
        match status {
            StatusCode::OK => self.read_credential(response, user_id, resource_type, attempt).await,
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                let user = self.user_ids.tag(user_id);
                tracing::debug!(%user, resource_type, status = code, "no credential upstream");
                Attempt::Done(Fetched::NotFound)
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                // Not the caller's fault: our service token is wrong, expired or revoked.
                tracing::error!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    status = code,
                    "the tenant manager rejected the service token; check tenant_api.service_token"
                );
                Attempt::Done(self.unavailable(None))
            }
            StatusCode::TOO_MANY_REQUESTS => {
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    status = code,
                    "tenant manager rate-limited us"
                );
                Attempt::Done(self.unavailable(retry_after(response.headers())))
            }
            _ if status.is_server_error() => {
                let asked = retry_after(response.headers());
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    attempt,
                    elapsed_ms,
                    status = code,
                    retry_after_s = asked.map(|d| d.as_secs()),
                    "tenant manager failed"
                );
                match asked {
                    Some(_) => Attempt::Done(self.unavailable(asked)),
                    None => Attempt::Retry { retry_after: self.default_retry_after },
                }
            }
            _ => {
                // Redirects land here too: the client does not follow them (see `build_client`).
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    status = code,
                    "unexpected status from the tenant manager"
                );
                Attempt::Done(self.unavailable(None))
            }
        }
    }

    async fn read_credential(
        &self,
        response: Response,
        user_id: &str,
        resource_type: &str,
        attempt: u32,
    ) -> Attempt {
        let body = match read_body_limited(response).await {
            Ok(body) => body,
            Err(BodyError::Transport(error)) => {
                // A timeout or a reset mid-body is as transient as one before the headers.
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    attempt,
                    timeout = error.is_timeout(),
                    "reading the tenant manager's response failed"
                );
                return Attempt::Retry { retry_after: self.default_retry_after };
            }
            Err(BodyError::TooLarge) => {
                let user = self.user_ids.tag(user_id);
                tracing::warn!(%user, resource_type, "tenant manager response body too large");
                return Attempt::Done(self.unavailable(None));
            }
        };
        match parse_body(&body) {
            Ok(credential) => {
                let user = self.user_ids.tag(user_id);
                tracing::debug!(%user, resource_type, attempt, "credential fetched");
                Attempt::Done(Fetched::Credential(credential))
            }
            Err(Unusable(why)) => {
                tracing::warn!(
                    user = %self.user_ids.tag(user_id),
                    resource_type,
                    reason = why,
                    "unusable tenant manager response"
                );
                Attempt::Done(self.unavailable(None))
            }
        }
    }

    fn unavailable(&self, retry_after: Option<Duration>) -> Fetched {
        Fetched::Unavailable { retry_after: retry_after.unwrap_or(self.default_retry_after) }
    }
}

/// A `Retry-After` in seconds, clamped to [`RETRY_AFTER_BOUNDS`]. The HTTP-date form is rare for
/// internal services and is ignored (the default applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    let (min, max) = RETRY_AFTER_BOUNDS;
    Some(Duration::from_secs(seconds).clamp(min, max))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_seconds_are_clamped_and_dates_ignored() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("0"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3600)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn backoff_grows_and_stays_under_the_cap() {
        let mut backoff = new_backoff(Duration::from_millis(100)).unwrap();
        for step in 0..8u32 {
            // The returned `Sleep` knows its deadline, so no time has to pass.
            let sleep = backoff.next_backoff();
            let delay = sleep.deadline() - tokio::time::Instant::now();
            let floor = (Duration::from_millis(100) * 2u32.pow(step)).min(MAX_RETRY_DELAY);
            assert!(delay + Duration::from_millis(5) >= floor, "step {step}: {delay:?}");
            assert!(delay <= MAX_RETRY_DELAY, "step {step}: {delay:?}");
        }
    }
}
