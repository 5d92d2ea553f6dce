//! Admission: the request path of `docs/architecture.md`, shared by every transport.
//!
//! Failed-auth budget of the peer → authenticate → per-user rate limit → resolve the credential
//! → find (or build) the instance and pin it. What a transport holds for the rest of the request
//! — an in-flight slot, the pin, the unread-bytes account — is [`Held`]. Only how a refusal is
//! reported differs between transports (an HTTP status, a stdio exit).

mod failed_auth;
mod identify;
mod rate_limit;
mod security_log;

use std::{net::IpAddr, sync::Arc, time::Duration};

use rmcp::ServerHandler;
use tokio::sync::OwnedSemaphorePermit;

pub(crate) use self::{
    failed_auth::FailedAuthLimiter, identify::Identify, rate_limit::UserRateLimit,
    security_log::SecurityLog,
};
use crate::{
    auth::{AuthError, AuthProvider, Principal, RequestContext},
    credentials::{Credential, CredentialError, TokenResolver},
    extras::{Extras, ExtrasAllowList},
    instances::{
        ActiveGuard, IdClaim, InstanceInputs, InstanceRefusal, InstanceRegistry, SessionUse,
        UserEntry, UserState,
    },
    limits::Limits,
    log_ids::UserIdLogging,
    metrics::ServerMetrics,
    middleware::rate_limit::RateLimitExceeded,
};

/// What admission runs on, for one wrapped server: who may call, how often, with which
/// credential, on which instance. Below the transports: each of them holds one and reports
/// its refusals in its own way.
pub(crate) struct Admitter<H> {
    pub(crate) auth: Arc<dyn AuthProvider>,
    /// Failed authentications per peer; `None` when disabled.
    pub(crate) failed_auth: Option<FailedAuthLimiter>,
    /// Scopes every request's token must hold.
    pub(crate) required_scopes: Vec<String>,
    pub(crate) security_log: Arc<SecurityLog>,
    /// How log lines name users.
    pub(crate) user_ids: UserIdLogging,
    /// Keyed by user id, local or shared; `None` when disabled.
    pub(crate) rate_limit: Option<UserRateLimit>,
    pub(crate) resolver: Option<Arc<dyn TokenResolver>>,
    pub(crate) resource_type: String,
    pub(crate) extras: ExtrasAllowList,
    pub(crate) registry: InstanceRegistry<H>,
    pub(crate) limits: Limits,
    /// Where this server's metrics go, when it has any.
    pub(crate) metrics: Option<ServerMetrics>,
}

/// Why a request was not admitted.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The peer failed to authenticate too often (before any token is looked at).
    PeerBlocked(RateLimitExceeded),
    Auth(AuthError),
    /// Authenticated, but the token lacks these of the server's required scopes.
    InsufficientScope(Vec<String>),
    /// Authenticated, but over the user's rate limit.
    RateLimited(RateLimitExceeded),
    /// The shared rate limiter could not be reached and fails closed; retry after this long.
    RateLimitUnavailable(Duration),
    Credential(CredentialError),
    /// Over one of the user's caps ([`Limits`](crate::Limits)).
    OverCap(Cap),
    /// The server as a whole is full: which bound, and when to retry.
    Busy(Full),
    /// The user's instance could not be built (the factory panicked).
    InstanceFailed,
}

impl Refusal {
    /// The refusal's fixed name for metrics: `Err` with the kind of a failed authentication
    /// (counted apart), `Ok` with the reason of any other refusal.
    pub(crate) fn metric(&self) -> Result<&'static str, &'static str> {
        Ok(match self {
            Self::Auth(AuthError::KeysUnavailable) => "keys_unavailable",
            Self::Auth(err) => return Err(err.kind()),
            Self::PeerBlocked(_) => "peer_blocked",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::RateLimited(_) => "rate_limited",
            Self::RateLimitUnavailable(_) => "rate_limit_unavailable",
            Self::Credential(err) if err.is_server_side() => "credential_unavailable",
            Self::Credential(_) => "credential_missing",
            Self::OverCap(_) => "over_cap",
            Self::Busy(_) => "busy",
            Self::InstanceFailed => "instance_failed",
        })
    }
}

