//! The exact lines `mcp-auth check` prints for each mistake.

use super::*;

const SH: &str = "[[servers]]\nname = \"sh\"\ncommand = \"sh\"\n";

fn with_sh(prefix: &str) -> String {
    format!("{prefix}\n{SH}")
}

#[test]
fn a_secret_env_that_is_not_set() {
    assert_reports(
        &with_sh("[auth]\nsecret_env = \"GATEWAY_JWT\""),
        &base_env,
        "gw.toml: auth.secret_env: names environment variable GATEWAY_JWT, which is not set (or \
         is empty); set GATEWAY_JWT to the JWT signing secret (at least 32 bytes), or use \
         secret_file/public_key_file/jwks_url",
    );
    let no_secret = |name: &str| (name == "PATH").then(|| "/bin".to_owned());
    assert_reports(
        SH,
        &no_secret,
        "gw.toml: auth.secret_env: not given, so the JWT secret is read from the default \
         MCP_AUTH_JWT_SECRET, which is not set (or is empty); set MCP_AUTH_JWT_SECRET to the \
         JWT signing secret (at least 32 bytes), or use secret_file/public_key_file/jwks_url",
    );
}

#[test]
fn a_secret_shorter_than_32_bytes() {
    let secret = "thirty-one-bytes-long-secret-xx";
    let env = env_with(&[("MCP_AUTH_JWT_SECRET", secret)]);
    assert_reports(
        SH,
        &env,
        "gw.toml: auth.secret_env: the secret in MCP_AUTH_JWT_SECRET is shorter than 32 bytes, \
         the minimum for HS256 (RFC 7518 §3.2); generate one with `openssl rand -base64 48` \
         (got [redacted])",
    );
    assert!(!lines(SH, &env).join("\n").contains(secret));
}

#[test]
fn a_wildcard_cors_origin_in_production() {
    let text = with_sh("[server]\nenvironment = \"production\"\ncors_origins = [\"*\"]");
    assert_reports(
        &text,
        &base_env,
        "gw.toml: server.cors_origins[0]: a wildcard origin (any web page) is refused in \
         production (set by server.environment); list the browser origins to allow, e.g. \
         [\"https://app.example.com\"] (got \"*\")",
    );
    assert_reports(
        &with_sh("[server]\ncors_origins = [\"https://a.example.com\", \"*\"]"),
        &env_with(&[("MCP_AUTH_ENV", "prod")]),
        "gw.toml: server.cors_origins[1]: a wildcard origin (any web page) is refused in \
         production (set by MCP_AUTH_ENV); list the browser origins to allow, e.g. \
         [\"https://app.example.com\"] (got \"*\")",
    );
    assert_reports(
        &with_sh("[server]\ncors_origins = [\"https://a.example.com/app\"]"),
        &base_env,
        "gw.toml: server.cors_origins[0]: expected an origin: scheme, host and optional port, \
         without a path, such as \"https://app.example.com\" (got \"https://a.example.com/app\")",
    );
    assert!(check(&with_sh("[server]\ncors_origins = [\"*\"]")).is_ok(), "allowed in development");
}

#[test]
fn an_unknown_key_suggests_the_closest() {
    let text = "[[servers]]\nname = \"sh\"\ncomand = \"sh\"\n";
    assert_reports(
        text,
        &base_env,
        "gw.toml: servers[0].comand: unknown key; did you mean \"command\"?",
    );
    assert_reports(
        &with_sh("[server]\nfoo = 1"),
        &base_env,
        "gw.toml: server.foo: unknown key; expected one of: listen, public_url, cors_origins, \
         allowed_hosts, environment, worker_threads, metrics, drain_delay, limits, progress",
    );
    assert_reports(
        &with_sh("[auth]\nmode = \"jwtt\""),
        &base_env,
        "gw.toml: auth.mode: unknown value \"jwtt\"; did you mean \"jwt\"?",
    );
    assert_reports(
        &format!("{SH}[servers.instances]\nidel_timeout = \"1m\"\n"),
        &base_env,
        "gw.toml: servers[0].instances.idel_timeout: unknown key; did you mean \"idle_timeout\"?",
    );
}

