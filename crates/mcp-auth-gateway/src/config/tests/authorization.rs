//! `[auth] authorization_servers` / `scopes_supported` and each mount's `scopes`,
//! `resource_documentation` and `connect_url`: defaults, and the exact lines `check` prints.

use super::*;
use crate::config::{AuthSection, Metadata, MountAuthorization};

fn metadata_of(config: &GatewayConfig) -> Metadata {
    let AuthSection::Jwt(jwt) = &config.auth else { panic!("jwt") };
    jwt.metadata.clone()
}

#[test]
fn the_authorization_server_defaults_to_an_issuer_that_is_a_url() {
    let sh = "[[servers]]\nname = \"sh\"\ncommand = \"sh\"\nscopes = [\"mcp:tools\"]\n";
    let config = valid(&format!("[auth]\nissuer = \"https://auth.example.com\"\n{sh}"));
    let metadata = metadata_of(&config);
    assert_eq!(metadata.authorization_servers, ["https://auth.example.com"]);
    let mount = &config.servers[0].authorization;
    assert_eq!(mount.scopes, ["mcp:tools"]);
    let resource = metadata.for_mount("sh", mount).unwrap();
    assert_eq!(resource.scopes_supported, ["mcp:tools"], "the mount's scopes by default");
    assert_eq!(resource.resource_name.as_deref(), Some("sh"));

    // An `iss` that is not a URL names no authorization server: no metadata, no error.
    let config = valid(&format!("[auth]\nissuer = \"my-platform\"\n{sh}"));
    assert_eq!(metadata_of(&config), Metadata::default());
    assert!(metadata_of(&config).for_mount("sh", &MountAuthorization::default()).is_none());
}

#[test]
fn bad_values_are_reported_at_their_keys() {
    let sh = "[[servers]]\nname = \"sh\"\ncommand = \"sh\"\n";
    for (text, line) in [
        (
            format!("[auth]\nauthorization_servers = [\"auth.example.com\"]\n{sh}"),
            "gw.toml: auth.authorization_servers: expected an absolute http(s) URL without \
             credentials, query or fragment (got \"auth.example.com\")",
        ),
        (
            format!(
                "[auth]\nauthorization_servers = [\"https://a.example\"]\n\
                 scopes_supported = [\"offline_access\"]\n{sh}"
            ),
            "gw.toml: auth.scopes_supported: expected resource scopes, not offline_access (got \
             \"offline_access\")",
        ),
        (
            format!("{sh}scopes = [\"a b\"]\n"),
            "gw.toml: servers[0].scopes[0]: expected a scope name: printable ASCII without space, \
             `\"` or `\\` (got \"a b\")",
        ),
        (
            format!("{sh}connect_url = \"/connect\"\n"),
            "gw.toml: servers[0].connect_url: expected an absolute http(s) URL (got \"/connect\")",
        ),
        (
            format!(
                "[auth]\nmode = \"none\"\nauthorization_servers = [\"https://a.example\"]\n{sh}"
            ),
            "gw.toml: auth.authorization_servers: only used with mode = \"jwt\" (mode is \"none\")",
        ),
    ] {
        assert_reports(&text, &base_env, line);
    }
}
