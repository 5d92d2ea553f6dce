//! OAuth scope names (RFC 6749 §3.3) as configured: required scopes and `scopes_supported`.

use crate::config::ConfigError;

/// Checks a configured scope name against RFC 6749 §3.3's `scope-token = 1*( %x21 / %x23-5B /
/// %x5D-7E )`: printable ASCII without space, `"` or `\`, which also keeps it safe inside a
/// quoted `WWW-Authenticate` parameter. `key` names the setting in the error.
pub fn check_scope(key: &str, scope: &str) -> Result<(), ConfigError> {
    let valid =
        !scope.is_empty() && scope.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            scope,
            "a scope name: printable ASCII without space, `\"` or `\\`",
        ))
    }
}

/// The scopes in `required` that `granted` lacks.
pub(crate) fn missing<'a>(required: &'a [String], granted: &[String]) -> Vec<&'a str> {
    required.iter().filter(|s| !granted.contains(s)).map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_are_printable_ascii_without_space_quote_or_backslash() {
        for good in ["mcp:tools", "repo", "a!#[]~"] {
            assert!(check_scope("k", good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(check_scope("k", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn missing_lists_what_is_not_granted_in_order() {
        let required = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(missing(&required, &["b".to_owned()]), ["a", "c"]);
        assert!(missing(&required, &required).is_empty());
    }
}