/// Which per-user cap refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cap {
    InFlight,
    UnreadBytes,
    Sessions,
    SseSessions,
    Instances,
}

impl Cap {
    /// What the client is told (and the security log records).
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::InFlight => "Too many requests in flight for this user; wait for one to finish",
            Self::UnreadBytes => {
                "Too many unread response bytes for this user; read the pending responses first"
            }
            Self::Sessions => "Too many open sessions for this user; close one (DELETE) first",
            Self::SseSessions => "Too many open SSE sessions for this user; close one first",
            Self::Instances => "Too many server instances for this user (max_instances_per_user)",
        }
    }
}

/// A bound of the whole server that refused a request (`503` + `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerCap {
    /// `max_instances`: every instance is held by an active user.
    Instances,
    /// `max_sessions_total`.
    Sessions,
}

impl ServerCap {
    /// What the client is told: which bound, by its setting's name.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Instances => {
                "Server busy: every server instance (max_instances) is held by an active user; \
                 retry later"
            }
            Self::Sessions => {
                "Server busy: the server holds its most sessions (max_sessions_total); retry later"
            }
        }
    }

    /// The refusal, retried after `retry_after`.
    pub(crate) fn refusal(self, retry_after: Duration) -> Refusal {
        Refusal::Busy(Full { cap: self, retry_after })
    }
}

/// The server is full: which bound, and when to retry.
#[derive(Debug)]
pub(crate) struct Full {
    pub(crate) cap: ServerCap,
    pub(crate) retry_after: Duration,
}

/// An admitted caller and their instance entry, pinned for as long as this is held.
pub(crate) struct Admission<H> {
    pub(crate) principal: Principal,
    pub(crate) entry: Arc<UserEntry<H>>,
    pub(crate) pin: ActiveGuard,
}

impl<H> Admission<H> {
    /// Takes one of the user's in-flight slots, for a request whose answer the client waits for.
    pub(crate) fn start_request(self) -> Result<(Principal, Arc<UserEntry<H>>, Held), Refusal> {
        let user = self.entry.user.clone();
        if user.is_over_unread_bytes() {
            return Err(Refusal::OverCap(Cap::UnreadBytes));
        }
        let permit = user.try_start_request().ok_or(Refusal::OverCap(Cap::InFlight))?;
        let held = Held { _id: None, _pin: self.pin, _permit: Some(permit), _session: None, user };
        Ok((self.principal, self.entry, held))
    }

    /// Holds the entry for a stream, which takes no in-flight slot (sessions cap streams).
    pub(crate) fn hold(self) -> (Principal, Arc<UserEntry<H>>, Held) {
        let user = self.entry.user.clone();
        let held = Held { _id: None, _pin: self.pin, _permit: None, _session: None, user };
        (self.principal, self.entry, held)
    }
}

/// What a request or stream holds until it ends: the entry's pin, perhaps an in-flight slot and
/// its session's use and request id, and the user whose unread bytes its response counts
/// against.
pub(crate) struct Held {
    // Dropped first: a session's claimed ids never outnumber the in-flight slots held.
    _id: Option<IdClaim>,
    _pin: ActiveGuard,
    _permit: Option<OwnedSemaphorePermit>,
    _session: Option<SessionUse>,
    pub(crate) user: Arc<UserState>,
}

impl Held {
    /// Holds the use of the request's session too: the session does not hibernate meanwhile.
    pub(crate) fn using(mut self, session: Option<SessionUse>) -> Self {
        self._session = session;
        self
    }

    /// Holds the request's id in its session too: no other request of the session may use it
    /// meanwhile.
    pub(crate) fn claiming(mut self, id: Option<IdClaim>) -> Self {
        self._id = id;
        self
    }
}

