//! Turning plain async functions into [`ToolService`]s: [`with_auth`] for the original's
//! `(args, access_token, user_id)` handlers, [`tool_fn`] for handlers that want the whole
//! [`ToolContext`].

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value};

use super::{ToolCall, ToolContext, ToolError, ToolService};
use crate::secret::Secret;

/// What a tool handler may return.
pub trait ToolOutput {
    /// The MCP result.
    fn into_result(self) -> CallToolResult;
}

impl ToolOutput for CallToolResult {
    fn into_result(self) -> CallToolResult {
        self
    }
}

impl ToolOutput for String {
    fn into_result(self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::text(self)])
    }
}

impl ToolOutput for &'static str {
    fn into_result(self) -> CallToolResult {
        self.to_owned().into_result()
    }
}

impl ToolOutput for Value {
    /// Structured content, with its JSON text as the content block for older clients.
    fn into_result(self) -> CallToolResult {
        CallToolResult::structured(self)
    }
}

/// The original's `withAuth`: a handler of `(args, access_token, user_id)` becomes a tool
/// service that resolves the calling user's credential on every call (so a rotated or revoked
/// credential is seen at once) and refuses the call when there is none.
///
/// ```
/// use mcp_auth::tool::{ToolError, with_auth};
/// let tool = with_auth(|args, access_token, user_id| async move {
///     let _ = (args, access_token.expose());
///     Ok::<_, ToolError>(format!("hello {user_id}"))
/// });
/// ```
pub fn with_auth<F, Fut, R>(handler: F) -> ToolService
where
    F: Fn(Map<String, Value>, Secret, String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ToolError>> + Send + 'static,
    R: ToolOutput,
{
    ToolService::new(tower::service_fn(move |call: ToolCall| {
        let handler = handler.clone();
        async move {
            let credential = call.context.credential().await?;
            let user_id = call.context.user_id().to_owned();
            let args = Arc::unwrap_or_clone(call.arguments);
            handler(args, credential.secret().clone(), user_id).await.map(ToolOutput::into_result)
        }
    }))
}

/// A handler of `(args, context)`: the context gives the caller, the credential (on demand),
/// progress reporting and the cancellation token.
///
/// ```
/// use mcp_auth::tool::{ToolError, tool_fn};
/// let tool = tool_fn(|_args, ctx| async move {
///     ctx.report_progress(1.0, Some(1.0), Some("working".into())).await;
///     Ok::<_, ToolError>(format!("done for {}", ctx.user_id()))
/// });
/// ```
pub fn tool_fn<F, Fut, R>(handler: F) -> ToolService
where
    F: Fn(Map<String, Value>, ToolContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ToolError>> + Send + 'static,
    R: ToolOutput,
{
    ToolService::new(tower::service_fn(move |call: ToolCall| {
        let handler = handler.clone();
        async move {
            let args = Arc::unwrap_or_clone(call.arguments);
            handler(args, call.context).await.map(ToolOutput::into_result)
        }
    }))
}
