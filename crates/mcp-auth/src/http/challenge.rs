//! The answers that tell a client how to authorize: `401` and `403` with their `Bearer`
//! challenges (RFC 6750 §3, MCP authorization §"Protected Resource Metadata Discovery" and
//! §"Scope Challenge Handling"), the `403` for a missing upstream credential, and the `400` for
//! a token in the query string.

use std::{collections::HashMap, sync::Arc};

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    HttpOptions, ProtectedResource, errors, list_filter::ListFilter,
    protected_resource::ResourceMetadata, tool_scopes::ToolScopes,
};
use crate::{
    admission::Refusal, auth::AuthError, config::ConfigError, credentials::CredentialError,
};

/// The JSON-RPC error code of "connect your account first" (no upstream credential).
pub const CREDENTIAL_REQUIRED_CODE: i64 = -32003;

/// What a wrapped server's challenges name, precomputed.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    /// The Protected Resource Metadata, when configured: `resource_metadata` names it.
    pub(crate) metadata: Option<Arc<ResourceMetadata>>,
    /// Scopes every request needs (the `403` names the complete set).
    pub(crate) required_scopes: Vec<String>,
    /// A `401`'s `scope`: the required scopes, else the supported ones, space-separated.
    pub(crate) scope_hint: Option<String>,
    /// Where a user connects the upstream account a `403 credential_required` is about.
    pub(crate) connect_url: Option<String>,
    /// The scopes of particular tools; `None` when no tool has any.
    pub(crate) tool_scopes: Option<Arc<ToolScopes>>,
}

impl Challenges {
    /// Names nothing: for refusals after admission.
    pub(crate) const NONE: Self = Self {
        metadata: None,
        required_scopes: Vec::new(),
        scope_hint: None,
        connect_url: None,
        tool_scopes: None,
    };

    /// The response for a refused admission, challenges included where due.
    pub(crate) fn refusal(&self, refusal: &Refusal, headers: &HeaderMap) -> Response {
        if let Some(response) = errors::plain_refusal(refusal) {
            return response;
        }
        match refusal {
            Refusal::InsufficientScope(missing) => {
                self.insufficient_scope(&self.required_scopes, missing, headers)
            }
            Refusal::Credential(err) => self.credential_required(err),
            Refusal::Auth(err) => self.unauthorized(err, headers),
            // Answered by `plain_refusal`.
            _ => errors::jsonrpc_error(StatusCode::INTERNAL_SERVER_ERROR, -32603, "Internal error"),
        }
    }

    /// `401`: `resource_metadata` and `scope` always (when known); `error` and
    /// `error_description` when a token was sent and refused. RFC 6750 §3.1: a request without
    /// credentials gets no error code.
    pub(crate) fn unauthorized(&self, err: &AuthError, headers: &HeaderMap) -> Response {
        let description = err.to_string();
        let mut params = self.common(headers);
        if let Some(code) = err.bearer_error_code() {
            params.push(("error", code.to_owned()));
            params.push(("error_description", quote_safe(&description)));
        }
        let code = err.bearer_error_code().unwrap_or("invalid_token");
        let body = json!({ "error": code, "error_description": description });
        with_challenge(StatusCode::UNAUTHORIZED, &params, body)
    }

    /// `403 insufficient_scope`, naming every scope this request needs (SEP-2350: the complete
    /// set for the operation, in one challenge), not only the `missing` ones.
    pub(crate) fn insufficient_scope(
        &self,
        needed: &[String],
        missing: &[String],
        headers: &HeaderMap,
    ) -> Response {
        let needed = needed.join(" ");
        let description = format!("the token lacks the scope(s): {}", missing.join(" "));
        let mut params = vec![
            ("error", "insufficient_scope".to_owned()),
            ("scope", needed.clone()),
            ("error_description", quote_safe(&description)),
        ];
        params.extend(self.metadata_param(headers));
        let body = json!({
            "error": "insufficient_scope",
            "error_description": description,
            "scope": needed,
        });
        with_challenge(StatusCode::FORBIDDEN, &params, body)
    }

