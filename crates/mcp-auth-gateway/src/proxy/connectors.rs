//! The two kinds of upstream: a supervised child process over stdio, and a Streamable HTTP
//! server.

use std::{collections::HashMap, sync::Arc};

use http::{HeaderName, HeaderValue};
use rmcp::transport::{
    StreamableHttpClientTransport, async_rw::AsyncRwTransport,
    streamable_http_client::StreamableHttpClientTransportConfig,
};

use super::{
    client::UpstreamClient,
    counted::Counted,
    link::{BoxFuture, ConnectError, Connection, Connector},
};
use crate::child::{ChildSpec, Launcher, WarmPool};

/// Spawns the user's child (through the supervisor) and speaks MCP over its stdin/stdout.
pub struct StdioConnector {
    launcher: Arc<Launcher>,
    /// The child to run, or why this user's child cannot be run (a templated value was refused;
    /// the message names the key and the rule, never the value).
    spec: Result<ChildSpec, String>,
    /// Children started ahead, for servers that need nothing of the user to start.
    warm: Option<WarmPool>,
}

impl StdioConnector {
    /// A connector for `spec`, or one that reports `refusal` on every attempt.
    pub fn new(launcher: Arc<Launcher>, spec: Result<ChildSpec, String>) -> Self {
        Self { launcher, spec, warm: None }
    }

    /// Takes the first child from `pool` when one is ready (its command line and environment
    /// are `spec`'s: the config check allows a pool only for servers whose templates name no
    /// variable), and spawns one as usual otherwise.
    pub fn with_warm_pool(mut self, pool: WarmPool) -> Self {
        self.warm = Some(pool);
        self
    }
}

impl Connector for StdioConnector {
    fn connect(&self, client: UpstreamClient) -> BoxFuture<'_, Result<Connection, ConnectError>> {
        Box::pin(async move {
            let spec =
                self.spec.as_ref().map_err(|refusal| ConnectError::Spawn(refusal.clone()))?;
            let mut child = match self.warm.as_ref().and_then(WarmPool::take) {
                Some(child) => {
                    // Its stderr lines say `user=warm`: this line ties its pid to the user.
                    tracing::info!(
                        server = %spec.server,
                        user = %spec.user_hash,
                        pid = child.id().unwrap_or_default(),
                        "serving the user with a warm child"
                    );
                    child
                }
                None => self
                    .launcher
                    .spawn(spec)
                    .map_err(|e| ConnectError::Spawn(e.kind().to_string()))?,
            };
            let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
                child.shutdown().await;
                return Err(ConnectError::Spawn("the child has no stdin/stdout".into()));
            };
            let transport = AsyncRwTransport::new_client(stdout, stdin);
            let routes = client.routes.clone();
            match client.start(Counted::new(transport, routes)).await {
                Ok(service) => Ok(Connection { service, child: Some(child) }),
                Err(error) => {
                    child.shutdown().await;
                    Err(ConnectError::initialize(&error))
                }
            }
        })
    }
}

/// Speaks MCP to a Streamable HTTP upstream, with this user's headers and nothing of the
/// client's: requests to the upstream are built afresh, so the caller's `Authorization`,
/// `Cookie` and other headers cannot reach it.
pub struct HttpConnector {
    client: reqwest::Client,
    url: Arc<str>,
    headers: Result<HashMap<HeaderName, HeaderValue>, String>,
}

impl HttpConnector {
    /// A connector to `url` sending `headers` (already rendered for the user; values that hold a
    /// credential should be marked sensitive), or one that reports `refusal` on every attempt.
    pub fn new(
        client: reqwest::Client,
        url: impl Into<Arc<str>>,
        headers: Result<HashMap<HeaderName, HeaderValue>, String>,
    ) -> Self {
        Self { client, url: url.into(), headers }
    }
}

impl Connector for HttpConnector {
    fn connect(&self, client: UpstreamClient) -> BoxFuture<'_, Result<Connection, ConnectError>> {
        Box::pin(async move {
            let headers = self.headers.clone().map_err(ConnectError::Spawn)?;
            let config = StreamableHttpClientTransportConfig::with_uri(self.url.clone())
                .custom_headers(headers);
            let transport = StreamableHttpClientTransport::with_client(self.client.clone(), config);
            let routes = client.routes.clone();
            match client.start(Counted::new(transport, routes)).await {
                Ok(service) => Ok(Connection { service, child: None }),
                Err(error) => Err(ConnectError::initialize(&error)),
            }
        })
    }
}
