//! stdio: one user per process, identity from the auth provider (use
//! [`EnvAuthProvider`](crate::auth::EnvAuthProvider)), JSON-RPC on stdout and nothing else.
//!
//! Logs must go to stderr: a single stray line on stdout corrupts the protocol (the original
//! package logged there). Every inbound message carries synthetic request
//! [`Parts`](http::request::Parts) holding the [`Principal`](crate::auth::Principal), so tools
//! read the identity exactly as over HTTP.
//!
//! Input is read a line at a time, each line at most 4 MiB (the HTTP body limit), and a line
//! that is not JSON or not a JSON-RPC message is answered with a JSON-RPC error (`-32700` /
//! `-32600`) instead of being dropped silently; see `lines.rs` for the rules.

mod lines;

use http::HeaderMap;
use rmcp::{ServerHandler, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};

use self::lines::{LineTransport, MAX_LINE_BYTES};

use crate::{
    admission::{Admitter, Refusal},
    auth::{AuthError, RequestContext, TransportKind},
    credentials::CredentialError,
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

pub(crate) async fn serve<H: ServerHandler>(admitter: &Admitter<H>) -> Result<(), StdioError> {
    let (stdin, stdout) = rmcp::transport::stdio();
    serve_io(admitter, stdin, stdout).await
}

/// Serves one user over any byte stream pair (stdin/stdout, or a duplex in tests).
pub(crate) async fn serve_io<H, R, W>(
    admitter: &Admitter<H>,
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
    let admission = admitter.admit(&ctx).await.map_err(|refusal| match refusal {
        Refusal::Auth(err) => StdioError::Auth(err),
        Refusal::InsufficientScope(missing) => StdioError::Session(format!(
            "the identity lacks the required scope(s): {}",
            missing.join(" ")
        )),
        Refusal::Credential(err) => StdioError::Credential(err),
        // One admission per process: only a caller starting stdio servers in a loop gets here.
        Refusal::RateLimited(exceeded) | Refusal::PeerBlocked(exceeded) => {
            StdioError::Session(exceeded.to_string())
        }
        Refusal::OverCap(cap) => StdioError::Session(cap.message().to_owned()),
        Refusal::RateLimitUnavailable(_) => {
            StdioError::Session("the rate limiter is unavailable; retry later".to_owned())
        }
        Refusal::Busy(_) | Refusal::InstanceFailed => {
            StdioError::Session("the server could not be started".to_owned())
        }
    })?;
    tracing::info!(user = %admitter.user_ids.tag(admission.principal.user_id()), "serving over stdio");
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.extensions.insert(admission.principal);
    let transport = LineTransport::new(read, write, parts, MAX_LINE_BYTES);
    let instance = admission
        .entry
        .instance()
        .map_err(|_| StdioError::Session("the server could not be started".to_owned()))?;
    let running =
        instance.serve(transport).await.map_err(|e| StdioError::Session(e.to_string()))?;
    running.waiting().await.map_err(|e| StdioError::Session(e.to_string()))?;
    Ok(())
}