impl<H: ServerHandler> Admitter<H> {
    /// Failed-auth budget → authenticate → required scopes → rate limit: who is calling, and
    /// their user id (one allocation, shared with the instance key).
    pub(crate) async fn authenticate(
        &self,
        ctx: &RequestContext<'_>,
    ) -> Result<(Principal, Arc<str>), Refusal> {
        let principal = Identify {
            auth: &*self.auth,
            failed_auth: self.failed_auth.as_ref(),
            required_scopes: &self.required_scopes,
            security_log: &self.security_log,
        }
        .run(ctx)
        .await?;
        let peer = ctx.peer_addr().map(|addr| addr.ip());
        // One allocation per request, shared by the rate-limit key and the instance key.
        let user_id: Arc<str> = principal.user_id().into();
        // Before the resolver and the registry: a refused flood must not reach the tenant
        // manager or build instances. After auth: the key is a verified user id, which a client
        // cannot rotate to escape its limit.
        if let Some(limiter) = &self.rate_limit {
            limiter.check(&user_id).await.map_err(|refusal| {
                // An unreachable shared limiter is no sign of abuse: not a security event.
                if matches!(refusal, Refusal::RateLimited(_)) {
                    self.security_log.refused("rate_limit", &user_id, peer);
                }
                refusal
            })?;
        }
        Ok((principal, user_id))
    }

    /// Failed-auth budget → authenticate → rate limit → resolve → instance, pinned.
    pub(crate) async fn admit(&self, ctx: &RequestContext<'_>) -> Result<Admission<H>, Refusal> {
        let (principal, user_id) = self.authenticate(ctx).await?;
        let peer = ctx.peer_addr().map(|addr| addr.ip());
        let credential = match &self.resolver {
            Some(resolver) => self.resolve(&**resolver, &principal).await?,
            None => Credential::empty(),
        };
        let extras = if self.extras.is_empty() {
            Extras::default()
        } else {
            self.extras.extract(ctx.headers(), ctx.query())
        };
        let inputs = InstanceInputs { credential, user_id, extras };
        // An entry evicted between the lookup and the pin is already closed: look again.
        for _ in 0..2 {
            let entry = self.registry.entry(&inputs).await.map_err(|refusal| {
                self.instance_refused(&refusal, &inputs.user_id, peer);
                match refusal {
                    InstanceRefusal::Full => {
                        ServerCap::Instances.refusal(self.limits.busy_retry_after)
                    }
                    InstanceRefusal::TooManyForUser => Refusal::OverCap(Cap::Instances),
                    InstanceRefusal::FactoryFailed => Refusal::InstanceFailed,
                }
            })?;
            let pin = entry.activity.pin();
            if !entry.shutdown.is_cancelled() {
                return Ok(Admission { principal, entry, pin });
            }
        }
        Err(ServerCap::Instances.refusal(self.limits.busy_retry_after))
    }

    /// Counts `refusal` in the server's metrics, when it has any.
    pub(crate) fn count_refusal(&self, refusal: &Refusal) {
        if let Some(metrics) = &self.metrics {
            match refusal.metric() {
                Ok(reason) => metrics.refused(reason),
                Err(kind) => metrics.auth_failed(kind),
            }
        }
    }

    /// The caller's credential, timed and counted when the server has metrics.
    async fn resolve(
        &self,
        resolver: &dyn crate::credentials::TokenResolver,
        principal: &Principal,
    ) -> Result<Credential, Refusal> {
        let started = self.metrics.as_ref().map(|_| std::time::Instant::now());
        let result = resolver.resolve(principal, &self.resource_type).await;
        if let (Some(metrics), Some(started)) = (&self.metrics, started) {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(CredentialError::NotFound { .. }) => "not_found",
                Err(CredentialError::Expired { .. }) => "expired",
                Err(_) => "unavailable",
            };
            metrics.resolved(outcome, started.elapsed());
        }
        result.map_err(Refusal::Credential)
    }

    fn instance_refused(&self, refusal: &InstanceRefusal, user_id: &str, peer: Option<IpAddr>) {
        let what = match refusal {
            InstanceRefusal::Full => "registry_full",
            InstanceRefusal::TooManyForUser => "instances_per_user",
            InstanceRefusal::FactoryFailed => return,
        };
        self.security_log.refused(what, user_id, peer);
    }
}
