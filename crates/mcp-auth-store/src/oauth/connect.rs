//! [`OAuthConnector`]: the "connect your account" flow — OAuth 2.1 authorization code with PKCE
//! (S256) — that puts a user's upstream access and refresh tokens into the [`CredentialStore`].
//!
//! In the request path: an authenticated user asks to connect a resource; the gateway calls
//! [`authorize`](OAuthConnector::authorize) and redirects the user to the URL it returns. The
//! provider sends the user back to the redirect URI with `code` and `state`; the gateway, having
//! authenticated the user again, calls [`complete`](OAuthConnector::complete), which checks the
//! `state` (issued here, to this user, not expired, not used before), redeems the code with the
//! PKCE verifier and stores the tokens.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope};
use url::Url;

use super::{
    OAuthError, OAuthProvider, OAuthRefresher,
    client::Providers,
    flight::Flights,
    refresh::{Key, Outcome},
    state::PendingStates,
};
use crate::store::{CredentialInfo, CredentialStore};

/// The actor named in the audit log for what the OAuth flows store, unless told otherwise.
pub const DEFAULT_OAUTH_ACTOR: &str = "oauth";
/// How long a `state` is accepted by default.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);
/// How many connections may be pending at once by default (the least recently used go first).
pub const DEFAULT_MAX_PENDING: u64 = 10_000;
/// How long a token request may take by default.
pub const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects users' upstream accounts through OAuth 2.1 and stores their tokens. Cheap to clone.
///
/// ```no_run
/// # async fn demo(store: mcp_auth_store::CredentialStore, provider: mcp_auth_store::oauth::OAuthProvider)
/// # -> Result<(), mcp_auth_store::oauth::OAuthError> {
/// use mcp_auth_store::oauth::OAuthConnector;
/// let connector = OAuthConnector::new(store, [provider])?;
/// let request = connector.authorize("alice", "github")?;
/// // … redirect alice to request.url; the provider brings her back with code and state …
/// # let (code, state) = (String::new(), String::new());
/// let stored = connector.complete("alice", &state, &code).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthConnector {
    pub(crate) shared: Arc<Shared>,
}

/// What the connector and its refreshers share.
pub(crate) struct Shared {
    pub(crate) providers: Providers,
    pub(crate) store: CredentialStore,
    pub(crate) actor: String,
    /// The refreshes in flight, shared by every refresher of this connector.
    pub(crate) flights: Flights<Key, Outcome>,
    states: PendingStates,
}

impl std::fmt::Debug for OAuthConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConnector")
            .field("store", &self.shared.store)
            .field("actor", &self.shared.actor)
            .finish_non_exhaustive()
    }
}

/// Where to send a user to connect an account: the provider's authorize URL, carrying the PKCE
/// challenge and the `state`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The authorize URL (a `302`/`303` target).
    pub url: Url,
    /// The `state` in the URL; the callback must bring it back.
    pub state: String,
    /// When the `state` stops being accepted.
    pub expires_at: SystemTime,
}

/// Settings of an [`OAuthConnector`] beyond its providers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectorOptions {
    /// How long a `state` is accepted ([`DEFAULT_STATE_TTL`]).
    pub state_ttl: Duration,
    /// Most connections pending at once ([`DEFAULT_MAX_PENDING`]).
    pub max_pending: u64,
    /// The audit log's actor for stored tokens ([`DEFAULT_OAUTH_ACTOR`]).
    pub actor: String,
    /// The HTTP client for token requests; `None` builds one with [`DEFAULT_TOKEN_TIMEOUT`] and
    /// no redirects. One given here must not follow redirects either.
    pub http: Option<reqwest::Client>,
}

impl Default for ConnectorOptions {
    fn default() -> Self {
        Self {
            state_ttl: DEFAULT_STATE_TTL,
            max_pending: DEFAULT_MAX_PENDING,
            actor: DEFAULT_OAUTH_ACTOR.to_owned(),
            http: None,
        }
    }
}

impl ConnectorOptions {
    /// Sets how long a `state` is accepted.
    pub fn with_state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// Sets how many connections may be pending at once.
    pub fn with_max_pending(mut self, max_pending: u64) -> Self {
        self.max_pending = max_pending;
        self
    }

    /// Sets the audit log's actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sets the HTTP client for token requests (it must not follow redirects).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
}

impl OAuthConnector {
    /// A connector storing into `store`, for `providers` (one per resource type), with
    /// default [options](ConnectorOptions).
    pub fn new(
        store: CredentialStore,
        providers: impl IntoIterator<Item = OAuthProvider>,
    ) -> Result<Self, OAuthError> {
        Self::with_options(store, providers, ConnectorOptions::default())
    }

