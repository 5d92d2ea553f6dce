//! `mcp-auth token` and the `token` module behind it: minted tokens verify with the library's
//! `JwtAuthProvider`, and the binary, run as a real child process, never prints the secret.

use std::{
    process::{Command, Output},
    time::Duration,
};

use mcp_auth::{AuthError, JwtAuthProvider};
use mcp_auth_gateway::token::{SECRET_ENV_VAR, mint};

const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
const AUDIENCE: &str = "https://mcp.example.com";
const ISSUER: &str = "https://tenants.example.com";

fn provider() -> JwtAuthProvider {
    JwtAuthProvider::builder()
        .secret(SECRET)
        .audience(AUDIENCE)
        .build()
        .expect("provider configuration")
}

/// Runs the real binary with a clean secret environment plus `env`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcp-auth"));
    command.args(args).env_remove(SECRET_ENV_VAR);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run mcp-auth")
}

#[tokio::test]
async fn a_minted_token_verifies_and_carries_sub_and_scope() {
    let token = mint(
        SECRET,
        "alice",
        Duration::from_secs(3600),
        Some("notes:read notes:write"),
        Some(AUDIENCE),
        Some(ISSUER),
    )
    .expect("mint");

    let principal = JwtAuthProvider::builder()
        .secret(SECRET)
        .audience(AUDIENCE)
        .issuer(ISSUER)
        .build()
        .expect("provider configuration")
        .verify(&token)
        .await
        .expect("the minted token verifies");
    assert_eq!(principal.user_id(), "alice");
    assert_eq!(principal.scopes(), ["notes:read", "notes:write"]);
    let claims = principal.claims();
    assert_eq!(claims["sub"], "alice");
    let lifetime = claims["exp"].as_u64().zip(claims["iat"].as_u64()).map(|(exp, iat)| exp - iat);
    assert_eq!(lifetime, Some(3600));
}

#[tokio::test]
async fn a_minted_token_for_another_audience_is_refused() {
    let token = mint(SECRET, "alice", Duration::from_secs(60), None, Some("https://other"), None)
        .expect("mint");
    assert!(matches!(provider().verify(&token).await, Err(AuthError::WrongAudience)));
}

#[tokio::test]
async fn the_binary_prints_only_a_token_that_verifies() {
    let output = run(
        &["token", "--user", "bob", "--ttl", "30m", "--scope", "a b", "--aud", AUDIENCE],
        &[(SECRET_ENV_VAR, SECRET)],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");

    let principal = provider().verify(stdout.trim_end()).await.expect("the token verifies");
    assert_eq!(principal.user_id(), "bob");
    assert_eq!(principal.scopes(), ["a", "b"]);
}

#[tokio::test]
async fn the_binary_takes_the_secret_from_the_flag_too() {
    let output = run(&["token", "--user", "carol", "--aud", AUDIENCE, "--secret", SECRET], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let principal = provider().verify(stdout.trim_end()).await.expect("the token verifies");
    assert_eq!(principal.user_id(), "carol");
}

#[test]
fn the_binary_without_a_secret_exits_2_and_names_the_variable() {
    for env in [&[][..], &[(SECRET_ENV_VAR, "")][..]] {
        let output = run(&["token", "--user", "bob"], env);
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(SECRET_ENV_VAR) && stderr.contains("--secret"), "{stderr}");
    }
}

#[test]
fn the_binary_refuses_a_short_secret_without_echoing_it() {
    let short = "short-secret-never-print-me";
    for (args, env) in [
        (&["token", "--user", "bob"][..], &[(SECRET_ENV_VAR, short)][..]),
        (&["token", "--user", "bob", "--secret", short][..], &[][..]),
    ] {
        let output = run(args, env);
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("32 bytes") && !stderr.contains(short), "{stderr}");
    }
}

#[test]
fn the_binary_refuses_a_bad_ttl_with_a_usage_error() {
    let output = run(&["token", "--user", "bob", "--ttl", "1w"], &[(SECRET_ENV_VAR, SECRET)]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1w") && !stderr.contains(SECRET), "{stderr}");
}

#[test]
fn help_does_not_show_the_secret_from_the_environment() {
    let output = run(&["token", "--help"], &[(SECRET_ENV_VAR, SECRET)]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains(SECRET_ENV_VAR) && !help.contains(SECRET), "{help}");
}
