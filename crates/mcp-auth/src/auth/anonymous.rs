//! [`AnonymousLoopbackProvider`]: admits callers without credentials — only from loopback, never
//! in production. For the official conformance suite, which sends no token, and for local tools.

use super::{AuthError, AuthProvider, Principal, RequestContext};
use crate::config::{ConfigError, Environment};

/// Authenticates every request from a loopback peer (or stdio) as one fixed user, without
/// looking at credentials. A request from any other address is refused, as is a request whose
/// peer address is unknown (serve with `WrappedServer::serve`, which records it).
///
/// Building it fails in production (`MCP_AUTH_ENV=production`): it switches authentication off.
///
/// ```
/// use mcp_auth::auth::AnonymousLoopbackProvider;
/// let provider = AnonymousLoopbackProvider::new("conformance")?;
/// # Ok::<_, mcp_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AnonymousLoopbackProvider {
    principal: Principal,
}

impl AnonymousLoopbackProvider {
    /// Admits loopback callers as `user_id`; refused when [`Environment::from_env`] is production.
    pub fn new(user_id: impl Into<String>) -> Result<Self, ConfigError> {
        Self::for_environment(user_id, Environment::from_env())
    }

    /// As [`new`](Self::new), for an explicit environment.
    pub fn for_environment(
        user_id: impl Into<String>,
        environment: Environment,
    ) -> Result<Self, ConfigError> {
        if environment.is_production() {
            return Err(ConfigError::invalid(
                "auth.anonymous_loopback",
                "enabled",
                "disabled in production: it admits callers without credentials",
            ));
        }
        let user_id = user_id.into();
        let principal = Principal::new(user_id.clone()).map_err(|_| {
            ConfigError::invalid("auth.anonymous_loopback.user_id", &user_id, "a valid user id")
        })?;
        // The user is not named: this provider does not know how the server's logs name users
        // (`UserIdLogging`), and the operator chose the id.
        tracing::warn!(
            "anonymous access from loopback is enabled: every loopback caller is one user"
        );
        Ok(Self { principal })
    }
}

#[async_trait::async_trait]
impl AuthProvider for AnonymousLoopbackProvider {
    async fn authenticate(&self, ctx: &RequestContext<'_>) -> Result<Principal, AuthError> {
        let local = match ctx.transport() {
            super::TransportKind::Stdio => true,
            _ => ctx.peer_addr().is_some_and(|addr| addr.ip().is_loopback()),
        };
        if local {
            Ok(self.principal.clone())
        } else {
            Err(AuthError::Rejected("anonymous access is only allowed from loopback".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::auth::TransportKind;

    #[tokio::test]
    async fn only_loopback_peers_are_admitted() {
        let provider =
            AnonymousLoopbackProvider::for_environment("anon", Environment::Development).unwrap();
        let headers = HeaderMap::new();
        let base = RequestContext::new(TransportKind::StreamableHttp, &headers);
        let local = base.with_peer_addr("127.0.0.1:5000".parse().unwrap());
        assert_eq!(provider.authenticate(&local).await.unwrap().user_id(), "anon");
        let v6 = base.with_peer_addr("[::1]:5000".parse().unwrap());
        assert!(provider.authenticate(&v6).await.is_ok());
        let remote = base.with_peer_addr("192.0.2.7:5000".parse().unwrap());
        assert!(provider.authenticate(&remote).await.is_err());
        assert!(provider.authenticate(&base).await.is_err(), "an unknown peer is not loopback");
    }

    #[test]
    fn production_refuses_it() {
        let err = AnonymousLoopbackProvider::for_environment("anon", Environment::Production)
            .unwrap_err();
        assert_eq!(err.key, "auth.anonymous_loopback");
    }
}
