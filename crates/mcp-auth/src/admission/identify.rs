//! Who is calling: the peer's failed-auth budget, the auth provider, the required scopes. The
//! first half of every admission, and all of what [`AuthLayer`](crate::http::AuthLayer) does.

use std::net::IpAddr;

use super::{FailedAuthLimiter, Refusal, SecurityLog};
use crate::auth::{AuthError, AuthProvider, Principal, RequestContext};

/// The parts the checks need, borrowed from whoever holds them.
pub(crate) struct Identify<'a> {
    pub(crate) auth: &'a dyn AuthProvider,
    pub(crate) failed_auth: Option<&'a FailedAuthLimiter>,
    pub(crate) required_scopes: &'a [String],
    pub(crate) security_log: &'a SecurityLog,
}

impl Identify<'_> {
    /// Failed-auth budget of the peer (before any token is looked at) → authenticate →
    /// required scopes.
    pub(crate) async fn run(&self, ctx: &RequestContext<'_>) -> Result<Principal, Refusal> {
        let peer = ctx.peer_addr().map(|addr| addr.ip());
        if let (Some(limiter), Some(peer)) = (self.failed_auth, peer) {
            limiter.check(peer).map_err(|exceeded| {
                self.security_log.peer_blocked(peer);
                Refusal::PeerBlocked(exceeded)
            })?;
        }
        let principal = match self.auth.authenticate(ctx).await {
            Ok(principal) => principal,
            Err(err) => return Err(self.failed(err, peer)),
        };
        if !self.required_scopes.is_empty() {
            let missing = crate::auth::missing_scopes(self.required_scopes, principal.scopes());
            if !missing.is_empty() {
                self.security_log.refused("scope", principal.user_id(), peer);
                return Err(Refusal::InsufficientScope(
                    missing.into_iter().map(str::to_owned).collect(),
                ));
            }
        }
        Ok(principal)
    }

    fn failed(&self, err: AuthError, peer: Option<IpAddr>) -> Refusal {
        // A server-side failure (keys unavailable) is not the caller's fault.
        if !err.is_server_side() {
            self.security_log.auth_failed(&err, peer);
            if let (Some(limiter), Some(peer)) = (self.failed_auth, peer) {
                limiter.record_failure(peer);
            }
        }
        Refusal::Auth(err)
    }
}
