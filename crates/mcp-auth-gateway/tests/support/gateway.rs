//! `mcp-auth serve --config FILE` as a real process, and rmcp clients for it.

use std::{
    io::Write as _,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::ProgressNotificationParam,
    service::{NotificationContext, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The HS256 secret of every gateway these tests start.
pub const SECRET: &str = "gateway-test-secret-that-is-at-least-32-bytes";

/// A running gateway: its process, the mount URL it printed, and its log so far.
pub struct Gateway {
    pub child: tokio::process::Child,
    pub url: String,
    pub logs: Arc<Mutex<String>>,
    _dir: tempdir::Dir,
}

/// A temporary directory removed on drop (the tests need no crate for this).
pub mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "mcp-auth-{tag}-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            std::fs::create_dir_all(&path).expect("create temp dir");
            Self(path)
        }
    }
    fn rand_suffix() -> u64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Gateway {
    /// Starts `mcp-auth serve` on `config` (TOML) at 127.0.0.1 with a free port, and waits for
    /// the banner line naming the mount URL.
    pub async fn start(config: &str) -> Self {
        Self::start_with_env(config, &[]).await
    }

    /// [`start`](Self::start) with more environment variables for the gateway (a service
    /// token, say).
    pub async fn start_with_env(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempdir::Dir::new("gateway");
        let path = dir.0.join("mcp-auth.toml");
        std::fs::File::create(&path).and_then(|mut f| f.write_all(config.as_bytes())).unwrap();
        Self::start_file(&path, env, dir).await
    }

    /// [`start_with_env`](Self::start_with_env) on a config file already written, in `dir`
    /// (removed when the gateway is dropped).
    pub async fn start_file(
        path: &std::path::Path,
        env: &[(&str, &str)],
        dir: tempdir::Dir,
    ) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
            .args(["serve", "--config"])
            .arg(path)
            .args(["--listen", "127.0.0.1:0"])
            .env("MCP_AUTH_JWT_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn mcp-auth serve");
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = logs.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
                .await
                .expect("the gateway's banner within 30 s")
                .unwrap()
                .unwrap_or_else(|| panic!("the gateway exited: {}", logs.lock().unwrap()));
            if let Some(url) = line.split(" at ").nth(1).filter(|_| line.contains("serving")) {
                break url.trim().to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Self { child, url, logs, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the gateway is running")
    }

    /// A token for `user` with the mount URL as audience.
    pub fn token(&self, user: &str) -> String {
        mcp_auth_gateway::token::mint(
            SECRET,
            user,
            Duration::from_secs(3600),
            None,
            Some(&self.url),
            None,
        )
        .expect("mint")
    }

    /// A connected rmcp client for `user`.
    pub async fn client(&self, user: &str) -> (Client, Recorder) {
        let transport = StreamableHttpClientTransport::with_client(
            reqwest::Client::new(),
            StreamableHttpClientTransportConfig::with_uri(self.url.clone())
                .auth_header(self.token(user)),
        );
        let recorder = Recorder::default();
        let client = recorder.clone().serve(transport).await.expect("client handshake");
        (client, recorder)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Sends `signal` to the gateway.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we spawned and a valid signal number.
        let rc = unsafe { libc::kill(self.pid() as i32, signal) };
        assert_eq!(rc, 0, "kill({signal})");
    }
}

/// Records what the gateway sends on its own.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// The text of a tool result's first content block.
pub fn text(result: &rmcp::model::CallToolResult) -> String {
    result.content.first().and_then(|c| c.as_text()).map(|t| t.text.clone()).unwrap_or_default()
}

/// A config serving `mcp-auth demo --stdio` per user (the user id reaches it as MCP_USER_ID).
pub fn demo_stdio_config(extra_server_keys: &str) -> String {
    format!(
        r#"
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[[servers]]
name = "demo"
path = "/mcp"
command = "{exe}"
args = ["demo", "--stdio"]
env = {{ MCP_USER_ID = "{{user_id}}", RUST_LOG = "debug" }}
{extra_server_keys}
"#,
        exe = env!("CARGO_BIN_EXE_mcp-auth"),
    )
}

/// A token for `user` (audience: the mount URL) that embeds `credential` as `tokens.default`:
/// with `credentials.mode = "jwt"`, that is the user's `{access_token}`.
pub fn token_embedding(gateway: &Gateway, user: &str, credential: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    // A distinct `jti` per call, so that two tokens minted within a second differ.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let claims = serde_json::json!({
        "sub": user, "iat": now, "exp": now + 3600, "aud": gateway.url, "jti": jti.to_string(),
        "tokens": { "default": credential },
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// A connected rmcp client sending `token`, in the protocol era `lifecycle` selects
/// (`ClientLifecycleMode::Initialize`: 2025-11-25 sessions; `Discover`: 2026-07-28).
pub async fn client_with(
    gateway: &Gateway,
    token: &str,
    lifecycle: rmcp::service::ClientLifecycleMode,
) -> (Client, Recorder) {
    use rmcp::service::ClientServiceExt as _;
    let transport = StreamableHttpClientTransport::with_client(
        reqwest::Client::new(),
        StreamableHttpClientTransportConfig::with_uri(gateway.url.clone()).auth_header(token),
    );
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("client handshake");
    (client, recorder)
}

/// A raw 2026-07-28 stateless `tools/call` POST (no session, no stream): the builder, so that a
/// test can add headers before sending it.
pub fn stateless_call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    tool: &str,
    args: serde_json::Value,
) -> reqwest::RequestBuilder {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": tool, "arguments": args, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    });
    http.post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .json(&body)
}

/// The JSON-RPC message answering request `id` in a response body, whether the body is JSON or
/// an SSE stream of messages.
pub fn answer(body: &str, id: u64) -> serde_json::Value {
    let candidates = std::iter::once(body.trim())
        .chain(body.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim));
    candidates
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .find(|message| message["id"] == id)
        .unwrap_or_else(|| panic!("no answer to request {id} in: {body}"))
}

/// The text of the first content block of a raw `tools/call` answer.
pub fn answer_text(answer: &serde_json::Value) -> String {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a tool result: {answer}"))
        .to_owned()
}
