//! [`UserEntry`]: everything held for one user — their instance, their Streamable HTTP service
//! and its sessions.
//!
//! Each user gets a `StreamableHttpService` with a session manager of their own. That is what
//! binds sessions to users: another user's session id is simply unknown to this manager.

use std::sync::Arc;

use rmcp::{
    ServerHandler,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

use super::InstanceMode;
use crate::{credentials::Credential, extras::Extras, wrap::ServerFactory};

/// The inputs an instance is built from.
#[derive(Clone)]
pub(crate) struct InstanceInputs {
    pub(crate) credential: Credential,
    pub(crate) user_id: Arc<str>,
    pub(crate) extras: Extras,
}

/// One user's instance(s) and HTTP sessions.
pub(crate) struct UserEntry<H> {
    pub(crate) inputs: InstanceInputs,
    shared: Option<Arc<H>>,
    factory: Arc<ServerFactory<H>>,
    pub(crate) http: StreamableHttpService<Arc<H>, LocalSessionManager>,
    pub(crate) sessions: Arc<LocalSessionManager>,
    /// Cancelled when the entry is evicted: ends its streams and sessions.
    pub(crate) shutdown: CancellationToken,
}

impl<H: ServerHandler> UserEntry<H> {
    pub(crate) fn new(
        inputs: InstanceInputs,
        mode: InstanceMode,
        factory: Arc<ServerFactory<H>>,
        http_config: &StreamableHttpServerConfig,
        parent_shutdown: &CancellationToken,
    ) -> Arc<Self> {
        let shutdown = parent_shutdown.child_token();
        let sessions = Arc::new(LocalSessionManager::default());
        let shared = match mode {
            InstanceMode::PerUser => Some(Arc::new(build(&*factory, &inputs))),
            _ => None,
        };
        Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let weak = weak.clone();
            let config = http_config.clone().with_cancellation_token(shutdown.clone());
            // rmcp calls this once per session (legacy era) or per POST (stateless era), and
            // again for schema lookups; hand out the shared instance where there is one.
            let http = StreamableHttpService::new(
                move || {
                    weak.upgrade()
                        .map(|entry| entry.instance())
                        .ok_or_else(|| std::io::Error::other("the user's instance was evicted"))
                },
                sessions.clone(),
                config,
            );
            Self { inputs, shared, factory, http, sessions, shutdown }
        })
    }

    /// The instance to serve with: the user's shared one, or a fresh one per session.
    pub(crate) fn instance(&self) -> Arc<H> {
        match &self.shared {
            Some(shared) => shared.clone(),
            None => Arc::new(build(&*self.factory, &self.inputs)),
        }
    }

    /// Ends every stream and session of this entry.
    pub(crate) async fn close(&self) {
        self.shutdown.cancel();
        let ids: Vec<_> = self.sessions.sessions.read().await.keys().cloned().collect();
        for id in ids {
            use rmcp::transport::streamable_http_server::SessionManager as _;
            let _ = self.sessions.close_session(&id).await;
        }
    }
}

fn build<H>(factory: &ServerFactory<H>, inputs: &InstanceInputs) -> H {
    factory(inputs.credential.secret().clone(), inputs.user_id.to_string(), inputs.extras.clone())
}
