//! [`Shared`]: what every HTTP route of one wrapped server reaches — its admission, and the
//! state of the transports above it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{
    Challenges, CredentialHeaders, HttpOptions, SessionHandler, SseSessions, StatelessHandler,
};
use crate::{admission::Admitter, progress::ProgressMonitor, readiness::Readiness};

pub(crate) struct Shared<H> {
    /// Who may call, how often, with which credential, on which instance.
    pub(crate) admission: Admitter<H>,
    /// Stripped from every admitted request before the wrapped server sees it.
    pub(crate) credential_headers: CredentialHeaders,
    pub(crate) http: HttpOptions,
    pub(crate) sse: SseSessions,
    /// Cancelled when shutdown begins: the accept loop stops, connections close once their
    /// requests are answered, and listen-only streams (a session's GET stream) end. Requests
    /// in flight are not cut by it: the instances close after the connections have drained.
    pub(crate) shutdown: CancellationToken,
    /// What `GET {base}/ready` answers.
    pub(crate) readiness: Readiness,
    /// Answers stateless-era POSTs before rmcp does, when set.
    pub(crate) stateless: Option<Arc<StatelessHandler<H>>>,
    /// Serves session-era Streamable HTTP instead of rmcp, when set.
    pub(crate) sessions: Option<Arc<SessionHandler<H>>>,
    /// What `401`/`403` challenges name.
    pub(crate) challenges: Challenges,
    /// The progress streams, when monitored.
    pub(crate) progress: Option<Arc<ProgressMonitor>>,
}
