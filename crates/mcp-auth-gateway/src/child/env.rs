//! The environment a user's server starts with: an allow-list, never the gateway's own.
//!
//! The gateway's environment holds its secrets (`MCP_AUTH_JWT_SECRET`, the tenant manager's
//! service token, cloud credentials…), and a server is often third-party code running a user's
//! requests. So a child starts from an empty environment ([`super::Launcher::spawn`] clears it)
//! and gets only what [`env_allow_list`] returns.

use std::collections::BTreeMap;

/// Variables passed from the gateway's environment to every child: enough to find programs
/// (`npx`, `node`, `uvx` on `PATH`), a home for their caches, and the locale.
const ALWAYS_PASSED: &[&str] = &["PATH", "HOME", "LANG"];

/// Prefix of the locale variables (`LC_ALL`, `LC_CTYPE`, …), passed like [`ALWAYS_PASSED`].
const LOCALE_PREFIX: &str = "LC_";

/// Prefix of the gateway's own variables. They are never passed from the gateway's environment,
/// not even when `pass_env` names them: some are secrets (`MCP_AUTH_JWT_SECRET`).
const GATEWAY_PREFIX: &str = "MCP_AUTH_";

/// The child's whole environment.
///
/// From `gateway_env` (the gateway's environment, e.g. `std::env::vars()`): `PATH`, `HOME`,
/// `LANG`, the `LC_*` variables and the names listed in `pass_env` — except the gateway's own
/// `MCP_AUTH_*` variables, which never pass. Then every `configured` pair, which wins over a
/// passed value of the same name (the last of two configured values wins). Nothing else: a
/// variable that is neither allow-listed nor configured does not reach the child.
///
/// The result is sorted by name.
///
/// ```
/// use mcp_auth_gateway::child::env_allow_list;
///
/// let gateway = [("PATH", "/usr/bin"), ("MCP_AUTH_JWT_SECRET", "s3cret"), ("TERM", "xterm")]
///     .map(|(k, v)| (k.to_owned(), v.to_owned()));
/// let env = env_allow_list(
///     gateway.into_iter(),
///     &["TERM".to_owned()],
///     vec![("API_URL".to_owned(), "https://api.example.com".to_owned())],
/// );
/// let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
/// assert_eq!(names, ["API_URL", "PATH", "TERM"]);
/// ```
pub fn env_allow_list(
    gateway_env: impl Iterator<Item = (String, String)>,
    pass_env: &[String],
    configured: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let passed = |name: &str| {
        !name.starts_with(GATEWAY_PREFIX)
            && (ALWAYS_PASSED.contains(&name)
                || name.starts_with(LOCALE_PREFIX)
                || pass_env.iter().any(|allowed| allowed == name))
    };
    let mut env: BTreeMap<String, String> = gateway_env.filter(|(name, _)| passed(name)).collect();
    env.extend(configured);
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_the_allow_list_passes_and_configured_values_win() {
        let gateway = pairs(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/gw"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("SECRET", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("MCP_AUTH_JWT_SECRET", "z"),
            ("NODE_OPTIONS", "--max-old-space-size=512"),
        ]);
        let env = env_allow_list(
            gateway.into_iter(),
            &["NODE_OPTIONS".to_owned(), "MCP_AUTH_JWT_SECRET".to_owned()],
            pairs(&[("HOME", "/srv/memory"), ("MEMORY_FILE", "/data/m.json")]),
        );
        assert_eq!(
            env,
            pairs(&[
                ("HOME", "/srv/memory"),
                ("LANG", "C.UTF-8"),
                ("LC_ALL", "C"),
                ("MEMORY_FILE", "/data/m.json"),
                ("NODE_OPTIONS", "--max-old-space-size=512"),
                ("PATH", "/usr/bin"),
            ])
        );
    }

    #[test]
    fn an_empty_gateway_environment_gives_only_the_configured_values() {
        let env = env_allow_list(std::iter::empty(), &[], pairs(&[("A", "1"), ("A", "2")]));
        assert_eq!(env, pairs(&[("A", "2")]));
    }
}
