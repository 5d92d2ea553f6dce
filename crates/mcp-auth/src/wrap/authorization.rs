//! The OAuth resource-server settings of [`WrapServerBuilder`]: Protected Resource Metadata,
//! required scopes (per server and per tool), and the connect URL of a missing credential.

use std::{collections::HashMap, sync::Arc};

use rmcp::ServerHandler;

use super::WrapServerBuilder;
use crate::{
    config::ConfigError,
    http::{Challenges, HttpOptions, ProtectedResource, ResourceMetadata, ToolScopes},
};

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

/// The challenges' parts, checked; `tools` is the tool scopes and whether to show every tool.
pub(super) fn challenges(
    metadata: Option<ProtectedResource>,
    required_scopes: Vec<String>,
    connect_url: Option<String>,
    tools: (HashMap<String, Vec<String>>, bool),
    http: &HttpOptions,
) -> Result<Challenges, ConfigError> {
    for scope in &required_scopes {
        crate::auth::check_scope("required_scopes", scope)?;
    }
    let (tool_scopes, show_all_tools) = tools;
    for (tool, scopes) in &tool_scopes {
        for scope in scopes {
            crate::auth::check_scope(&format!("tool_scopes.{tool}"), scope)?;
        }
    }
    if let Some(metadata) = &metadata {
        metadata.validate()?;
    }
    if metadata.is_some() && http.public_url.is_none() && http.environment.is_production() {
        return Err(ConfigError::missing(
            "transport.public_url",
            "the URL clients use (the Protected Resource Metadata's `resource`) in production",
        ));
    }
    let supported = metadata.as_ref().map(|m| m.scopes_supported.join(" ")).unwrap_or_default();
    let hint = if required_scopes.is_empty() { supported } else { required_scopes.join(" ") };
    Ok(Challenges {
        metadata: metadata.map(|m| Arc::new(ResourceMetadata::new(m, http))),
        scope_hint: (!hint.is_empty()).then_some(hint),
        required_scopes,
        connect_url,
        tool_scopes: (!tool_scopes.is_empty())
            .then(|| Arc::new(ToolScopes::new(tool_scopes, !show_all_tools))),
    })
}
