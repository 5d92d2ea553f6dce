//! stdio: one user per process, identity from the auth provider (use
//! [`EnvAuthProvider`](crate::auth::EnvAuthProvider)), JSON-RPC on stdout and nothing else.
//!
//! Logs must go to stderr: a single stray line on stdout corrupts the protocol (the original
//! package logged there). Every inbound message carries synthetic request [`Parts`] holding the
//! [`Principal`](crate::auth::Principal), so tools read the identity exactly as over HTTP.

use std::sync::Arc;

use http::{HeaderMap, request::Parts};
use rmcp::{
    RoleServer, ServerHandler, ServiceExt,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::{Transport, async_rw::AsyncRwTransport},
};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    admission::Refusal,
    auth::{AuthError, RequestContext, TransportKind},
    credentials::CredentialError,
    wrap::Shared,
};

/// Why a stdio server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdioError {
    /// The auth provider refused the process's identity.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The user's upstream credential could not be resolved.
    #[error("credential resolution failed: {0}")]
    Credential(#[from] CredentialError),
    /// The MCP session failed (initialisation or transport).
    #[error("MCP session failed: {0}")]
    Session(String),
}

pub(crate) async fn serve<H: ServerHandler>(shared: &Arc<Shared<H>>) -> Result<(), StdioError> {
    let (stdin, stdout) = rmcp::transport::stdio();
    serve_io(shared, stdin, stdout).await
}

/// Serves one user over any byte stream pair (stdin/stdout, or a duplex in tests).
pub(crate) async fn serve_io<H, R, W>(
    shared: &Arc<Shared<H>>,
    read: R,
    write: W,
) -> Result<(), StdioError>
where
    H: ServerHandler,
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let headers = HeaderMap::new();
    let ctx = RequestContext::new(TransportKind::Stdio, &headers);
    let admission = shared.admit(&ctx).await.map_err(|refusal| match refusal {
        Refusal::Auth(err) => StdioError::Auth(err),
        Refusal::Credential(err) => StdioError::Credential(err),
        // One admission per process: only a caller starting stdio servers in a loop gets here.
        Refusal::RateLimited(exceeded) | Refusal::PeerBlocked(exceeded) => {
            StdioError::Session(exceeded.to_string())
        }
        Refusal::OverCap(cap) => StdioError::Session(cap.message().to_owned()),
        Refusal::Busy(_) | Refusal::InstanceFailed => {
            StdioError::Session("the server could not be started".to_owned())
        }
    })?;
    tracing::info!(user = admission.principal.user_id(), "serving over stdio");
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.extensions.insert(admission.principal);
    let transport = WithIdentity { inner: AsyncRwTransport::new_server(read, write), parts };
    let instance = admission
        .entry
        .instance()
        .map_err(|_| StdioError::Session("the server could not be started".to_owned()))?;
    let running =
        instance.serve(transport).await.map_err(|e| StdioError::Session(e.to_string()))?;
    running.waiting().await.map_err(|e| StdioError::Session(e.to_string()))?;
    Ok(())
}

/// A transport that attaches the process's identity to every inbound message.
struct WithIdentity<T> {
    inner: T,
    parts: Parts,
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for WithIdentity<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        let mut message = self.inner.receive().await?;
        message.insert_extension(clone_parts(&self.parts));
        Some(message)
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

/// `Parts` is not `Clone`; rebuild the synthetic one with the same extensions.
fn clone_parts(parts: &Parts) -> Parts {
    let (mut copy, ()) = http::Request::new(()).into_parts();
    copy.extensions = parts.extensions.clone();
    copy
}