    /// Checks a POSTed body against the tool scopes: `Err` is the `403` for a call of a tool the
    /// token may not call; `Ok` the filter of its `tools/list` answers, if it asks for any.
    pub(crate) fn check_tools(
        &self,
        body: &[u8],
        granted: &[String],
        headers: &HeaderMap,
    ) -> Result<Option<ListFilter>, Box<Response>> {
        let Some(scopes) = &self.tool_scopes else { return Ok(None) };
        let asked = scopes.inspect(body);
        if let Some((needed, missing)) = scopes.refused(&asked, &self.required_scopes, granted) {
            return Err(Box::new(self.insufficient_scope(&needed, &missing, headers)));
        }
        Ok(ListFilter::new(scopes, &asked, granted))
    }

    /// `403` for an authenticated user without an upstream credential: not a scope problem
    /// (a new token would not help), so no challenge; a JSON-RPC error saying to connect the
    /// account, with the configured link.
    fn credential_required(&self, err: &CredentialError) -> Response {
        let mut data = json!({ "reason": "credential_required" });
        if let Some(resource_type) = err.resource_type() {
            data["resourceType"] = json!(resource_type);
        }
        if let Some(url) = &self.connect_url {
            data["connectUrl"] = json!(url);
        }
        let message = match &self.connect_url {
            Some(url) => format!("{err}: connect it at {url}, then retry"),
            None => format!("{err}: connect it, then retry"),
        };
        let body = json!({
            "jsonrpc": "2.0",
            "error": { "code": CREDENTIAL_REQUIRED_CODE, "message": message, "data": data },
            "id": null,
        });
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }

    /// `400` for an access token in the query string: the spec forbids it there (it ends up in
    /// logs and `Referer`s), and it is never used.
    pub(crate) fn query_token(&self, headers: &HeaderMap) -> Response {
        let description = "access tokens are not accepted in the URL query; send an \
                           Authorization: Bearer header";
        let mut params = vec![
            ("error", "invalid_request".to_owned()),
            ("error_description", description.to_owned()),
        ];
        params.extend(self.metadata_param(headers));
        let body = json!({ "error": "invalid_request", "error_description": description });
        with_challenge(StatusCode::BAD_REQUEST, &params, body)
    }

    fn metadata_param(&self, headers: &HeaderMap) -> Option<(&'static str, String)> {
        let url = self.metadata.as_ref()?.url(headers)?;
        Some(("resource_metadata", url))
    }

    fn common(&self, headers: &HeaderMap) -> Vec<(&'static str, String)> {
        let mut params: Vec<_> = self.metadata_param(headers).into_iter().collect();
        params.extend(self.scope_hint.clone().map(|scope| ("scope", scope)));
        params
    }
}

impl Challenges {
    /// The challenges' parts, checked; `tools` is the tool scopes and whether to show every tool.
    pub(crate) fn configure(
        metadata: Option<ProtectedResource>,
        required_scopes: Vec<String>,
        connect_url: Option<String>,
        tools: (HashMap<String, Vec<String>>, bool),
        http: &HttpOptions,
    ) -> Result<Self, ConfigError> {
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
        Ok(Self {
            metadata: metadata.map(|m| Arc::new(ResourceMetadata::new(m, http))),
            scope_hint: (!hint.is_empty()).then_some(hint),
            required_scopes,
            connect_url,
            tool_scopes: (!tool_scopes.is_empty())
                .then(|| Arc::new(ToolScopes::new(tool_scopes, !show_all_tools))),
        })
    }
}

/// True when the query string names an RFC 6750 §2.3 `access_token` parameter.
pub(crate) fn has_query_token(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
    })
}

/// `Bearer k="v", …`, or `Bearer` alone.
fn with_challenge(
    status: StatusCode,
    params: &[(&str, String)],
    body: serde_json::Value,
) -> Response {
    let mut challenge = String::from("Bearer");
    for (i, (name, value)) in params.iter().enumerate() {
        challenge.push_str(if i == 0 { " " } else { ", " });
        challenge.push_str(&format!(r#"{name}="{value}""#));
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// RFC 6750 §3: a quoted value may not contain `"` or `\`.
fn quote_safe(text: &str) -> String {
    text.chars().filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_access_token_parameter_counts() {
        assert!(has_query_token(Some("access_token=x")));
        assert!(has_query_token(Some("a=1&access_token=")));
        assert!(has_query_token(Some("access%5Ftoken=x")));
        assert!(!has_query_token(Some("sessionId=access_token")));
        assert!(!has_query_token(Some("my_access_token=x")));
        assert!(!has_query_token(None));
    }
}
