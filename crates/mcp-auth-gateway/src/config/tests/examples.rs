//! Every config shipped in examples/gateway/ checks clean.

use std::path::{Path, PathBuf};

use super::*;

/// A directory of stub executables named after the programs examples run, so the check does
/// not depend on what this machine has installed.
fn stub_path() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-auth-config-stubs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for program in ["npx", "node", "uvx", "python3", "docker"] {
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
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway");
    let stubs = stub_path().display().to_string();
    // Every variable an example names is set (to a value long enough for any secret).
    let env = move |name: &str| match name {
        "PATH" => Some(stubs.clone()),
        "MCP_AUTH_ENV" => None,
        _ => Some("an-example-value-long-enough-for-any-hmac-secret!".to_owned()),
    };
    let mut checked = 0;
    for file in std::fs::read_dir(&examples).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let origin = path.display().to_string();
        if let Err(report) = parse_with_env(&text, &origin, &Overrides::default(), &env) {
            panic!("{report}");
        }
        checked += 1;
    }
    assert!(checked >= 1, "no example in {}", examples.display());
}

#[test]
fn the_memory_example_mounts_the_pinned_server_per_user_at_mcp() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/gateway/memory.toml");
    let text = std::fs::read_to_string(path).unwrap();
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
