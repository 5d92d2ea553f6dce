//! The endpoint path template (`/api/credentials/:userId/:resourceType`): checked once when the
//! resolver is built, then rendered per request with each value percent-encoded as a path
//! segment.
//!
//! The original substituted only the first occurrence of each placeholder (`String.replace`);
//! here every occurrence is replaced.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::config::ConfigError;

/// Placeholder for the caller's user id; a template must contain it.
pub(super) const USER_ID: &str = ":userId";
/// Placeholder for the resource type.
pub(super) const RESOURCE_TYPE: &str = ":resourceType";

/// Everything but RFC 3986 "unreserved" characters is encoded, so a value can neither leave its
/// segment (`/`), start a query (`?`, `#`) nor smuggle a delimiter into one (`&`, `=`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    UserId,
    ResourceType,
}

/// A parsed endpoint path.
#[derive(Debug, Clone)]
pub(super) struct PathTemplate {
    raw: String,
    parts: Vec<Part>,
}

impl PathTemplate {
    /// Parses `raw`, which must start with `/` and contain [`USER_ID`]: an endpoint that does not
    /// name the user would hand every caller the same credential.
    pub(super) fn parse(raw: &str) -> Result<Self, ConfigError> {
        const KEY: &str = "tenant_api.endpoint_path";
        if !raw.starts_with('/') {
            return Err(ConfigError::invalid(KEY, raw, "a path starting with `/`"));
        }
        if !raw.contains(USER_ID) {
            return Err(ConfigError::invalid(KEY, raw, "a path containing `:userId`"));
        }
        if raw.contains(['?', '#']) {
            // A query would be mangled by the segment encoding rules and is not in the contract.
            return Err(ConfigError::invalid(KEY, raw, "a path without `?` or `#`"));
        }
        let mut parts = Vec::new();
        let mut rest = raw;
        while !rest.is_empty() {
            let next = [(USER_ID, Part::UserId), (RESOURCE_TYPE, Part::ResourceType)]
                .into_iter()
                .filter_map(|(name, part)| rest.find(name).map(|at| (at, name.len(), part)))
                .min_by_key(|(at, _, _)| *at);
            match next {
                Some((at, len, part)) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    parts.push(part);
                    rest = &rest[at + len..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
        }
        Ok(Self { raw: raw.to_owned(), parts })
    }

    /// The template as configured (for logs and `Debug`).
    pub(super) fn as_str(&self) -> &str {
        &self.raw
    }

    /// The path for one user and resource type, or `None` when a value cannot be addressed
    /// safely: empty, `.` or `..`. URL parsers normalise dot segments even when percent-encoded
    /// (`%2E%2E`), so a user named `..` would otherwise reach a different endpoint.
    pub(super) fn render(&self, user_id: &str, resource_type: &str) -> Option<String> {
        if [user_id, resource_type].iter().any(|v| matches!(*v, "" | "." | "..")) {
            return None;
        }
        let mut path = String::with_capacity(self.raw.len() + user_id.len() + resource_type.len());
        for part in &self.parts {
            match part {
                Part::Literal(text) => path.push_str(text),
                Part::UserId => path.extend(utf8_percent_encode(user_id, SEGMENT)),
                Part::ResourceType => path.extend(utf8_percent_encode(resource_type, SEGMENT)),
            }
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_replaced_and_encoded() {
        let t = PathTemplate::parse("/u/:userId/r/:resourceType/again/:userId").unwrap();
        assert_eq!(
            t.render("a b/c", "git?hub").unwrap(),
            "/u/a%20b%2Fc/r/git%3Fhub/again/a%20b%2Fc"
        );
    }

    #[test]
    fn unicode_and_unreserved_characters() {
        let t = PathTemplate::parse("/c/:userId").unwrap();
        assert_eq!(t.render("é-x_y.z~", "gh").unwrap(), "/c/%C3%A9-x_y.z~");
    }

    #[test]
    fn dot_segments_and_empty_values_are_refused() {
        let t = PathTemplate::parse("/c/:userId/:resourceType").unwrap();
        assert!(t.render("..", "gh").is_none());
        assert!(t.render(".", "gh").is_none());
        assert!(t.render("alice", "..").is_none());
        assert!(t.render("alice", "").is_none());
        assert_eq!(t.render("...", "gh").unwrap(), "/c/.../gh");
    }

    #[test]
    fn templates_are_validated() {
        assert!(PathTemplate::parse("api/:userId").is_err());
        assert!(PathTemplate::parse("/api/:resourceType").is_err());
        assert!(PathTemplate::parse("/api/:userId?x=1").is_err());
        assert!(PathTemplate::parse("/:userId").is_ok());
    }
}
