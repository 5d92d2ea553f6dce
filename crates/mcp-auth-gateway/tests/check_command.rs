//! `mcp-auth check --config FILE`, run as the real binary: each broken config exits 2 and prints
//! exactly the lines that name the key, the bad value (redacted when it is a secret) and what
//! would be valid; a good config exits 0 and lists its mounts. `mcp-auth serve` runs the same
//! check first, and starts nothing when it fails.
//!
//! The binary gets a cleared environment plus what each test gives it, so neither the machine's
//! `MCP_AUTH_ENV` nor a secret of the developer's shell can change an outcome.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth");
const SECRET: &str = "check-command-test-secret-longer-than-32-bytes";
/// The PATH of most tests: enough to find `sh`.
const SYSTEM_PATH: &str = "/usr/bin:/bin";
/// A stdio server that every test machine has.
const SH_SERVER: &str = "[[servers]]\nname = \"shell\"\ncommand = \"sh\"\n";

/// A scratch directory for one test's files, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mcp-auth-check-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` as `gw.toml` and returns its path.
    fn config(&self, text: &str) -> PathBuf {
        let path = self.path("gw.toml");
        std::fs::write(&path, text).expect("write the config");
        path
    }

    /// A directory holding a do-nothing executable for each of `programs`.
    fn stubs(&self, programs: &[&str]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.path("bin");
        std::fs::create_dir_all(&dir).expect("create the stub directory");
        for program in programs {
            let path = dir.join(program);
            std::fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write a stub");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("make the stub executable");
        }
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `mcp-auth ARGS` with exactly `env` as its environment; gives up (and kills it) after 60 s,
/// which only a binary that went on serving reaches.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped());
    command.stderr(Stdio::piped());
    command.envs(env.iter().copied());
    let child = command.spawn().expect("run mcp-auth");
    let pid = child.id();
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match outcome.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("wait for mcp-auth"),
        Err(_) => {
            // SAFETY: `kill` takes any pid; this one is our own child, still unreaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("mcp-auth {args:?} was still running after 60 s");
        }
    }
}

/// `mcp-auth check --config path`.
fn check(path: &Path, env: &[(&str, &str)]) -> Output {
    run(&["check", "--config", path.to_str().expect("a UTF-8 path")], env)
}

/// `PATH` and a valid JWT secret, plus `extra`.
fn env_with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("PATH", SYSTEM_PATH), ("MCP_AUTH_JWT_SECRET", SECRET)];
    env.extend_from_slice(extra);
    env
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// Asserts exit code 2, nothing on stdout, and exactly `lines` on stderr, each prefixed with
/// the config file's path.
#[track_caller]
fn assert_refused(output: &Output, path: &Path, lines: &[&str]) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout, "", "nothing on stdout when the config is refused");
    let expected: String =
        lines.iter().map(|line| format!("{}: {line}\n", path.display())).collect();
    assert_eq!(stderr, expected);
}

#[test]
fn a_jwt_secret_variable_that_is_not_set() {
    let scratch = Scratch::new("secret-env");
    let path = scratch.config(&format!("[auth]\nsecret_env = \"GATEWAY_JWT_SECRET\"\n{SH_SERVER}"));
    // MCP_AUTH_JWT_SECRET is set but not the variable the file names.
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["auth.secret_env: names environment variable GATEWAY_JWT_SECRET, which is not set (or \
           is empty); set GATEWAY_JWT_SECRET to the JWT signing secret (at least 32 bytes), or \
           use secret_file/public_key_file/jwks_url"],
    );
}

#[test]
fn the_default_jwt_secret_variable_that_is_not_set() {
    let scratch = Scratch::new("default-secret");
    let path = scratch.config(&format!("[auth]\nalgorithm = \"HS512\"\n{SH_SERVER}"));
    assert_refused(
        &check(&path, &[("PATH", SYSTEM_PATH), ("MCP_AUTH_JWT_SECRET", "")]),
        &path,
        &["auth.secret_env: not given, so the JWT secret is read from the default \
           MCP_AUTH_JWT_SECRET, which is not set (or is empty); set MCP_AUTH_JWT_SECRET to the \
           JWT signing secret (at least 64 bytes), or use secret_file/public_key_file/jwks_url"],
    );
}

#[test]
fn a_tenant_manager_service_token_that_is_not_set() {
    let scratch = Scratch::new("service-token");
    let path = scratch.config(&format!(
        "[credentials]\nmode = \"api\"\nurl = \"https://tenants.example.com\"\n\
         service_token_env = \"MCP_AUTH_TENANT_TOKEN\"\n{SH_SERVER}"
    ));
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["credentials.service_token_env: names environment variable MCP_AUTH_TENANT_TOKEN, \
           which is not set (or is empty); set it to the tenant manager's service token"],
    );
}