#[test]
fn a_wrongly_typed_value_names_its_key() {
    assert_reports(
        &with_sh("[server]\nlisten = \"localhost:8080\""),
        &base_env,
        "gw.toml: server.listen: expected an IP address and port, such as \"127.0.0.1:8080\" \
         (loopback only), \"0.0.0.0:8080\" (all interfaces) or \"[::1]:8080\"; not a host name \
         (got \"localhost:8080\")",
    );
    assert_reports(
        &with_sh("[server]\nlisten = 8080"),
        &base_env,
        "gw.toml: server.listen: invalid type: integer `8080`, expected a string",
    );
    let lines = lines_of(&format!("{SH}[servers.instances]\nidle_timeout = \"soon\"\n"));
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("gw.toml: servers[0].instances.idle_timeout: expected a duration")),
        "{lines:?}"
    );
    assert_reports(
        "[[servers]]\ncommand = \"sh\"\n",
        &base_env,
        "gw.toml: servers[0].name: required key is missing",
    );
}

fn lines_of(text: &str) -> Vec<String> {
    lines(text, &base_env)
}

#[test]
fn a_url_that_is_not_http() {
    let http = |url: &str| format!("[[servers]]\nname = \"h\"\nurl = \"{url}\"\n");
    assert_reports(
        &http("not a url"),
        &base_env,
        "gw.toml: servers[0].url: not a URL (relative URL without a base); expected an absolute \
         http(s) URL such as \"http://127.0.0.1:9000/mcp\" (got \"not a url\")",
    );
    assert_reports(
        &http("ftp://files.example.com/mcp"),
        &base_env,
        "gw.toml: servers[0].url: expected an http or https URL such as \
         \"http://127.0.0.1:9000/mcp\" (got \"ftp://files.example.com/mcp\")",
    );
    assert_reports(
        &with_sh("[credentials]\nmode = \"api\"\nurl = \"tenants\"\nservice_token_env = \"T\""),
        &env_with(&[("T", "service-token")]),
        "gw.toml: credentials.url: not a URL (relative URL without a base); expected an \
         absolute http(s) URL such as \"https://tenants.example.com\" (got \"tenants\")",
    );
    assert_reports(
        &with_sh("[auth]\njwks_url = \"idp/jwks\""),
        &base_env,
        "gw.toml: auth.jwks_url: not a URL (relative URL without a base); expected an absolute \
         http(s) URL such as \"https://idp.example.com/.well-known/jwks.json\" (got \
         \"idp/jwks\")",
    );
    assert_reports(
        &with_sh("[server]\npublic_url = \"mcp.example.com\""),
        &base_env,
        "gw.toml: server.public_url: not a URL (relative URL without a base); expected an \
         absolute http(s) URL such as \"https://mcp.example.com\" (got \"mcp.example.com\")",
    );
    assert_reports(
        &with_sh("[server]\npublic_url = \"https://u:pw@mcp.example.com/?k=v\""),
        &base_env,
        "gw.toml: server.public_url: expected an absolute http(s) URL such as \
         \"https://mcp.example.com\", without user@, ?query or #fragment (got \
         \"https://[redacted]@mcp.example.com/?[redacted]\")",
    );
}

#[test]
fn plain_http_to_another_host_needs_allow_insecure_http() {
    let text = "[[servers]]\nname = \"h\"\nurl = \"http://10.0.0.5:9000/mcp\"\n";
    assert_reports(
        text,
        &base_env,
        "gw.toml: servers[0].url: plain http to a non-loopback host would send credentials in \
         clear; use https, or set allow_insecure_http = true on this server (got \
         \"http://10.0.0.5:9000/mcp\")",
    );
    assert!(check(&format!("{text}allow_insecure_http = true\n")).is_ok());
    assert_reports(
        &format!("[server]\nenvironment = \"production\"\n{text}allow_insecure_http = true\n"),
        &base_env,
        "gw.toml: servers[0].url: allow_insecure_http = true is refused in production (set by \
         server.environment): credentials would cross the network in clear; remove it and use \
         an https URL",
    );
    assert!(check("[[servers]]\nname = \"h\"\nurl = \"http://localhost:9000/mcp\"\n").is_ok());
}

#[test]
fn a_template_with_an_unknown_variable() {
    assert_reports(
        &format!("{SH}env = {{ X = \"{{acess_token}}\" }}\n"),
        &base_env,
        "gw.toml: servers[0].env.X: unknown template variable {acess_token}; did you mean \
         {access_token}? known: {access_token}, {user_id}, {user_id_hash}, {extra.NAME} for NAME \
         in extras",
    );
    assert_reports(
        &format!("{SH}args = [\"--tenant={{extra.x-tenant}}\"]\n"),
        &base_env,
        "gw.toml: servers[0].args[0]: {extra.x-tenant} names a header that is not in this \
         server's extras (allowed: none); add \"x-tenant\" to extras to use it",
    );
}

