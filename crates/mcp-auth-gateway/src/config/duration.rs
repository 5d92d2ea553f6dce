//! Durations in the config file: `"30s"`, `"10m"`, `"12h"`, `"1d"`, or whole seconds (`"600"`
//! or the TOML integer `600`), the forms `mcp-auth token --ttl` takes
//! ([`parse_ttl`](crate::token::parse_ttl)), plus milliseconds (`"50ms"`, for `redis.timeout`)
//! and zero where a key allows it.

use std::{fmt, time::Duration};

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::token::parse_ttl;

/// What a duration looks like, for error messages.
pub(crate) const EXPECTED: &str = "a duration: whole seconds (600) or a number followed by ms, s, m, h or d (\"50ms\", \
     \"30s\", \"10m\", \"12h\", \"1d\")";

/// Parses a config duration. Zero (`0`, `"0s"`, …) is accepted here; keys that need a
/// positive duration check for it.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let trimmed = text.trim();
    if let Some(millis) = trimmed.strip_suffix("ms")
        && !millis.is_empty()
        && millis.bytes().all(|b| b.is_ascii_digit())
    {
        return millis.parse().ok().map(Duration::from_millis);
    }
    let digits = trimmed.trim_end_matches(['s', 'm', 'h', 'd']);
    let is_zero = !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && trimmed.len() - digits.len() <= 1;
    if is_zero {
        return Some(Duration::ZERO);
    }
    parse_ttl(trimmed).ok()
}

/// A duration read from the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = ConfigDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<ConfigDuration, E> {
        Ok(ConfigDuration(Duration::from_secs(seconds)))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<ConfigDuration, E> {
        u64::try_from(seconds).map(|s| ConfigDuration(Duration::from_secs(s))).map_err(|_| {
            E::custom(format!("expected {EXPECTED}, got the negative number {seconds}"))
        })
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ConfigDuration, E> {
        parse_duration(text)
            .map(ConfigDuration)
            .ok_or_else(|| E::custom(format!("expected {EXPECTED}, got {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_whole_seconds_and_zero_parse() {
        for (text, seconds) in [("30s", 30), ("10m", 600), ("12h", 43_200), ("1d", 86_400)] {
            assert_eq!(parse_duration(text), Some(Duration::from_secs(seconds)), "{text}");
        }
        assert_eq!(parse_duration("600"), Some(Duration::from_secs(600)));
        for zero in ["0", "0s", "00m"] {
            assert_eq!(parse_duration(zero), Some(Duration::ZERO), "{zero}");
        }
    }

    #[test]
    fn other_forms_are_refused() {
        for text in ["", "s", "0sm", "1w", "1.5h", "-1s", "1h30m"] {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }
}
