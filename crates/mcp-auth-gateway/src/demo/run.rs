//! `mcp-auth demo`: the gateway on an embedded config ([`gateway`](super::gateway)) serving the
//! demo server, one `mcp-auth demo --stdio` child per user, behind JWT auth (HS256), over
//! Streamable HTTP and legacy SSE; or the demo server itself over stdio (what each child runs);
//! or, with `--in-process`, the demo server behind the library's `wrap_server` alone.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use mcp_auth::{
    ConfigError, EnvAuthProvider, JwtAuthProvider, Secret, WrappedServer,
    http::{AllowedHosts, HttpOptions},
    wrap_server,
};

use super::{DemoServer, gateway};
use crate::token::{self, SECRET_ENV_VAR};

/// The user the printed token is minted for.
pub const DEMO_USER: &str = "demo-user";
/// Lifetime of the printed token.
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where and how to serve the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Address to bind (HTTP mode).
    pub addr: SocketAddr,
    /// Serve one user over stdin/stdout instead of HTTP.
    pub stdio: bool,
    /// The URL clients reach the MCP endpoint at, when that is not `http://<addr>/mcp`: behind a
    /// reverse proxy, under a DNS name, or when `addr` is `0.0.0.0`/`::`. It becomes the printed
    /// token's audience, and its host is accepted in `Host` (any other still gets 403).
    pub public_url: Option<String>,
    /// Log [`stats`](WrappedServer::stats) and the runtime's live task count this often.
    pub stats_interval: Option<Duration>,
    /// Serve the demo server in-process through `wrap_server` alone, instead of through the
    /// gateway with one `mcp-auth demo --stdio` child per user: the library without the proxy,
    /// as the soak and hostile-load runs measure it.
    pub in_process: bool,
}

/// Environment variable read for [`DemoOptions::public_url`] by `mcp-auth demo`.
pub const PUBLIC_URL_ENV_VAR: &str = "MCP_AUTH_PUBLIC_URL";

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A configuration value was refused.
    #[error(transparent)]
    Config(#[from] mcp_auth::ConfigError),
    /// The socket could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The printed token could not be minted.
    #[error(transparent)]
    Token(#[from] token::TokenError),
    /// The stdio session failed.
    #[error(transparent)]
    Stdio(#[from] mcp_auth::stdio::StdioError),
    /// The embedded gateway config was refused (by the environment, e.g. production rules).
    #[error("{0}")]
    Gateway(#[from] crate::config::ConfigReport),
}

fn demo_factory(_token: Secret, user_id: String, _extras: mcp_auth::extras::Extras) -> DemoServer {
    DemoServer::new(user_id)
}

/// Runs the demo until Ctrl-C (HTTP) or end of input (stdio).
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let http = HttpOptions::default().with_name(super::SERVER_NAME, env!("CARGO_PKG_VERSION"));
    if options.stdio {
        let server =
            wrap_server(demo_factory).auth_provider(EnvAuthProvider::from_env()?).build()?;
        server.serve_stdio().await?;
        return Ok(());
    }
    // Checked before binding: a typo should not leave a port open.
    let public_url = options.public_url.as_deref().map(PublicUrl::parse).transpose()?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| DemoError::Io { addr: options.addr, source })?;
    let addr =
        listener.local_addr().map_err(|source| DemoError::Io { addr: options.addr, source })?;
    let Endpoint { url, hosts, note } = Endpoint::new(addr, public_url);
    let (secret, generated) = match std::env::var(SECRET_ENV_VAR) {
        Ok(secret) if !secret.is_empty() => (Secret::new(secret), false),
        _ => (generate_secret(), true),
    };
    let jwt = token::mint(secret.expose(), DEMO_USER, DEMO_TOKEN_TTL, None, Some(&url), None)?;
    if options.in_process {
        // The library alone: tokens must name this server as their audience (MCP authorization
        // spec, RFC 8707).
        let provider = JwtAuthProvider::builder().secret(secret).audience(&url).build()?;
        let http = http.with_allowed_hosts(hosts);
        let server: WrappedServer<DemoServer> =
            wrap_server(demo_factory).auth_provider(provider).http(http).build()?;
        let what = "the demo MCP server in-process, one instance per user";
        print!("{}", banner(what, addr, &url, &jwt, generated, note.as_deref()));
        return serve_until_ctrl_c(vec![server], listener, options.stats_interval, || ()).await;
    }
    let gateway = gateway::build(addr, &url, secret)?;
    let what = "the gateway serving the demo MCP server, one child process per user";
    print!("{}", banner(what, addr, &url, &jwt, generated, note.as_deref()));
    let servers = gateway.servers().to_vec();
    let gateway = std::sync::Arc::new(gateway);
    let drained = gateway.clone();
    serve_until_ctrl_c(servers, listener, options.stats_interval, move || drained.shutdown())
        .await?;
    // The listener has stopped: wait (bounded) for every user's child to be stopped.
    gateway.wait_closed().await;
    Ok(())
}

/// Serves `servers` on `listener` until Ctrl-C, logging stats when asked.
async fn serve_until_ctrl_c<H: rmcp::ServerHandler>(
    servers: Vec<WrappedServer<H>>,
    listener: tokio::net::TcpListener,
    stats_interval: Option<Duration>,
    on_stop: impl FnOnce() + Send + 'static,
) -> Result<(), DemoError> {
    let addr = listener.local_addr().map_err(|source| DemoError::Io {
        addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        source,
    })?;
    // The demo has one mount.
    if let (Some(every), Some(server)) = (stats_interval, servers.first()) {
        tokio::spawn(log_stats(server.clone(), every));
    }
    let stoppers = servers.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_stop();
        for server in &stoppers {
            server.shutdown();
        }
    });
    WrappedServer::serve_all(&servers, listener)
        .await
        .map_err(|source| DemoError::Io { addr, source })
}