    /// A connector with `options`.
    pub fn with_options(
        store: CredentialStore,
        providers: impl IntoIterator<Item = OAuthProvider>,
        options: ConnectorOptions,
    ) -> Result<Self, OAuthError> {
        let http = match options.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(DEFAULT_TOKEN_TIMEOUT)
                .build()
                .map_err(|error| OAuthError::Config {
                    field: "http",
                    reason: format!("cannot build the HTTP client: {error}"),
                })?,
        };
        let shared = Shared {
            providers: Providers::new(providers, http)?,
            store,
            actor: options.actor,
            flights: Flights::default(),
            states: PendingStates::new(options.state_ttl, options.max_pending),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// How many connections are pending (started, not yet called back, not yet forgotten).
    pub fn pending_connections(&self) -> u64 {
        self.shared.states.len()
    }

    /// A [`Refresher`](crate::Refresher) for the credentials this connector stores, with its
    /// default settings.
    pub fn refresher(&self) -> OAuthRefresher {
        OAuthRefresher::new(self)
    }

    /// Starts connecting `resource_type` for `user_id`: a fresh `state` bound to both and a PKCE
    /// verifier are kept pending; the returned URL carries the state and the S256 challenge.
    pub fn authorize(
        &self,
        user_id: &str,
        resource_type: &str,
    ) -> Result<AuthorizationRequest, OAuthError> {
        let (provider, client) = self.shared.providers.get(resource_type).ok_or_else(|| {
            OAuthError::UnknownProvider { resource_type: resource_type.to_owned() }
        })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        for (name, value) in &provider.authorize_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, state) = request.url();
        let state = state.into_secret();
        let expires_at = self.shared.states.insert(state.clone(), user_id, resource_type, verifier);
        let expires_at = SystemTime::now() + expires_at.saturating_duration_since(Instant::now());
        Ok(AuthorizationRequest { url, state, expires_at })
    }

    /// Completes the connection `state` names, for the authenticated `user_id`: redeems `code`
    /// with the PKCE verifier and stores the tokens (replacing any earlier credential, and
    /// lifting a `needs_reconnect`). The `state` is spent whatever the outcome.
    pub async fn complete(
        &self,
        user_id: &str,
        state: &str,
        code: &str,
    ) -> Result<CredentialInfo, OAuthError> {
        let pending = self.take_live(state)?;
        if pending.user_id != user_id {
            tracing::warn!(
                resource_type = pending.resource_type,
                "an OAuth callback brought another user's state; refused"
            );
            return Err(OAuthError::StateMismatch);
        }
        self.redeem(&pending, code).await
    }

    /// Completes the connection `state` names for the user who started it: for a callback that
    /// arrives with no credential of its own (a browser redirected by the provider). The state
    /// is the proof: 128 random bits, issued to that user alone by [`authorize`](Self::authorize),
    /// single use and expiring. Spent whatever the outcome.
    ///
    /// `iss` is the callback's `iss` parameter (RFC 9207): when the provider has an
    /// [issuer](super::OAuthProvider::with_issuer), it must be present and equal to it, else
    /// [`OAuthError::IssuerMismatch`] and no code is redeemed.
    pub async fn complete_callback(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
    ) -> Result<CredentialInfo, OAuthError> {
        let pending = self.take_live(state)?;
        let expected = self
            .shared
            .providers
            .get(&pending.resource_type)
            .and_then(|(p, _)| p.issuer.as_deref());
        if let Some(expected) = expected
            && iss != Some(expected)
        {
            tracing::warn!(
                resource_type = pending.resource_type,
                "an OAuth callback came with another issuer (or none); refused"
            );
            return Err(OAuthError::IssuerMismatch);
        }
        self.redeem(&pending, code).await
    }

    /// The pending connection of `state`, removed; refused when unknown or expired.
    fn take_live(&self, state: &str) -> Result<std::sync::Arc<super::state::Pending>, OAuthError> {
        let pending = self.shared.states.take(state).ok_or(OAuthError::UnknownState)?;
        if pending.expires_at <= Instant::now() {
            return Err(OAuthError::ExpiredState);
        }
        Ok(pending)
    }

    /// Redeems `code` for `pending`'s user and resource, and stores the tokens.
    async fn redeem(
        &self,
        pending: &super::state::Pending,
        code: &str,
    ) -> Result<CredentialInfo, OAuthError> {
        let user_id = pending.user_id.as_str();
        let verifier = PkceCodeVerifier::new(pending.verifier.secret().clone());
        let resource_type = &pending.resource_type;
        let credential = self.shared.providers.exchange_code(resource_type, code, verifier).await?;
        let shared = &self.shared;
        let info = shared.store.put(user_id, resource_type, credential, &shared.actor).await?;
        tracing::info!(resource_type, "an upstream account was connected");
        Ok(info)
    }
}
