//! Revocations across replicas: with `[redis]`, every gateway listens on the deployment's
//! revocation record and drops what it holds of a revoked user (cached credential, verified
//! tokens, instances and their children) on every mount; `mcp-auth invalidate --config FILE
//! USER` records one. The record, its epoch and the catching up after a disconnection are
//! `mcp_auth_redis::RedisRevocations`'.

use std::path::Path;

use mcp_auth::WrappedServer;
use mcp_auth_redis::{RedisConnection, RedisRevocations, RevocationListener, Revoked};

use crate::{config, proxy::ProxyServer};

/// Starts applying the revocations recorded in `redis` to `servers`.
pub(super) fn listen(
    redis: &RedisConnection,
    servers: &[WrappedServer<ProxyServer>],
) -> RevocationListener {
    let servers = servers.to_vec();
    RedisRevocations::new(redis).listen(move |revoked| {
        let servers = servers.clone();
        async move {
            let closed = match &revoked {
                Revoked::User(user_id) => invalidate_user(&servers, user_id).await,
                Revoked::Everyone => invalidate_all(&servers).await,
            };
            tracing::debug!(closed, everyone = revoked == Revoked::Everyone, "revocation applied");
        }
    })
}

/// Drops what every mount holds of `user_id`; returns how many instances were closed.
async fn invalidate_user(servers: &[WrappedServer<ProxyServer>], user_id: &str) -> usize {
    let mut closed = 0;
    for server in servers {
        closed += server.invalidate_user(user_id).await;
    }
    closed
}

async fn invalidate_all(servers: &[WrappedServer<ProxyServer>]) -> usize {
    let mut closed = 0;
    for server in servers {
        closed += server.invalidate_all().await;
    }
    closed
}

/// `mcp-auth invalidate --config FILE USER…`: records each user's revocation in the config's
/// `[redis]`; every replica applies it within a second. Returns the last entry's id (the new
/// epoch), or a message that names no user.
pub fn invalidate_command(path: &Path, user_ids: &[String]) -> Result<String, String> {
    let redis = config::load_redis(path).map_err(|report| report.to_string())?;
    let Some(section) = &redis else {
        return Err(format!(
            "{} has no [redis] section: revocations reach replicas through Redis (a single \
             gateway without it drops a user's cached credential within `cache_ttl`)",
            path.display()
        ));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(async {
        let connection = RedisConnection::new(&section.connection_config())
            .map_err(|error| error.to_string())?;
        let record = RedisRevocations::new(&connection);
        let mut epoch = String::new();
        for user_id in user_ids {
            epoch = record.revoke(user_id).await.map_err(|error| error.to_string())?;
        }
        Ok(epoch)
    })
}
