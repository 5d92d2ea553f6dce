//! The label sets, each value from a fixed set (or configuration, for `server`).

use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use prometheus_client::encoding::EncodeLabelSet;

/// `server`: the server's configured name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ServerLabel {
    server: Arc<str>,
}

impl ServerLabel {
    pub(super) fn new(server: &str) -> Self {
        Self { server: server.into() }
    }

    pub(super) fn outcome(&self, reason: &'static str) -> Outcome {
        Outcome { server: self.server.clone(), reason }
    }

    pub(super) fn server(&self) -> &Arc<str> {
        &self.server
    }
}

/// `server` and a reason (or result) from a fixed set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    server: Arc<str>,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(super) server: Arc<str>,
    pub(super) route: &'static str,
    pub(super) method: &'static str,
    pub(super) era: &'static str,
    pub(super) status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TimingLabels {
    pub(super) server: Arc<str>,
    pub(super) route: &'static str,
    pub(super) era: &'static str,
}

/// The route a path is, below the server's base path.
pub(super) fn route(path: &str, base: &str) -> &'static str {
    if path.starts_with("/.well-known/") {
        return "metadata";
    }
    match path.strip_prefix(base) {
        Some("" | "/") => "mcp",
        Some("/message") => "message",
        Some("/sse") => "sse",
        Some("/messages") => "messages",
        Some("/health") => "health",
        Some("/ready") => "ready",
        Some("/progress/stats" | "/progress/metrics") => "progress",
        _ => "other",
    }
}

pub(super) fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}

/// The protocol revision a request names (`MCP-Protocol-Version`), among the known ones.
pub(super) fn era(headers: &HeaderMap) -> &'static str {
    const KNOWN: [&str; 5] = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
    match headers.get("mcp-protocol-version").map(|v| v.as_bytes()) {
        None => "none",
        Some(version) => {
            KNOWN.into_iter().find(|known| known.as_bytes() == version).unwrap_or("other")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_below_the_base_has_its_own_label_and_the_rest_is_other() {
        let cases = [
            ("/mcp", "mcp"),
            ("/mcp/", "mcp"),
            ("/mcp/message", "message"),
            ("/mcp/sse", "sse"),
            ("/mcp/messages", "messages"),
            ("/mcp/health", "health"),
            ("/mcp/ready", "ready"),
            ("/mcp/progress/stats", "progress"),
            ("/mcp/progress/metrics", "progress"),
            ("/.well-known/oauth-protected-resource/mcp", "metadata"),
            ("/mcp/progress/other", "other"),
            ("/elsewhere", "other"),
        ];
        for (path, label) in cases {
            assert_eq!(super::route(path, "/mcp"), label, "{path}");
        }
    }
}
