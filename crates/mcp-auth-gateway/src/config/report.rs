//! [`ConfigReport`]: every problem found in a config file, each naming its key, what is wrong
//! and what would be valid — what `mcp-auth check` prints, one line per problem.

use std::fmt;

use mcp_auth::{ConfigError, secret::REDACTED};

/// One thing wrong with the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: a dotted key path such as `servers[0].env.GITHUB_TOKEN` or `auth.secret_env`.
    pub key: String,
    /// The offending value, quoted, or [`REDACTED`] when the key holds a secret; `None` when
    /// the message says it all.
    pub value: Option<String>,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `key`, without a value.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), value: None, message: message.into() }
    }

    /// Shows the (non-secret) offending value, quoted.
    pub fn with_value(mut self, value: impl fmt::Display) -> Self {
        self.value = Some(format!("{:?}", value.to_string()));
        self
    }

    /// Marks the offending value as a secret: it is shown as [`REDACTED`].
    pub fn with_secret_value(mut self) -> Self {
        self.value = Some(REDACTED.to_owned());
        self
    }
}

impl fmt::Display for ConfigProblem {
    /// `{key}: {message}`, then ` (got {value})` when there is a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(value) = &self.value {
            write!(f, " (got {value})")?;
        }
        Ok(())
    }
}

/// Every problem found in one config file, in the order found. Displays one problem per line,
/// `{origin}: {key}: {message}` (plus ` (got {value})`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigReport {
    /// The file the problems are in (its path, or a label for text that came from elsewhere);
    /// empty to leave it out of the lines.
    pub origin: String,
    /// The problems; never empty in a report returned as an error.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigReport {
    /// An empty report about `origin`.
    pub fn new(origin: impl Into<String>) -> Self {
        Self { origin: origin.into(), problems: Vec::new() }
    }

    /// A report of one problem, without an origin.
    pub fn single(
        key: impl Into<String>,
        value: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let problem = ConfigProblem { key: key.into(), value, message: message.into() };
        Self { origin: String::new(), problems: vec![problem] }
    }

    /// A report of a setting the library refused (its key, redacted value and expectation).
    pub fn from_library(error: ConfigError) -> Self {
        Self::single(error.key, Some(error.value), error.expected)
    }

    /// Sets [`Self::origin`].
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Adds a problem.
    pub fn push(&mut self, problem: ConfigProblem) {
        self.problems.push(problem);
    }

    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok(value)` when no problem was found, else the report.
    pub fn finish<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }

    /// The problem reported at `key`, if any (tests, tools).
    pub fn at(&self, key: &str) -> Option<&ConfigProblem> {
        self.problems.iter().find(|p| p.key == key)
    }
}

impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if !self.origin.is_empty() {
                write!(f, "{}: ", self.origin)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigReport {}

/// The candidate closest to `unknown`, when it is close enough to be the intended one (an edit
/// distance of at most a third of its length, and at least 1).
pub fn did_you_mean<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(unknown, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_origin_key_message_and_value() {
        let mut report = ConfigReport::new("gw.toml");
        report.push(ConfigProblem::new("server.listen", "not an address").with_value("x:y"));
        report.push(ConfigProblem::new("auth.secret_env", "too short").with_secret_value());
        assert_eq!(
            report.to_string(),
            "gw.toml: server.listen: not an address (got \"x:y\")\n\
             gw.toml: auth.secret_env: too short (got [redacted])"
        );
    }

    #[test]
    fn a_close_candidate_is_suggested_and_a_far_one_is_not() {
        let keys = ["command", "args", "url"];
        assert_eq!(did_you_mean("comand", keys), Some("command"));
        assert_eq!(did_you_mean("ulr", keys), Some("url"));
        assert_eq!(did_you_mean("timeout", keys), None);
    }
}