/// One `stats` line every `every`, until the process ends: what a soak run samples.
async fn log_stats<H: rmcp::ServerHandler>(server: WrappedServer<H>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let stats = server.stats().await;
        tracing::info!(
            target: "mcp_auth_gateway::stats",
            tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            instances = stats.live,
            sessions = stats.sessions,
            legacy_sse_sessions = stats.legacy_sse_sessions,
            unread_response_bytes = stats.unread_response_bytes,
            "stats"
        );
    }
}

/// A checked [`DemoOptions::public_url`] and its host.
struct PublicUrl {
    url: String,
    host: String,
}

impl PublicUrl {
    fn parse(text: &str) -> Result<Self, ConfigError> {
        let invalid = || {
            ConfigError::invalid(
                "demo.public_url",
                text,
                "an http(s) URL without credentials, query or fragment, such as \
                 `https://mcp.example.com/mcp`",
            )
        };
        let parsed = url::Url::parse(text.trim()).map_err(|_| invalid())?;
        let plain = matches!(parsed.scheme(), "http" | "https")
            && parsed.username().is_empty()
            && parsed.password().is_none()
            && parsed.query().is_none()
            && parsed.fragment().is_none();
        // `host_str` keeps the brackets of an IPv6 address, as the `Host` check compares them.
        match parsed.host_str() {
            Some(host) if plain => {
                // The operator's spelling is the audience: tokens are minted with it as given.
                Ok(Self { url: text.trim().to_owned(), host: host.to_owned() })
            }
            _ => Err(invalid()),
        }
    }
}

/// The URL the banner prints and tokens name as their audience, and the `Host` values served.
struct Endpoint {
    url: String,
    hosts: AllowedHosts,
    /// Printed above the token when the URL cannot work for everyone.
    note: Option<String>,
}

impl Endpoint {
    fn new(addr: SocketAddr, public_url: Option<PublicUrl>) -> Self {
        if let Some(PublicUrl { url, host }) = public_url {
            return Self { url, hosts: AllowedHosts::List(vec![host]), note: None };
        }
        let ip = addr.ip();
        if ip.is_unspecified() {
            // No single address names this server: print one that works here, and say how to
            // serve remote clients.
            let loopback: IpAddr =
                if ip.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() };
            let url = format!("http://{}/mcp", SocketAddr::new(loopback, addr.port()));
            let note = format!(
                "Note: listening on all interfaces, but only loopback requests are served:\n\
                 any other `Host` gets 403, and the token below is for {url}. For remote clients\n\
                 pass the URL they use: --public-url http://<this host's name>:{}/mcp\n\
                 (or {PUBLIC_URL_ENV_VAR}).",
                addr.port()
            );
            return Self { url, hosts: AllowedHosts::Loopback, note: Some(note) };
        }
        let url = format!("http://{addr}/mcp");
        let hosts = if ip.is_loopback() {
            AllowedHosts::Loopback
        } else {
            // `SocketAddr` displays IPv6 in brackets, as `Host` carries it.
            let host = SocketAddr::new(ip, 0).to_string();
            let host = host.rsplit_once(':').map_or(host.as_str(), |(host, _)| host);
            AllowedHosts::List(vec![host.to_owned()])
        };
        Self { url, hosts, note: None }
    }
}