#[test]
fn a_command_that_is_not_on_path() {
    assert_reports(
        "[[servers]]\nname = \"x\"\ncommand = \"nosuchcmd\"\n",
        &base_env,
        "gw.toml: servers[0].command: \"nosuchcmd\" was not found on PATH (searched \
         /usr/bin:/bin); install it or give its full path",
    );
    assert_reports(
        "[[servers]]\nname = \"x\"\ncommand = \"/opt/none/server\"\n",
        &base_env,
        "gw.toml: servers[0].command: \"/opt/none/server\" does not exist",
    );
}

#[test]
fn servers_are_required_unique_and_have_one_upstream() {
    assert_reports(
        "",
        &base_env,
        "gw.toml: servers: no [[servers]] entry; add at least one upstream server to mount (a \
         [[servers]] table with a name and a command or url)",
    );
    let twice = format!("{SH}{SH}");
    assert_reports(
        &twice,
        &base_env,
        "gw.toml: servers[1].name: \"sh\" is already the name of servers[0]; names must be unique",
    );
    assert_reports(
        &twice,
        &base_env,
        "gw.toml: servers[1].path: \"/sh\" is already the path of servers[0]; paths must be unique",
    );
    let nested = format!(
        "{SH}path = \"/a\"\n[[servers]]\nname = \"b\"\ncommand = \"sh\"\npath = \"/a/sse\"\n"
    );
    assert!(lines_of(&nested).iter().any(|l| {
        l.starts_with("gw.toml: servers[1].path: \"/a/sse\" and servers[0].path \"/a\" overlap")
    }));
    assert_reports(
        "[[servers]]\nname = \"x\"\ncommand = \"sh\"\nurl = \"http://127.0.0.1:1/mcp\"\n",
        &base_env,
        "gw.toml: servers[0]: has both command (a stdio server) and url (an http server); give exactly one",
    );
    assert_reports(
        "[[servers]]\nname = \"x\"\n",
        &base_env,
        "gw.toml: servers[0]: has neither command (a stdio server) nor url (an http server); give exactly one",
    );
    assert_reports(
        &format!("{SH}path = \"/mcp/\"\n"),
        &base_env,
        "gw.toml: servers[0].path: expected a mount path such as \"/mcp\": starting with `/`, no \
         trailing `/`, segments of letters, digits, `.`, `_`, `~` and `-` (got \"/mcp/\")",
    );
}

#[test]
fn anonymous_access_only_on_loopback_and_never_in_production() {
    let text = with_sh("[server]\nlisten = \"0.0.0.0:8080\"\n[auth]\nmode = \"none\"");
    assert_reports(
        &text,
        &base_env,
        "gw.toml: auth.mode: mode = \"none\" admits every caller as one anonymous user, so it is \
         allowed only on a loopback listen address such as 127.0.0.1:8080 (listen is \
         0.0.0.0:8080); use mode = \"jwt\"",
    );
    assert_reports(
        &with_sh("[server]\nenvironment = \"production\"\n[auth]\nmode = \"none\""),
        &base_env,
        "gw.toml: auth.mode: mode = \"none\" is refused in production (set by \
         server.environment): it admits callers without credentials; use mode = \"jwt\"",
    );
    assert!(check(&with_sh("[auth]\nmode = \"none\"")).is_ok());
}

#[test]
fn a_warm_pool_cannot_be_given_per_user_values() {
    let text = format!(
        "{SH}env = {{ DATA = \"/d/{{user_id_hash}}\" }}\n[servers.instances]\nwarm_pool = 2\n"
    );
    assert_reports(
        &text,
        &base_env,
        "gw.toml: servers[0].instances.warm_pool: warm_pool = 2 starts children before any user \
         is known, but servers[0].env.DATA uses {user_id_hash}, which a warm child could not be \
         given; set warm_pool = 0, or keep per-user values out of args, env and cwd",
    );
    assert!(check(&format!("{SH}[servers.instances]\nwarm_pool = 2\n")).is_ok());
}

