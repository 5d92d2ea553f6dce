//! Every config shipped in examples/gateway/ checks clean, is listed in docs/config.md, and
//! does what its comments say. `tests/check_command.rs` checks them again through the binary.

use std::path::{Path, PathBuf};

use super::*;

/// examples/gateway/.
fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway")
}

/// The file names of every example, sorted.
fn example_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    names.sort();
    names
}

/// Checks the example `name` with the stub PATH and `vars` set.
fn load(name: &str, vars: &[(&str, &str)]) -> GatewayConfig {
    let text = std::fs::read_to_string(examples_dir().join(name)).unwrap();
    let stubs = stub_path().display().to_string();
    let vars: Vec<(String, String)> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let env = move |name: &str| match name {
        "PATH" => Some(stubs.clone()),
        _ => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
    };
    parse_with_env(&text, name, &Overrides::default(), &env)
        .unwrap_or_else(|report| panic!("{report}"))
}

/// Renders `template` for `user` with `token` as the access token and `extras`.
fn render(
    template: &crate::template::Template,
    position: Position,
    user: &str,
    token: &str,
    extras: &mcp_auth::extras::Extras,
) -> String {
    let token = mcp_auth::Secret::new(token);
    let hash = crate::template::user_id_hash(user);
    let vars = TemplateVars { access_token: &token, user_id: user, user_id_hash: &hash, extras };
    template.render(&vars, position).unwrap()
}

