//! [`ToolCall`] and [`ToolContext`]: the request a tool service handles.

use std::sync::Arc;

use rmcp::{
    Peer, RoleServer,
    model::{ProgressNotificationParam, ProgressToken},
};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::ToolError;
use crate::{
    auth::Principal,
    credentials::{Credential, TokenResolver},
    log_ids::UserIdLogging,
};

/// One call of a tool, as tower services and layers see it. Cheap to clone (retries clone it).
#[derive(Clone)]
pub struct ToolCall {
    /// The tool's name.
    pub name: Arc<str>,
    /// The arguments, as sent. `Debug` of a call prints argument *names* only.
    pub arguments: Arc<Map<String, Value>>,
    /// Who is calling, and the call's progress and cancellation handles.
    pub context: ToolContext,
}

impl ToolCall {
    /// A call of `name` with `arguments` in `context`.
    pub fn new(
        name: impl Into<Arc<str>>,
        arguments: Map<String, Value>,
        context: ToolContext,
    ) -> Self {
        Self { name: name.into(), arguments: Arc::new(arguments), context }
    }
}

impl std::fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Argument values may be secrets (a password argument, an API key): names only.
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .field("argument_names", &self.arguments.keys().collect::<Vec<_>>())
            .field("context", &self.context)
            .finish()
    }
}

/// Where a tool call's credential comes from: the resolver and resource type of the server.
#[derive(Clone)]
pub(crate) struct CredentialSource {
    pub(crate) resolver: Arc<dyn TokenResolver>,
    pub(crate) resource_type: Arc<str>,
}

/// The caller of a tool and the handles of the call.
#[derive(Clone)]
pub struct ToolContext {
    principal: Principal,
    credentials: Option<CredentialSource>,
    progress: Option<(Peer<RoleServer>, ProgressToken)>,
    cancellation: CancellationToken,
    idempotent: bool,
    user_ids: UserIdLogging,
}

impl ToolContext {
    /// A context for `principal`, with no credential source, progress channel or idempotency,
    /// naming the user in logs by the default [`UserIdLogging`].
    pub fn new(principal: Principal) -> Self {
        Self {
            principal,
            credentials: None,
            progress: None,
            cancellation: CancellationToken::new(),
            idempotent: false,
            user_ids: UserIdLogging::default(),
        }
    }

    /// Resolves credentials with `resolver` for `resource_type` (see [`Self::credential`]).
    pub fn with_resolver(
        mut self,
        resolver: Arc<dyn TokenResolver>,
        resource_type: impl Into<Arc<str>>,
    ) -> Self {
        self.credentials = Some(CredentialSource { resolver, resource_type: resource_type.into() });
        self
    }

    /// Sends progress to `peer` under the client's `token`.
    pub fn with_progress(mut self, peer: Peer<RoleServer>, token: ProgressToken) -> Self {
        self.progress = Some((peer, token));
        self
    }

    /// Uses `token` as the call's cancellation token.
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = token;
        self
    }

    /// Marks the call as idempotent (safe to retry).
    pub fn with_idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Names the caller in logs as `user_ids` says (the [`with_logging`] layer's `user` field).
    ///
    /// [`with_logging`]: crate::middleware::with_logging
    pub fn with_user_id_logging(mut self, user_ids: UserIdLogging) -> Self {
        self.user_ids = user_ids;
        self
    }

    /// How logs name the caller: see [`crate::log_ids`].
    pub fn user_id_logging(&self) -> &UserIdLogging {
        &self.user_ids
    }

    /// The caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's user id.
    pub fn user_id(&self) -> &str {
        self.principal.user_id()
    }

    /// Cancelled when the client cancels the call or a timeout layer gives up on it. Long
    /// handlers should `select!` on it.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }

    /// Whether the tool was registered as idempotent (retry layers only retry those by default).
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The caller's upstream credential, resolved now. Static mode (no resolver) gives the
    /// empty credential.
    pub async fn credential(&self) -> Result<Credential, ToolError> {
        match &self.credentials {
            Some(source) => {
                Ok(source.resolver.resolve(&self.principal, &source.resource_type).await?)
            }
            None => Ok(Credential::empty()),
        }
    }

    /// Reports progress, when the client asked for it (a no-op otherwise).
    pub async fn report_progress(
        &self,
        progress: f64,
        total: Option<f64>,
        message: Option<String>,
    ) {
        if let Some((peer, token)) = &self.progress {
            let mut param = ProgressNotificationParam::new(token.clone(), progress);
            if let Some(total) = total {
                param = param.with_total(total);
            }
            if let Some(message) = message {
                param = param.with_message(message);
            }
            // A client gone mid-call is not the handler's problem; the call is cancelled anyway.
            let _ = peer.notify_progress(param).await;
        }
    }
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("user_id", &self.principal.user_id())
            .field("idempotent", &self.idempotent)
            .field("cancelled", &self.cancellation.is_cancelled())
            .finish_non_exhaustive()
    }
}
