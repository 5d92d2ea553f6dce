//! Forgetting one user on this server: after a revocation (the tenant manager now answers
//! `410`, the identity provider disabled the account), nothing cached may keep serving them.
//! Across replicas the same call runs on every replica, told by `mcp-auth-redis`'
//! `RedisRevocations`; this is the local half.

use rmcp::ServerHandler;

use super::WrappedServer;

impl<H: ServerHandler> WrappedServer<H> {
    /// Forgets everything this server caches of `user_id`: the resolved credential (so the
    /// next request asks the [`TokenResolver`](crate::TokenResolver) again), the verified
    /// tokens (authenticated anew), and the instances with their sessions and streams (a call
    /// in flight is cut). Other users are not touched. Returns how many instances were closed.
    ///
    /// The credential goes first: a request racing this call finds no cached credential to
    /// build a new instance with.
    pub async fn invalidate_user(&self, user_id: &str) -> usize {
        let admission = &self.shared.admission;
        if let Some(resolver) = &admission.resolver {
            resolver.invalidate(user_id, &admission.resource_type).await;
        }
        admission.auth.forget_user(user_id);
        let closed = admission.registry.forget_user(user_id).await;
        tracing::info!(user = %admission.user_ids.tag(user_id), closed, "user invalidated");
        closed
    }

    /// [`invalidate_user`](Self::invalidate_user) for every user at once: for a server that
    /// learns it may have missed revocations (it was cut off from the replicas' shared state
    /// while the record of them was trimmed) and cannot tell whose. Every cached credential
    /// and verified token goes, and every instance with its sessions: each user's next request
    /// starts afresh. Returns how many instances were closed.
    pub async fn invalidate_all(&self) -> usize {
        let admission = &self.shared.admission;
        if let Some(resolver) = &admission.resolver {
            resolver.invalidate_all().await;
        }
        admission.auth.forget_all();
        let closed = admission.registry.forget_all().await;
        tracing::warn!(closed, "every user invalidated");
        closed
    }
}
