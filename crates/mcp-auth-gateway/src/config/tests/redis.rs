//! `[redis]` and the shared rate limit keys: defaults, what each needs, and that a URL's
//! password never reaches a report.

use std::time::Duration;

use mcp_auth_redis::FailMode;

use super::*;

const SERVER: &str = "[[servers]]\nname = \"a\"\ncommand = \"sh\"\n";

fn problem_keys(text: &str) -> Vec<String> {
    check(text).unwrap_err().problems.into_iter().map(|p| p.key).collect()
}

#[test]
fn without_redis_nothing_is_shared() {
    let config = valid(SERVER);
    assert!(config.redis.is_none());
    assert_eq!(config.servers[0].shared_rate_limit, None);
}

#[test]
fn a_shared_limit_keeps_its_quota_and_defaults_to_fail_open() {
    let text = format!(
        "[redis]\nurl = \"redis+unix:///run/redis.sock\"\n{SERVER}[servers.rate_limit]\n\
         per_second = 5\nburst = 7\nshared = true\n"
    );
    let config = valid(&text);
    let redis = config.redis.as_ref().unwrap();
    assert_eq!(redis.url.expose(), "redis+unix:///run/redis.sock");
    assert_eq!(
        (redis.key_prefix.as_str(), redis.timeout),
        ("mcp-auth:", Duration::from_millis(50))
    );
    let entry = &config.servers[0];
    assert_eq!(entry.shared_rate_limit, Some(FailMode::Open));
    assert_eq!((entry.rate_limit.requests, entry.rate_limit.burst), (5, 7));
}

#[test]
fn every_redis_key_is_read() {
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1:6379/2\"\nkey_prefix = \"prod:\"\ntimeout = \"250ms\"\n\
         {SERVER}[servers.rate_limit]\nshared = true\nfail_mode = \"closed\"\n"
    );
    let config = valid(&text);
    let redis = config.redis.unwrap();
    assert_eq!((redis.key_prefix.as_str(), redis.timeout), ("prod:", Duration::from_millis(250)));
    assert_eq!(config.servers[0].shared_rate_limit, Some(FailMode::Closed));
}

#[test]
fn shared_needs_redis_and_fail_mode_needs_shared() {
    let text = format!("{SERVER}[servers.rate_limit]\nshared = true\n");
    assert_eq!(problem_keys(&text), ["servers[0].rate_limit.shared"]);
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1\"\n{SERVER}[servers.rate_limit]\nfail_mode = \"open\"\n"
    );
    assert_eq!(problem_keys(&text), ["servers[0].rate_limit.fail_mode"]);
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1\"\n{SERVER}[servers.rate_limit]\nshared = true\n\
         enabled = false\n"
    );
    assert_eq!(problem_keys(&text), ["servers[0].rate_limit.shared"]);
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1\"\n{SERVER}[servers.rate_limit]\nshared = true\n\
         fail_mode = \"ajar\"\n"
    );
    assert_eq!(problem_keys(&text), ["servers[0].rate_limit.fail_mode"]);
}

#[test]
fn bad_redis_settings_are_named_and_a_password_is_never_shown() {
    let text = format!(
        "[redis]\nurl = \"http://:hunter2-secret@cache:6379\"\ntimeout = \"0s\"\n\
         key_prefix = \"a b\"\n{SERVER}"
    );
    let report = check(&text).unwrap_err();
    let keys: Vec<&str> = report.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["redis.url", "redis.key_prefix", "redis.timeout"], "{report}");
    assert!(!report.to_string().contains("hunter2"), "{report}");
    assert_eq!(problem_keys(&format!("[redis]\n{SERVER}")), ["redis.url"]);
    assert_eq!(
        problem_keys(&format!("[redis]\nurl = \"redis://x\"\nport = 1\n{SERVER}")),
        ["redis.port"]
    );
    assert_eq!(
        problem_keys(&format!("[redis]\nurl = \"redis://x\"\ntimeout = \"6s\"\n{SERVER}")),
        ["redis.timeout"]
    );
}

#[test]
fn the_checked_section_hides_the_url() {
    let text = format!("[redis]\nurl = \"redis://:hunter2-secret@cache:6379\"\n{SERVER}");
    let config = valid(&text);
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn a_hash_key_comes_from_the_environment_and_must_be_long() {
    let text = format!(
        "[redis]\nurl = \"redis://x\"\nuser_hash_key_env = \"MCP_AUTH_REDIS_KEY\"\n{SERVER}"
    );
    let long = "k".repeat(32);
    let env = env_with(&[("MCP_AUTH_REDIS_KEY", &long)]);
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    assert_eq!(config.redis.unwrap().user_hash_key.unwrap().expose(), long);
    let env = env_with(&[("MCP_AUTH_REDIS_KEY", "short-secret-value")]);
    let report = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap_err();
    assert_eq!(report.problems[0].key, "redis.user_hash_key_env");
    assert!(!report.to_string().contains("short-secret-value"), "{report}");
    assert_eq!(problem_keys(&text), ["redis.user_hash_key_env"], "unset");
}

#[test]
fn a_credential_key_comes_from_the_environment_as_base64_of_32_bytes() {
    let text = format!(
        "[redis]\nurl = \"redis://x\"\ncredential_key_env = \"MCP_AUTH_CREDENTIAL_KEY\"\n{SERVER}"
    );
    let key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    let env = env_with(&[("MCP_AUTH_CREDENTIAL_KEY", key)]);
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    let redis = config.redis.unwrap();
    assert!(redis.credential_key.is_some());
    assert!(!format!("{redis:?}").contains("AQIDBAUG"), "{redis:?}");
    assert!(
        valid(&format!("[redis]\nurl = \"redis://x\"\n{SERVER}"))
            .redis
            .unwrap()
            .credential_key
            .is_none()
    );

    // Unset, not base64, or not 32 bytes: named at the key, the value never echoed.
    assert_eq!(problem_keys(&text), ["redis.credential_key_env"], "unset");
    for bad in [
        "c2hvcnQta2V5LXNlY3JldA==",
        "not-base64-secret!!",
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh",
    ] {
        let env = env_with(&[("MCP_AUTH_CREDENTIAL_KEY", bad)]);
        let report = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap_err();
        let keys: Vec<&str> = report.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["redis.credential_key_env"], "{report}");
        assert!(!report.to_string().contains(bad), "{report}");
        assert!(report.to_string().contains("32"), "{report}");
    }
}

#[test]
fn the_url_may_come_from_the_environment_and_never_from_both() {
    let text = format!("[redis]\nurl_env = \"MCP_AUTH_REDIS_URL\"\n{SERVER}");
    let url = "redis://:hunter2-secret@cache:6379/1";
    let env = env_with(&[("MCP_AUTH_REDIS_URL", url)]);
    let config = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap();
    assert_eq!(config.redis.unwrap().url.expose(), url);

    let report = check(&text).unwrap_err();
    assert_eq!(report.problems[0].key, "redis.url_env", "unset: {report}");
    let env = env_with(&[("MCP_AUTH_REDIS_URL", "http://:hunter2-secret@cache")]);
    let report = parse_with_env(&text, ORIGIN, &Overrides::default(), &env).unwrap_err();
    assert_eq!(report.problems[0].key, "redis.url", "not a redis URL: {report}");
    assert!(!report.to_string().contains("hunter2"), "{report}");
    let both = format!("[redis]\nurl = \"redis://x\"\nurl_env = \"MCP_AUTH_REDIS_URL\"\n{SERVER}");
    assert_eq!(problem_keys(&both), ["redis.url"]);
}
