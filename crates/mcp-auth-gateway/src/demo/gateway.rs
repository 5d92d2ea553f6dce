//! The demo's embedded gateway config: the demo server as a stdio child per user, mounted at
//! `/mcp`, behind JWT auth — `mcp-auth serve` on built-in defaults, by the same machinery.

use std::net::SocketAddr;

use mcp_auth::Secret;
use url::Url;

use crate::{
    child::Launcher,
    config::{self, ConfigReport, Overrides},
    serve::Gateway,
    token::SECRET_ENV_VAR,
};

/// The config `mcp-auth demo` runs. `{exe}` is this binary; the JWT audience is the endpoint URL
/// the banner prints (the operator's `--public-url` exactly as given), and the public URL's
/// origin is what the gateway accepts in `Host`. Each child gets the user's id in
/// `MCP_USER_ID` (what `demo --stdio` serves) and the gateway's `RUST_LOG`.
const DEMO_CONFIG: &str = r#"
[server]
listen = "{listen}"
public_url = "{origin}"

[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"
audience = "{audience}"

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]
env = { MCP_USER_ID = "{user_id}" }
pass_env = ["RUST_LOG"]
"#;

/// Builds the demo gateway listening on `addr`, serving the MCP endpoint `endpoint`, with the
/// JWT `secret` (from the environment or generated for the run: given to the config directly,
/// never put in the process environment, which children could otherwise inherit).
pub(crate) fn build(
    addr: SocketAddr,
    endpoint: &str,
    secret: Secret,
) -> Result<Gateway, ConfigReport> {
    let url = Url::parse(endpoint).map_err(|error| {
        ConfigReport::single("demo.public_url", None, format!("not a URL: {error}"))
    })?;
    let exe = std::env::current_exe().map_err(|error| {
        ConfigReport::single("demo", None, format!("cannot locate the mcp-auth binary: {error}"))
    })?;
    let text = DEMO_CONFIG
        .replace("{listen}", &addr.to_string())
        .replace("{origin}", &url.origin().ascii_serialization())
        .replace("{audience}", &toml_string(endpoint))
        .replace("{exe}", &toml_string(&exe.to_string_lossy()));
    let env = |name: &str| match name {
        SECRET_ENV_VAR => Some(secret.expose().to_owned()),
        _ => std::env::var(name).ok(),
    };
    let config =
        config::parse_with_env(&text, "(the demo's built-in config)", &Overrides::default(), &env)?;
    let launcher = Launcher::current_exe().map_err(|error| {
        ConfigReport::single("demo", None, format!("cannot locate the mcp-auth binary: {error}"))
    })?;
    Gateway::build(&config, launcher)
}

/// `text` escaped for a TOML basic string (between the config's double quotes).
fn toml_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