#[test]
fn a_wildcard_cors_origin_in_production() {
    let scratch = Scratch::new("cors");
    let origins = "cors_origins = [\"https://app.example.com\", \"*\"]";
    let path =
        scratch.config(&format!("[server]\nenvironment = \"production\"\n{origins}\n{SH_SERVER}"));
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &[
            "server.cors_origins[1]: a wildcard origin (any web page) is refused in production (set \
           by server.environment); list the browser origins to allow, e.g. \
           [\"https://app.example.com\"] (got \"*\")",
        ],
    );

    // Production from the environment, not the file: the message says where it came from.
    let path = scratch.config(&format!("[server]\n{origins}\n{SH_SERVER}"));
    assert_refused(
        &check(&path, &env_with(&[("MCP_AUTH_ENV", "production")])),
        &path,
        &[
            "server.cors_origins[1]: a wildcard origin (any web page) is refused in production (set \
           by MCP_AUTH_ENV); list the browser origins to allow, e.g. \
           [\"https://app.example.com\"] (got \"*\")",
        ],
    );
    // The same file in development is accepted.
    let output = check(&path, &env_with(&[]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn an_unknown_key_suggests_the_closest_one() {
    let scratch = Scratch::new("unknown-key");
    let path = scratch.config(
        "[server]\nlisten = \"127.0.0.1:8080\"\n\n[[servers]]\nname = \"memory\"\ncomand = \"sh\"\n",
    );
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["servers[0].comand: unknown key; did you mean \"command\"?"],
    );
}

#[test]
fn an_unknown_key_far_from_any_lists_the_valid_ones() {
    let scratch = Scratch::new("unknown-far");
    let path = scratch.config(&format!("[server.limits]\nmax_users = 10\n{SH_SERVER}"));
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["server.limits.max_users: unknown key; expected one of: max_request_body_bytes, \
           max_connections, max_in_flight_per_user, max_unread_response_bytes_per_user, \
           max_sessions_per_user, max_sse_sessions_per_user, max_sessions_total, \
           session_hibernate_after, session_idle_timeout"],
    );
}

#[test]
fn an_upstream_url_that_does_not_parse() {
    let scratch = Scratch::new("bad-url");
    let path = scratch
        .config("[[servers]]\nname = \"notes\"\nurl = \"https://notes.example.com:99999/mcp\"\n");
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &[
            "servers[0].url: not a URL (invalid port number); expected an absolute http(s) URL such \
           as \"http://127.0.0.1:9000/mcp\" (got \"https://notes.example.com:99999/mcp\")",
        ],
    );
}

#[test]
fn a_plain_http_url_to_another_host_is_refused_and_its_query_is_not_shown() {
    let scratch = Scratch::new("http-url");
    let path = scratch.config(
        "[[servers]]\nname = \"notes\"\nurl = \"http://notes.internal:9000/mcp?api_key=k3y-in-url\"\n",
    );
    let output = check(&path, &env_with(&[]));
    assert_refused(
        &output,
        &path,
        &[
            "servers[0].url: plain http to a non-loopback host would send credentials in clear; use \
           https, or set allow_insecure_http = true on this server (got \
           \"http://notes.internal:9000/mcp?[redacted]\")",
        ],
    );
}

#[test]
fn a_tenant_manager_url_that_is_not_http() {
    let scratch = Scratch::new("tenant-url");
    let path = scratch.config(&format!(
        "[credentials]\nmode = \"api\"\nurl = \"tenants.example.com\"\n\
         service_token_env = \"MCP_AUTH_TENANT_TOKEN\"\n{SH_SERVER}"
    ));
    assert_refused(
        &check(&path, &env_with(&[("MCP_AUTH_TENANT_TOKEN", "tenant-service-token")])),
        &path,
        &["credentials.url: not a URL (relative URL without a base); expected an absolute \
           http(s) URL such as \"https://tenants.example.com\" (got \"tenants.example.com\")"],
    );
}

#[test]
fn a_template_naming_an_unknown_variable() {
    let scratch = Scratch::new("template");
    let path = scratch.config(
        "[credentials]\nmode = \"jwt\"\n\n[[servers]]\nname = \"github\"\ncommand = \"sh\"\n\
         env = { GITHUB_PERSONAL_ACCESS_TOKEN = \"{acces_token}\" }\n",
    );
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["servers[0].env.GITHUB_PERSONAL_ACCESS_TOKEN: unknown template variable {acces_token}; \
           did you mean {access_token}? known: {access_token}, {user_id}, {user_id_hash}, \
           {extra.NAME} for NAME in extras"],
    );
}

