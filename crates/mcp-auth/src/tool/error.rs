//! [`ToolError`]: why a tool call did not produce a result, and how each reason reaches the
//! client (a JSON-RPC error, or a tool result with `isError: true`).

use std::time::Duration;

use rmcp::{ErrorData, model::CallToolResult};
use serde_json::json;

use crate::{auth::AuthError, credentials::CredentialError};

/// JSON-RPC error code for a rate-limited tool call (implementation-defined server error range,
/// JSON-RPC 2.0 §5.1). `data.retryAfter` carries the seconds to wait.
pub const RATE_LIMITED_CODE: i32 = -32029;
/// JSON-RPC error code for a tool call that exceeded its time limit.
pub const TIMED_OUT_CODE: i32 = -32028;

/// Why a tool call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The caller could not be authenticated (stdio without identity, a missing principal).
    #[error("authentication failed: {0}")]
    Unauthenticated(#[from] AuthError),
    /// The caller's upstream credential could not be resolved.
    #[error("{0}")]
    Credential(#[from] CredentialError),
    /// Over the caller's rate limit.
    #[error("rate limit exceeded; retry after {} s", whole_seconds(*retry_after))]
    RateLimited {
        /// How long until a call would be allowed.
        retry_after: Duration,
    },
    /// The handler ran out of time and was cancelled.
    #[error("the tool call timed out after {} ms", after.as_millis())]
    TimedOut {
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The call was cancelled by the client.
    #[error("the tool call was cancelled")]
    Cancelled,
    /// The arguments do not fit the tool's input schema.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool ran and failed; the message is shown to the user as the tool's result. Keep it
    /// free of secrets.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// A failure of the tool itself (shown to the user as an `isError` result).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// Whether retrying the same call could succeed: timeouts, an unavailable tenant manager,
    /// and tool failures. Retry layers consult this by default.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::TimedOut { .. } | Self::Failed(_) => true,
            Self::Credential(err) => err.is_server_side(),
            _ => false,
        }
    }

    /// How the error reaches the client: `Ok` for a tool result with `isError: true` (the
    /// tool's own failure, which the model should see), `Err` for a JSON-RPC error.
    pub fn into_mcp(self) -> Result<CallToolResult, ErrorData> {
        let message = self.to_string();
        match self {
            Self::Failed(_) => {
                Ok(CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)]))
            }
            Self::InvalidArguments(_) => Err(ErrorData::invalid_params(message, None)),
            Self::RateLimited { retry_after } => Err(ErrorData::new(
                rmcp::model::ErrorCode(RATE_LIMITED_CODE),
                message,
                Some(json!({ "retryAfter": whole_seconds(retry_after) })),
            )),
            Self::TimedOut { after } => Err(ErrorData::new(
                rmcp::model::ErrorCode(TIMED_OUT_CODE),
                message,
                Some(json!({ "timeoutMs": after.as_millis() as u64 })),
            )),
            Self::Credential(ref err) if err.is_server_side() => Err(ErrorData::new(
                rmcp::model::ErrorCode(-32000),
                message,
                err.retry_after().map(|d| json!({ "retryAfter": whole_seconds(d) })),
            )),
            _ => Err(ErrorData::invalid_request(message, None)),
        }
    }
}

/// Seconds to wait, rounded up (waiting less than asked would be refused again), at least 1.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil().max(1.0) as u64
}