#[test]
fn a_warm_pool_is_bounded() {
    assert_reports(
        &format!("{SH}[servers.instances]\nwarm_pool = 65\n"),
        &base_env,
        "gw.toml: servers[0].instances.warm_pool: at most 64 children may wait per server; a few \
         cover the start of new users (got \"65\")",
    );
    assert!(check(&format!("{SH}[servers.instances]\nwarm_pool = 64\n")).is_ok());
}

#[test]
fn worker_threads_are_at_least_one_and_bounded() {
    for bad in [0, 1025] {
        assert_reports(
            &with_sh(&format!("[server]\nworker_threads = {bad}")),
            &base_env,
            "gw.toml: server.worker_threads: must be between 1 and 1024",
        );
    }
    assert!(check(&with_sh("[server]\nworker_threads = 1")).is_ok());
}

#[test]
fn credentials_must_fit_the_rest_of_the_file() {
    assert_reports(
        &format!("{SH}env = {{ TOKEN = \"{{access_token}}\" }}\n"),
        &base_env,
        "gw.toml: servers[0].env.TOKEN: uses {access_token}, but credentials.mode = \"none\" \
         gives no credential (it would always be empty); set [credentials] mode, or remove \
         {access_token}",
    );
    assert_reports(
        &with_sh("[auth]\nmode = \"none\"\n[credentials]\nmode = \"jwt\""),
        &base_env,
        "gw.toml: credentials.mode: mode = \"jwt\" reads the tokens embedded in the caller's \
         JWT, so it needs auth.mode = \"jwt\"",
    );
    assert_reports(
        &with_sh("[credentials]\nmode = \"env\""),
        &base_env,
        "gw.toml: servers[0].resource_type: credentials.mode = \"env\" reads \
         DEFAULT_ACCESS_TOKEN for resource type \"default\", which is not set (or is empty); \
         set it, or name the variable with credentials.var",
    );
    assert_reports(
        &with_sh("[credentials]\nmode = \"api\"\nurl = \"https://t.example.com\""),
        &base_env,
        "gw.toml: credentials.service_token_env: required with mode = \"api\": the environment \
         variable holding the tenant manager's service token",
    );
    assert_reports(
        &with_sh("[credentials]\nvar = \"X\""),
        &base_env,
        "gw.toml: credentials.var: only used with mode = \"env\" (mode is \"none\")",
    );
}

#[test]
fn exactly_one_jwt_key_source() {
    assert_reports(
        &with_sh("[auth]\nsecret_env = \"A\"\njwks_url = \"https://idp.example.com/jwks\""),
        &base_env,
        "gw.toml: auth: several key sources (secret_env, jwks_url); give exactly one of \
         secret_env/secret_file/public_key_file/jwks_url",
    );
    let missing = lines_of(&with_sh("[auth]\npublic_key_file = \"/no/such/key.pem\""));
    assert!(
        missing
            .iter()
            .any(|l| l.starts_with("gw.toml: auth.public_key_file: cannot read /no/such/key.pem")),
        "{missing:?}"
    );
    assert_reports(
        &with_sh("[auth]\npublic_key_file = \"/etc/passwd\""),
        &base_env,
        "gw.toml: auth.public_key_file: /etc/passwd is not a PEM-encoded RSA public key (for RS256)",
    );
}

#[test]
fn extras_that_carry_the_callers_credentials_are_refused() {
    assert_reports(
        &format!("{SH}extras = [\"Authorization\"]\n"),
        &base_env,
        "gw.toml: servers[0].extras[0]: carries the caller's own credentials, which must not \
         reach the upstream (MCP forbids token passthrough); use {access_token} (got \
         \"Authorization\")",
    );
}

#[test]
fn pass_env_never_names_the_gateways_own_variables() {
    assert_reports(
        &format!("{SH}pass_env = [\"NODE_OPTIONS\", \"MCP_AUTH_JWT_SECRET\"]\n"),
        &base_env,
        "gw.toml: servers[0].pass_env[1]: the gateway's own MCP_AUTH_* variables never reach a \
         server (some are secrets); give the server a value with env instead (got \
         \"MCP_AUTH_JWT_SECRET\")",
    );
    assert_reports(
        &format!("{SH}pass_env = [\"A=B\"]\n"),
        &base_env,
        "gw.toml: servers[0].pass_env[0]: expected an environment variable name (not empty, no \
         `=`) (got \"A=B\")",
    );
}

#[test]
fn syntax_errors_point_at_the_line() {
    let lines = lines_of("[[servers]\nname = \"x\"\n");
    assert!(lines[0].starts_with("gw.toml: line 1, column"), "{lines:?}");
}