#[test]
fn a_template_naming_a_header_that_is_not_an_extra() {
    let scratch = Scratch::new("template-extra");
    let path = scratch.config(
        "[[servers]]\nname = \"crm\"\nurl = \"https://crm.example.com/mcp\"\n\
         extras = [\"x-tenant-id\"]\nheaders = { X-Tenant = \"{extra.x-tenant}\" }\n",
    );
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["servers[0].headers.X-Tenant: {extra.x-tenant} names a header that is not in this \
           server's extras (allowed: \"x-tenant-id\"); add \"x-tenant\" to extras to use it; did \
           you mean {extra.x-tenant-id}?"],
    );
}

#[test]
fn a_command_that_is_not_on_path() {
    let scratch = Scratch::new("command");
    let bin = scratch.stubs(&["npx"]);
    let path = scratch
        .config("[[servers]]\nname = \"time\"\ncommand = \"uvx\"\nargs = [\"mcp-server-time\"]\n");
    let bin = bin.display().to_string();
    let output = check(&path, &[("PATH", &bin), ("MCP_AUTH_JWT_SECRET", SECRET)]);
    let line = format!(
        "servers[0].command: \"uvx\" was not found on PATH (searched {bin}); install it or give \
         its full path"
    );
    assert_refused(&output, &path, &[&line]);
    // Found once it is there: the lookup is what refused it.
    scratch.stubs(&["uvx"]);
    let output = check(&path, &[("PATH", &bin), ("MCP_AUTH_JWT_SECRET", SECRET)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_too_short_secret_is_refused_without_being_shown() {
    let scratch = Scratch::new("short-secret");
    let short = "only-thirty-one-bytes-of-secret";
    assert_eq!(short.len(), 31);
    let path = scratch.config(SH_SERVER);
    let output = check(&path, &[("PATH", SYSTEM_PATH), ("MCP_AUTH_JWT_SECRET", short)]);
    assert_refused(
        &output,
        &path,
        &["auth.secret_env: the secret in MCP_AUTH_JWT_SECRET is shorter than 32 bytes, the \
           minimum for HS256 (RFC 7518 §3.2); generate one with `openssl rand -base64 48` (got \
           [redacted])"],
    );
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(!all.contains(short), "the secret leaked:\n{all}");

    // The same from a file: neither the file's text nor a part of it appears.
    let file = scratch.path("jwt-secret");
    std::fs::write(&file, format!("{short}\n")).unwrap();
    let path =
        scratch.config(&format!("[auth]\nsecret_file = \"{}\"\n{SH_SERVER}", file.display()));
    let output = check(&path, &[("PATH", SYSTEM_PATH)]);
    let line = format!(
        "auth.secret_file: the secret in {} is shorter than 32 bytes, the minimum for HS256 (RFC \
         7518 §3.2); generate one with `openssl rand -base64 48` (got [redacted])",
        file.display()
    );
    assert_refused(&output, &path, &[&line]);
    assert!(!text(&output.stderr).contains(&short[..16]), "the secret leaked");
}

#[test]
fn secrets_of_the_environment_never_appear_in_a_report() {
    let scratch = Scratch::new("no-leak");
    let service_token = "tenant-service-token-that-must-not-leak";
    // Valid secrets, and a file wrong in every other section.
    let path = scratch.config(
        "[server]\nlisten = \"127.0.0.1:80800\"\n\
         [auth]\nsecret_env = \"MCP_AUTH_JWT_SECRET\"\nalgorithm = \"HS257\"\n\
         [credentials]\nmode = \"api\"\nurl = \"ftp://tenants.example.com\"\n\
         service_token_env = \"MCP_AUTH_TENANT_TOKEN\"\n\
         [[servers]]\nname = \"Bad Name\"\ncommand = \"sh\"\nenv = { T = \"{access_tokn}\" }\n",
    );
    let output = check(&path, &env_with(&[("MCP_AUTH_TENANT_TOKEN", service_token)]));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.lines().count() >= 4, "every section reported:\n{stderr}");
    for secret in [SECRET, service_token] {
        assert!(!stderr.contains(secret), "{secret} leaked:\n{stderr}");
    }
}

#[test]
fn a_config_file_that_cannot_be_read() {
    let scratch = Scratch::new("missing-file");
    let path = scratch.path("nowhere.toml");
    assert_refused(
        &check(&path, &env_with(&[])),
        &path,
        &["(file): cannot read the config file: No such file or directory (os error 2)"],
    );
}

#[test]
fn a_valid_config_exits_0_and_lists_its_mounts() {
    let scratch = Scratch::new("valid");
    let path = scratch.config(
        "[server]\npublic_url = \"https://mcp.example.com/gw\"\n\
         [[servers]]\nname = \"memory\"\npath = \"/mcp\"\ncommand = \"sh\"\n\
         [[servers]]\nname = \"notes\"\nurl = \"http://127.0.0.1:9000/mcp\"\n",
    );
    let output = check(&path, &env_with(&[]));
    assert_eq!(text(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        text(&output.stdout),
        format!(
            "{}: OK\n  memory at https://mcp.example.com/gw/mcp\n  notes at \
             https://mcp.example.com/gw/notes\n",
            path.display()
        )
    );
}

#[test]
fn serve_refuses_a_broken_config_with_the_same_message_and_starts_nothing() {
    let scratch = Scratch::new("serve");
    let marker = scratch.path("started");
    // Valid but for the wildcard origin; its warm pool would start a child at once.
    let path = scratch.config(&format!(
        "[server]\nenvironment = \"production\"\ncors_origins = [\"*\"]\n\
         [[servers]]\nname = \"warm\"\ncommand = \"sh\"\n\
         args = [\"-c\", \"echo started > {}\"]\n[servers.instances]\nwarm_pool = 1\n",
        marker.display()
    ));
    let line = "server.cors_origins[0]: a wildcard origin (any web page) is refused in production \
                (set by server.environment); list the browser origins to allow, e.g. \
                [\"https://app.example.com\"] (got \"*\")";
    assert_refused(&check(&path, &env_with(&[])), &path, &[line]);

    let config = path.to_str().unwrap();
    let output = run(&["serve", "--config", config, "--listen", "127.0.0.1:0"], &env_with(&[]));
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout, "", "no mount was announced");
    assert!(
        stderr.lines().any(|l| l == format!("mcp-auth serve: {}: {line}", path.display())),
        "{stderr}"
    );
    assert!(!marker.exists(), "serve started the warm child of a refused config");

    // The same file once fixed does start serving (the refusal above is the check's).
    let path = scratch.config(&std::fs::read_to_string(&path).unwrap().replace("\"*\"", ""));
    let output = check(&path, &env_with(&[]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// The environment variables the shipped examples read; a new example that needs another one
/// fails here until it is added (and documented in the example's header).
const EXAMPLE_ENV: [(&str, &str); 5] = [
    ("MCP_AUTH_JWT_SECRET", SECRET),
    ("MCP_AUTH_TENANT_TOKEN", "tenant-service-token"),
    ("MCP_USER_ID", "local-user"),
    // A keyring (`mcp-auth credentials gen-key`): one all-zero test key, never a real one.
    ("MCP_AUTH_STORE_KEYS", "*k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    ("GITHUB_OAUTH_CLIENT_SECRET", "oauth-app-client-secret"),
];

/// The programs the shipped examples run, as stubs: the check looks each one up on `PATH`, and
/// this machine need not have them installed.
const EXAMPLE_PROGRAMS: [&str; 5] = ["npx", "uvx", "sh", "node", "docker"];

#[test]
fn every_shipped_example_checks_clean_with_the_binary() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway");
    let scratch = Scratch::new("examples");
    let bin = scratch.stubs(&EXAMPLE_PROGRAMS).display().to_string();
    let mut env = vec![("PATH", bin.as_str())];
    env.extend_from_slice(&EXAMPLE_ENV);
    let mut checked = Vec::new();
    for file in std::fs::read_dir(&examples).expect("examples/gateway") {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let output = check(&path, &env);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{}:\n{stderr}", path.display());
        let mut lines = stdout.lines();
        assert_eq!(lines.next(), Some(format!("{}: OK", path.display()).as_str()));
        let mounts: Vec<&str> = lines.collect();
        assert!(!mounts.is_empty(), "{} mounts nothing:\n{stdout}", path.display());
        assert!(mounts.iter().all(|m| m.starts_with("  ") && m.contains(" at http")), "{stdout}");
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    checked.sort();
    assert!(checked.len() >= 5, "expected the examples, checked {checked:?}");
    assert!(checked.contains(&"memory.toml".to_owned()), "{checked:?}");
}
