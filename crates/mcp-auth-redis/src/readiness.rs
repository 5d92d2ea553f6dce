//! [`RedisReadiness`]: `GET {base}/ready` says "not ready" while Redis does not answer, so a
//! load balancer prefers replicas that can reach the shared state. `/health` is unaffected: a
//! replica cut off from Redis is not dead, and restarting it would not bring Redis back.

use futures::future::BoxFuture;
use mcp_auth::readiness::ReadinessCheck;

use crate::RedisConnection;

/// A [`ReadinessCheck`] named `redis`: `PING` within the connection's timeout.
#[derive(Debug, Clone)]
pub struct RedisReadiness {
    connection: RedisConnection,
}

impl RedisReadiness {
    /// Checks `connection`.
    pub fn new(connection: &RedisConnection) -> Self {
        Self { connection: connection.clone() }
    }
}

impl ReadinessCheck for RedisReadiness {
    fn name(&self) -> &str {
        "redis"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(self.connection.ping())
    }
}
