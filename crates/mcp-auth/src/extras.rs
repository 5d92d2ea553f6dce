//! [`Extras`]: request-scoped values handed to the server factory, from an explicit allow-list.
//!
//! The original package turned *every* `X-*` header and query parameter into extras, so a client
//! could inject `x-forwarded-for` or `x-api-key` into the factory unnoticed. Here nothing is an
//! extra unless the operator named it in an [`ExtrasAllowList`].

use std::{collections::BTreeMap, fmt};

use http::{HeaderMap, HeaderName};

/// Longest extra value accepted, in bytes; longer values are dropped, not truncated.
pub const MAX_EXTRA_LEN: usize = 1024;

/// Allow-listed header and query values of the request that created an instance.
///
/// Sorted by name, so two requests with the same values compare (and hash) equal. `Debug` prints
/// the names only: values come from the client and may be sensitive.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Extras(BTreeMap<String, String>);

impl Extras {
    /// The value of extra `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// All extras, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds extras directly (tests, stdio).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Which request headers and query parameters become [`Extras`].
///
/// A header `X-Ghost-Owner` becomes the extra `ghost_owner` (the original's naming: drop `x-`,
/// lower-case, `-` → `_`); a query parameter keeps its name. When both name the same extra, the
/// header wins, as in the original.
///
/// ```
/// use mcp_auth::extras::ExtrasAllowList;
/// let allow = ExtrasAllowList::new().header("X-Ghost-Owner").query("workspace");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExtrasAllowList {
    headers: Vec<(HeaderName, String)>,
    query: Vec<String>,
}

impl ExtrasAllowList {
    /// An empty allow-list: no extras at all (the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows header `name`.
    ///
    /// # Panics
    /// When `name` is not a valid header name (a programming error, caught on first run).
    pub fn header(mut self, name: &str) -> Self {
        let header = HeaderName::try_from(name).expect("a valid HTTP header name");
        let key = header.as_str();
        let key = key.strip_prefix("x-").unwrap_or(key).replace('-', "_");
        self.headers.push((header, key));
        self
    }

    /// Allows query parameter `name`.
    pub fn query(mut self, name: impl Into<String>) -> Self {
        self.query.push(name.into());
        self
    }

    /// True when nothing is allowed (extraction is then free).
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty()
    }

    /// Extracts the allowed values of one request.
    pub fn extract(&self, headers: &HeaderMap, query: Option<&str>) -> Extras {
        let mut extras = BTreeMap::new();
        if let (Some(query), false) = (query, self.query.is_empty()) {
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if value.len() <= MAX_EXTRA_LEN && self.query.iter().any(|q| *q == name) {
                    extras.entry(name.into_owned()).or_insert_with(|| value.into_owned());
                }
            }
        }
        for (header, key) in &self.headers {
            let value = headers.get(header).and_then(|v| v.to_str().ok());
            if let Some(value) = value.filter(|v| v.len() <= MAX_EXTRA_LEN) {
                extras.insert(key.clone(), value.to_owned());
            }
        }
        Extras(extras)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allow_listed_names_become_extras() {
        let allow = ExtrasAllowList::new().header("X-Ghost-Owner").query("workspace");
        let mut headers = HeaderMap::new();
        headers.insert("x-ghost-owner", "bob".parse().unwrap());
        headers.insert("x-api-key", "secret".parse().unwrap());
        let extras = allow.extract(&headers, Some("workspace=w%201&debug=1"));
        assert_eq!(extras, Extras::from_pairs([("ghost_owner", "bob"), ("workspace", "w 1")]));
        assert_eq!(format!("{extras:?}"), r#"{"ghost_owner", "workspace"}"#);
    }

    #[test]
    fn header_overrides_query_and_long_values_are_dropped() {
        let allow = ExtrasAllowList::new().header("x-workspace").query("workspace");
        let mut headers = HeaderMap::new();
        headers.insert("x-workspace", "from-header".parse().unwrap());
        let extras = allow.extract(&headers, Some("workspace=from-query"));
        assert_eq!(extras.get("workspace"), Some("from-header"));

        let long = format!("workspace={}", "a".repeat(MAX_EXTRA_LEN + 1));
        assert!(allow.extract(&HeaderMap::new(), Some(&long)).is_empty());
    }
}