/// A fresh 256-bit secret for this run only.
fn generate_secret() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn banner(
    what: &str,
    addr: SocketAddr,
    url: &str,
    jwt: &str,
    generated: bool,
    note: Option<&str>,
) -> String {
    let secret_note = if generated {
        format!(
            "The signing secret was generated for this run. To mint more tokens, restart with\n\
             {SECRET_ENV_VAR} set (32+ bytes) and run:\n  \
             cargo run -p mcp-auth-gateway -- token --user alice --aud {url}"
        )
    } else {
        format!(
            "Mint more tokens with the same {SECRET_ENV_VAR}:\n  \
             cargo run -p mcp-auth-gateway -- token --user alice --aud {url}"
        )
    };
    let note = note.map(|note| format!("{note}\n\n")).unwrap_or_default();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    format!(
        "mcp-auth demo: {what}, behind JWT auth.

MCP endpoint: {url}
  legacy SSE: {url}/sse   health: {url}/health
  tools: whoami, notes_add, notes_list, slow, echo
  listening on {addr}

{note}Token for user `{DEMO_USER}` (HS256, 24 h, audience {url}):
  {jwt}

Try it (a 2026-07-28 stateless call):
  curl -s {url} \\
    -H 'Authorization: Bearer {jwt}' \\
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\
    -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: whoami' \\
    -d '{call}'

{secret_note}

Press Ctrl-C to stop.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(addr: &str, public_url: Option<&str>) -> Endpoint {
        let public_url = public_url.map(|url| PublicUrl::parse(url).unwrap());
        Endpoint::new(addr.parse().unwrap(), public_url)
    }

    #[test]
    fn a_loopback_bind_prints_its_own_url_and_serves_loopback_hosts() {
        let endpoint = endpoint("127.0.0.1:8080", None);
        assert_eq!(endpoint.url, "http://127.0.0.1:8080/mcp");
        assert_eq!(endpoint.hosts, AllowedHosts::Loopback);
        assert!(endpoint.note.is_none());
    }

    #[test]
    fn a_concrete_address_is_the_url_and_an_accepted_host() {
        let v4 = endpoint("192.0.2.7:8080", None);
        assert_eq!(v4.url, "http://192.0.2.7:8080/mcp");
        assert_eq!(v4.hosts, AllowedHosts::List(vec!["192.0.2.7".into()]));
        let v6 = endpoint("[2001:db8::7]:8080", None);
        assert_eq!(v6.url, "http://[2001:db8::7]:8080/mcp");
        assert_eq!(v6.hosts, AllowedHosts::List(vec!["[2001:db8::7]".into()]));
    }

    #[test]
    fn an_unspecified_address_prints_the_loopback_url_and_a_note_about_public_url() {
        for (bind, url) in
            [("0.0.0.0:8080", "http://127.0.0.1:8080/mcp"), ("[::]:8080", "http://[::1]:8080/mcp")]
        {
            let endpoint = endpoint(bind, None);
            assert_eq!(endpoint.url, url);
            assert_eq!(endpoint.hosts, AllowedHosts::Loopback);
            let note = endpoint.note.expect("a note");
            assert!(note.contains("--public-url http://<this host's name>:8080/mcp"), "{note}");
        }
    }

    #[test]
    fn a_public_url_is_the_url_and_its_host_is_accepted() {
        let endpoint = endpoint("0.0.0.0:8080", Some("https://MCP.example.com/mcp"));
        assert_eq!(endpoint.url, "https://MCP.example.com/mcp");
        assert_eq!(endpoint.hosts, AllowedHosts::List(vec!["mcp.example.com".into()]));
        assert!(endpoint.note.is_none());
    }

    #[test]
    fn a_public_url_that_is_not_a_plain_http_url_is_a_config_error() {
        for bad in ["mcp.example.com", "ftp://mcp.example.com/", "https://u:p@h/mcp", "http://h/?a"]
        {
            let error = PublicUrl::parse(bad).err().expect(bad);
            assert_eq!(error.key, "demo.public_url");
        }
    }
}
