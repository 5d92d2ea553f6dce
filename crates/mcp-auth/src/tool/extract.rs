//! [`Caller`]: the authenticated principal as an rmcp tool-argument extractor, so servers
//! written with `#[tool]` macros get the caller without a new style.

use rmcp::{
    ErrorData,
    handler::server::common::{AsRequestContext, FromContextPart},
};

use crate::auth::Principal;

/// The caller of a `#[tool]` method, put there by `wrap_server`'s transports (HTTP, legacy SSE
/// and stdio alike).
///
/// ```
/// use mcp_auth::tool::Caller;
/// use rmcp::{handler::server::router::tool::ToolRouter, tool, tool_router};
///
/// #[derive(Clone)]
/// struct MyServer {
///     tool_router: ToolRouter<Self>,
/// }
///
/// #[tool_router]
/// impl MyServer {
///     #[tool(description = "Who am I?")]
///     async fn whoami(&self, Caller(principal): Caller) -> String {
///         principal.user_id().to_owned()
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<C: AsRequestContext> FromContextPart<C> for Caller {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        principal_of(&context.as_request_context().extensions).map(Caller).ok_or_else(|| {
            ErrorData::invalid_request("the request carries no authenticated caller", None)
        })
    }
}

/// The principal a transport attached to a request's extensions, if any.
pub fn principal_of(extensions: &rmcp::model::Extensions) -> Option<Principal> {
    extensions.get::<http::request::Parts>()?.extensions.get::<Principal>().cloned()
}
