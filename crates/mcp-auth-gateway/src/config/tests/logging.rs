//! `[log]`: the format, raw user ids, and the key of the users' tags — read from an
//! environment variable or a file, never shown.

use mcp_auth::{Secret, UserIdLogging};

use super::*;

const SH: &str = "[[servers]]\nname = \"sh\"\ncommand = \"sh\"\n";
const KEY: &str = "log-key-0123456789abcdef0123456789abcdef";

fn with_log(log: &str) -> String {
    format!("[log]\n{log}\n{SH}")
}

#[test]
fn logging_defaults_to_pretty_lines_and_tags_under_the_process_key() {
    let config = valid(SH);
    assert_eq!(config.log.format, LogFormat::Pretty);
    assert!(!config.log.user_ids.raw_ids());
    let tag = config.log.user_ids.tag("alice").to_string();
    assert_eq!(tag, UserIdLogging::default().tag("alice").to_string());
}

#[test]
fn logging_as_json_with_a_key_from_the_environment_or_raw_ids() {
    let text = with_log("format = \"json\"\nuser_hash_key_env = \"MCP_AUTH_LOG_KEY\"");
    let env = env_with(&[("MCP_AUTH_LOG_KEY", KEY)]);
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    assert_eq!(config.log.format, LogFormat::Json);
    let expected = UserIdLogging::keyed(&Secret::new(KEY)).tag("alice").to_string();
    assert_eq!(config.log.user_ids.tag("alice").to_string(), expected);
    assert!(!format!("{config:?}").contains(KEY), "the key is never printed");

    let raw = valid(&with_log("log_user_ids = true"));
    assert_eq!(raw.log.user_ids.tag("alice").to_string(), "alice");
}

#[test]
fn logging_key_from_a_file_without_its_trailing_newline() {
    let path = std::env::temp_dir().join(format!("mcp-auth-log-key-{}", std::process::id()));
    std::fs::write(&path, format!("{KEY}\n")).unwrap();
    let text = with_log(&format!("user_hash_key_file = {:?}", path.display().to_string()));
    let config = valid(&text);
    let _ = std::fs::remove_file(&path);
    let expected = UserIdLogging::keyed(&Secret::new(KEY)).tag("alice").to_string();
    assert_eq!(config.log.user_ids.tag("alice").to_string(), expected);
}

#[test]
fn logging_refuses_an_unknown_format_and_unknown_keys() {
    assert_reports(
        &with_log("format = \"jsn\""),
        &base_env,
        "gw.toml: log.format: unknown value \"jsn\"; did you mean \"json\"?",
    );
    assert_reports(
        &with_log("format = \"logfmt\""),
        &base_env,
        "gw.toml: log.format: unknown value \"logfmt\"; expected one of: pretty, json",
    );
    assert_reports(
        &with_log("formatt = \"json\""),
        &base_env,
        "gw.toml: log.formatt: unknown key; did you mean \"format\"?",
    );
    assert_reports(
        &with_log("level = \"debug\""),
        &base_env,
        "gw.toml: log.level: unknown key; expected one of: format, log_user_ids, \
         user_hash_key_env, user_hash_key_file",
    );
    assert_reports(
        &with_log("log_user_ids = \"yes\""),
        &base_env,
        "gw.toml: log.log_user_ids: invalid type: string \"yes\", expected a boolean",
    );
}

#[test]
fn logging_refuses_a_missing_short_or_doubled_key_without_showing_it() {
    let short = "too-short-log-key";
    assert_reports(
        &with_log("user_hash_key_env = \"LOG_KEY\""),
        &env_with(&[("LOG_KEY", short)]),
        "gw.toml: log.user_hash_key_env: the key in LOG_KEY is shorter than 32 bytes; generate \
         one with `openssl rand -base64 48` (got [redacted])",
    );
    assert!(
        !lines(&with_log("user_hash_key_env = \"LOG_KEY\""), &env_with(&[("LOG_KEY", short)]))
            .join("\n")
            .contains(short)
    );
    assert_reports(
        &with_log("user_hash_key_env = \"LOG_KEY\""),
        &base_env,
        "gw.toml: log.user_hash_key_env: names environment variable LOG_KEY, which is not set (or \
         is empty); set it to a key of at least 32 bytes (`openssl rand -base64 48`), or leave \
         the key out for a random one per process",
    );
    assert_reports(
        &with_log("user_hash_key_env = \"A\"\nuser_hash_key_file = \"/k\""),
        &base_env,
        "gw.toml: log: both user_hash_key_env and user_hash_key_file; give one of them",
    );
}
