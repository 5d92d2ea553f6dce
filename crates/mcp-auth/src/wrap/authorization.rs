//! The OAuth resource-server settings of [`WrapServerBuilder`]: Protected Resource Metadata,
//! required scopes (per server and per tool), and the connect URL of a missing credential.

use rmcp::ServerHandler;

use super::WrapServerBuilder;
use crate::http::ProtectedResource;

impl<H: ServerHandler> WrapServerBuilder<H> {
    /// Serves this server's OAuth Protected Resource Metadata (RFC 9728), and names it in every
    /// `401` and `403` challenge, so that MCP clients discover where to get a token. Set
    /// [`HttpOptions::public_url`] too (required in production): the metadata's `resource` is
    /// that URL plus the base path.
    pub fn protected_resource(mut self, metadata: ProtectedResource) -> Self {
        self.protected_resource = Some(metadata);
        self
    }

    /// Scopes every request's token must hold. A token without all of them gets `403` with
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="<all of them>"`; a `401`
    /// names them in its `scope`.
    pub fn required_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes a call of the tool `name` needs, beyond the [required](Self::required_scopes)
    /// ones. A `tools/call` without them gets the `403 insufficient_scope` challenge (naming
    /// every scope the call needs) before the server sees it, on every HTTP transport; a
    /// `tools/list` answer leaves the tool out for such a caller (see
    /// [`show_all_tools`](Self::show_all_tools)). Over stdio, where the identity is the
    /// process's, they do not apply.
    pub fn tool_scopes<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.tool_scopes.insert(name.into(), scopes.into_iter().map(Into::into).collect());
        self
    }

    /// `true`: `tools/list` shows every tool, also those the caller may not call (default
    /// `false`: they are left out).
    pub fn show_all_tools(mut self, show: bool) -> Self {
        self.show_all_tools = show;
        self
    }

    /// Where a user connects the upstream account of [`resource_type`](Self::resource_type):
    /// the `403` for a user without a credential names it (`error.data.connectUrl`).
    pub fn credential_connect_url(mut self, url: impl Into<String>) -> Self {
        self.connect_url = Some(url.into());
        self
    }
}