/// A directory of stub executables named after the programs examples run, so the check does
/// not depend on what this machine has installed.
fn stub_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-auth-config-stubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for program in ["npx", "node", "uvx", "python3", "docker", "sh"] {
        let path = dir.join(program);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

#[test]
fn every_example_config_checks_clean() {
    let examples = examples_dir();
    let stubs = stub_path().display().to_string();
    // Every variable an example names is set (to a value long enough for any secret).
    let keyring = mcp_auth_store::Keyring::generate().export().expose().to_owned();
    let env = move |name: &str| match name {
        "PATH" => Some(stubs.clone()),
        "MCP_AUTH_ENV" => None,
        // A keyring has a format of its own.
        crate::config::DEFAULT_KEY_ENV => Some(keyring.clone()),
        _ => Some("an-example-value-long-enough-for-any-hmac-secret!".to_owned()),
    };
    let mut checked = 0;
    for name in example_files() {
        let path = examples.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let origin = path.display().to_string();
        if let Err(report) = parse_with_env(&text, &origin, &Overrides::default(), &env) {
            panic!("{report}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} examples in {}", examples.display());
}

#[test]
fn every_example_is_listed_in_the_config_docs() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    for name in example_files() {
        let link = format!("(../examples/gateway/{name})");
        assert!(docs.contains(&link), "docs/config.md does not link examples/gateway/{name}");
    }
}

#[test]
fn every_key_is_in_the_config_docs_with_its_default() {
    use crate::config::{document::fields_of, raw::*};
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    let sections = [
        ("server", fields_of::<RawServer>()),
        ("server.limits", fields_of::<RawLimits>()),
        ("server.progress", fields_of::<RawProgress>()),
        ("auth", fields_of::<RawAuth>()),
        ("credentials", fields_of::<RawCredentials>()),
        ("servers", fields_of::<RawServerEntry>()),
        ("servers.instances", fields_of::<RawInstances>()),
        ("servers.rate_limit", fields_of::<RawRateLimit>()),
        ("redis", fields_of::<RawRedis>()),
    ];
    for (section, fields) in sections {
        assert!(!fields.is_empty(), "{section}");
        for field in fields {
            let table = format!("`[{section}.{field}]`");
            let row = format!("\n| `{field}` | ");
            assert!(
                docs.contains(&row) || docs.contains(&table),
                "docs/config.md has no row (key, default, meaning) for {section}.{field}"
            );
        }
    }
}

#[test]
fn the_github_example_starts_each_users_server_with_their_own_token() {
    let config =
        load("github.toml", &[("MCP_AUTH_JWT_SECRET", SECRET), ("MCP_AUTH_TENANT_TOKEN", "t")]);
    let CredentialsSection::Api(api) = &config.credentials else { panic!("a tenant manager") };
    assert_eq!(api.url.as_str(), "https://tenants.example.com/");
    let entry = &config.servers[0];
    assert_eq!(config.mount_url(entry), "http://127.0.0.1:8080/github");
    assert_eq!(entry.resource_type, "github");
    let Upstream::Stdio(stdio) = &entry.upstream else { panic!("a stdio server") };
    assert_eq!(stdio.command, "npx");
    assert!(
        stdio
            .args
            .iter()
            .any(|a| a.literal_text() == "@modelcontextprotocol/server-github@2025.4.8")
    );
    let (name, value) = &stdio.env[0];
    assert_eq!(name, "GITHUB_PERSONAL_ACCESS_TOKEN");
    let extras = mcp_auth::extras::Extras::default();
    assert_eq!(render(value, Position::Env, "alice", "ghp_alice", &extras), "ghp_alice");
    // Without the service token the file is refused: the example documents the variable.
    let text = std::fs::read_to_string(examples_dir().join("github.toml")).unwrap();
    let report = parse_with_env(&text, "github.toml", &Overrides::default(), &base_env);
    assert!(report.unwrap_err().at("credentials.service_token_env").is_some());
}

#[test]
fn the_http_upstream_example_sends_the_users_token_as_a_header_in_production() {
    let config = load("http-upstream.toml", &[]);
    assert_eq!(config.server.environment, Environment::Production);
    assert!(
        matches!(&config.auth, AuthSection::Jwt(jwt) if matches!(**jwt, JwtAuth { key: JwtKey::Jwks { .. }, .. }))
    );
    assert!(matches!(config.credentials, CredentialsSection::Jwt));
    let entry = &config.servers[0];
    assert_eq!(config.mount_url(entry), "https://mcp.example.com/crm");
    let Upstream::Http(http) = &entry.upstream else { panic!("an http upstream") };
    assert_eq!(http.url.as_str(), "https://crm.example.com/mcp");
    let extras = mcp_auth::extras::ExtrasAllowList::new().header("x-workspace");
    let mut headers = http::HeaderMap::new();
    headers.insert("x-workspace", "sales".parse().unwrap());
    let extras = extras.extract(&headers, None);
    let rendered: Vec<(String, String)> = http
        .headers
        .iter()
        .map(|(name, value)| {
            (name.to_string(), render(value, Position::Header, "alice", "crm-token", &extras))
        })
        .collect();
    assert_eq!(
        rendered,
        [
            ("authorization".to_owned(), "Bearer crm-token".to_owned()),
            ("x-workspace".to_owned(), "sales".to_owned())
        ]
    );
}

#[test]
fn the_filesystem_example_confines_each_user_to_their_own_directory() {
    let config = load("filesystem.toml", &[("MCP_AUTH_JWT_SECRET", SECRET)]);
    let Upstream::Stdio(stdio) = &config.servers[0].upstream else { panic!("a stdio server") };
    assert_eq!(stdio.command, "sh");
    let extras = mcp_auth::extras::Extras::default();
    let args = |user: &str| -> Vec<String> {
        stdio.args.iter().map(|a| render(a, Position::Arg, user, "", &extras)).collect()
    };
    let alice = args("alice");
    assert!(alice[1].contains("@modelcontextprotocol/server-filesystem@2026.8.31 \"$1\""));
    let root = |user: &str| format!("/tmp/mcp-auth-files/{}", crate::template::user_id_hash(user));
    assert_eq!(alice.last(), Some(&root("alice")));
    // A user id that names a path still gets a directory of 16 hex digits, and the script text
    // is the same for every user: only "$1" differs.
    let other = args("../alice");
    assert_eq!(other.last(), Some(&root("../alice")));
    assert_eq!(other[..other.len() - 1], alice[..alice.len() - 1]);
}

#[test]
fn the_local_example_serves_one_user_on_loopback_with_a_warm_child() {
    let config = load("local-single-user.toml", &[]);
    assert!(matches!(&config.auth, AuthSection::Env { user_id } if user_id == "local-user"));
    assert!(config.server.listen.ip().is_loopback());
    let mounts: Vec<String> = config.servers.iter().map(|e| config.mount_url(e)).collect();
    assert_eq!(mounts, ["http://127.0.0.1:8080/time", "http://127.0.0.1:8080/git"]);
    assert_eq!(config.servers[0].instances.warm_pool, 1);
    let config = load("local-single-user.toml", &[("MCP_USER_ID", "sam")]);
    assert!(matches!(&config.auth, AuthSection::Env { user_id } if user_id == "sam"));
}

#[test]
fn the_memory_example_mounts_the_pinned_server_per_user_at_mcp() {
    let text = std::fs::read_to_string(examples_dir().join("memory.toml")).unwrap();
    let stubs = stub_path().display().to_string();
    let env = move |name: &str| match name {
        "PATH" => Some(stubs.clone()),
        "MCP_AUTH_JWT_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    };
    let config = parse_with_env(&text, "memory.toml", &Overrides::default(), &env).unwrap();
    let entry = &config.servers[0];
    assert_eq!(config.mount_url(entry), "http://127.0.0.1:8080/mcp");
    assert_eq!(entry.instances.options.mode, InstanceMode::PerUser);
    let Upstream::Stdio(stdio) = &entry.upstream else { panic!("a stdio server") };
    assert_eq!(stdio.command, "npx");
    assert!(
        stdio
            .args
            .iter()
            .any(|a| a.literal_text().starts_with("@modelcontextprotocol/server-memory@2"))
    );
    assert!(stdio.pass_env.is_empty());
    assert!(matches!(config.credentials, CredentialsSection::None));
}
