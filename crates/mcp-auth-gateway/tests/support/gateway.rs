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
        let dir = tempdir::Dir::new("gateway");
        let path = dir.0.join("mcp-auth.toml");
        std::fs::File::create(&path).and_then(|mut f| f.write_all(config.as_bytes())).unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mcp-auth"))
            .args(["serve", "--config"])
            .arg(&path)
            .args(["--listen", "127.0.0.1:0"])
            .env("MCP_AUTH_JWT_SECRET", SECRET)
            .env("RUST_LOG", "info")
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
