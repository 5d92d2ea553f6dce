//! Tool-level auth: servers whose tools receive `(args, access_token, user_id)`, built from
//! tower services so that middleware ([`crate::middleware`]) stacks with `ServiceBuilder`.
//!
//! A tool is a `tower::Service<ToolCall, Response = CallToolResult, Error = ToolError>`
//! ([`ToolService`]). [`with_auth`] adapts a plain `(args, access_token, user_id)` handler into
//! one, resolving the caller's credential on each call; [`AuthenticatedServer`] serves such tools
//! over stdio and HTTP. Servers written with rmcp's `#[tool]` macros get the caller through the
//! [`Caller`] extractor instead.

mod call;
mod error;
mod extract;
mod handler;
mod server;

use rmcp::model::CallToolResult;
use tower::util::BoxCloneSyncService;

#[doc(inline)]
pub use self::{
    call::{ToolCall, ToolContext},
    error::{RATE_LIMITED_CODE, TIMED_OUT_CODE, ToolError},
    extract::{Caller, principal_of},
    handler::{ToolOutput, tool_fn, with_auth},
    server::{AuthenticatedServer, AuthenticatedServerBuilder, ToolServer},
};

/// A type-erased tool: what middleware wraps and servers dispatch to.
pub type ToolService = BoxCloneSyncService<ToolCall, CallToolResult, ToolError>;