#[test]
fn listening_on_all_interfaces_needs_a_public_url() {
    assert_reports(
        &with_sh("[server]\nlisten = \"0.0.0.0:8080\""),
        &base_env,
        "gw.toml: server.public_url: required when listening on all interfaces (0.0.0.0:8080): \
         clients cannot reach 0.0.0.0, and the public URL's host is the accepted Host header and \
         the default JWT audience; give the URL clients use, e.g. \"https://mcp.example.com\"",
    );
    let text =
        with_sh("[server]\nlisten = \"0.0.0.0:8080\"\npublic_url = \"https://mcp.example.com\"");
    assert!(check(&text).is_ok());
}

#[test]
fn a_secret_file_is_read_without_its_trailing_newline() {
    let dir = std::env::temp_dir().join(format!("mcp-auth-secret-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (good, short) = (dir.join("good"), dir.join("short"));
    std::fs::write(&good, format!("{SECRET}\n")).unwrap();
    // 31 bytes once the newline is dropped.
    std::fs::write(&short, format!("{}\r\n", &SECRET[..31])).unwrap();
    let config = valid(&with_sh(&format!("[auth]\nsecret_file = \"{}\"", good.display())));
    let AuthSection::Jwt(jwt) = &config.auth else { panic!("jwt") };
    let JwtAuth { key: JwtKey::Secret { secret, key, .. }, .. } = &**jwt else {
        panic!("a shared secret")
    };
    assert_eq!((secret.expose(), *key), (SECRET, "auth.secret_file"));
    let lines = lines_of(&with_sh(&format!("[auth]\nsecret_file = \"{}\"", short.display())));
    assert!(
        lines.iter().any(|l| l.starts_with("gw.toml: auth.secret_file: the secret in ")
            && l.ends_with(
                "is shorter than 32 bytes, the minimum for HS256 (RFC 7518 §3.2); \
                            generate one with `openssl rand -base64 48` (got [redacted])"
            )),
        "{lines:?}"
    );
}

#[test]
fn a_drain_delay_is_a_duration_of_at_most_five_minutes() {
    assert_reports(
        &with_sh("[server]\ndrain_delay = \"6m\""),
        &base_env,
        "gw.toml: server.drain_delay: at most \"5m\"; a load balancer stops sending new requests \
         within a few probe periods (\"5s\" suits Kubernetes) (got \"360s\")",
    );
    let lines = lines_of(&with_sh("[server]\ndrain_delay = \"soon\""));
    assert!(
        lines.iter().any(|l| l.starts_with("gw.toml: server.drain_delay: expected a duration")),
        "{lines:?}"
    );
    assert_eq!(valid(&with_sh("[server]\ndrain_delay = \"5m\"")).server.drain_delay.as_secs(), 300);
    assert!(valid(&with_sh("[server]\ndrain_delay = 0")).server.drain_delay.is_zero());
}

#[test]
fn a_session_time_of_zero() {
    for key in ["session_hibernate_after", "session_idle_timeout"] {
        assert_reports(
            &with_sh(&format!("[server.limits]\n{key} = \"0s\"")),
            &base_env,
            &format!("gw.toml: server.limits.{key}: must be more than 0"),
        );
    }
}

#[test]
fn progress_settings_are_checked() {
    let cases = [
        (
            "admin_scope = \"a b\"",
            "server.progress.admin_scope: a scope name: printable ASCII \
          without space, `\"` or `\\` (got \"a b\")",
        ),
        ("max_streams = 0", "server.progress.max_streams: must be at least 1"),
        ("max_streams_per_user = 0", "server.progress.max_streams_per_user: must be at least 1"),
        ("idle_timeout = \"0s\"", "server.progress.idle_timeout: must be more than 0"),
        (
            "high_rate_per_second = -1.0",
            "server.progress.high_rate_per_second: must be a number \
          above 0 (got \"-1\")",
        ),
    ];
    for (line, expected) in cases {
        let text = with_sh(&format!("[server.progress]\n{line}"));
        assert_reports(&text, &base_env, &format!("gw.toml: {expected}"));
    }
    assert_reports(
        &with_sh("[server.progress]\nadmin_scop = \"x\""),
        &base_env,
        "gw.toml: server.progress.admin_scop: unknown key; did you mean \"admin_scope\"?",
    );
}
