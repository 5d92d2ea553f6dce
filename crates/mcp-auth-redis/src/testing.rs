//! [`RedisServer`]: a real `redis-server` child process for tests (feature `testing`), on a
//! unix socket in a temporary directory (no port to guess) or on a free loopback port.
//!
//! The binary is `$MCP_AUTH_TEST_REDIS_SERVER`, else `redis-server` on `PATH`; when neither
//! exists, starting one panics with how to install it: tests that need Redis fail, they never
//! skip. The child is killed when the value is dropped, and can be killed and started again on
//! the same address to test outages.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// How long a started server gets to accept connections.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// Where a [`RedisServer`] listens.
#[derive(Debug, Clone)]
enum Address {
    Unix(PathBuf),
    Tcp(u16),
}

/// A `redis-server` child, without persistence. Killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    dir: tempfile::TempDir,
    address: Address,
    child: Option<Child>,
}

impl RedisServer {
    /// The `redis-server` binary tests use.
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("MCP_AUTH_TEST_REDIS_SERVER") {
            return PathBuf::from(path);
        }
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("redis-server"))
                .find(|candidate| candidate.is_file())
        });
        found.unwrap_or_else(|| {
            panic!(
                "redis-server not found: install it (`apt-get install -y redis-server`; \
                 scripts/test.sh does) or set MCP_AUTH_TEST_REDIS_SERVER to its path"
            )
        })
    }

    /// A server on a unix socket in a fresh temporary directory.
    pub fn start_unix() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("redis.sock");
        Self::start(dir, Address::Unix(socket))
    }

    /// A server on a free port of 127.0.0.1 (picked by binding port 0, then closing it).
    pub fn start_tcp() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        Self::start(dir, Address::Tcp(port))
    }

    fn start(dir: tempfile::TempDir, address: Address) -> Self {
        let mut server = Self { dir, address, child: None };
        server.spawn();
        server
    }

    /// The URL clients connect with: `redis+unix:///…/redis.sock` or `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.address {
            Address::Unix(socket) => format!("redis+unix://{}", socket.display()),
            Address::Tcp(port) => format!("redis://127.0.0.1:{port}"),
        }
    }

    /// The unix socket, if the server listens on one.
    pub fn socket(&self) -> Option<&Path> {
        match &self.address {
            Address::Unix(socket) => Some(socket),
            Address::Tcp(_) => None,
        }
    }

    /// A new synchronous connection, for the test's own commands (`INFO`, `SCAN`, `KEYS` …).
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection())
            .expect("a connection to the test redis-server")
    }

    /// Kills the server (SIGKILL: no goodbye to clients) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Address::Unix(socket) = &self.address {
            let _ = std::fs::remove_file(socket);
        }
    }

    /// Starts the server again on the same address (after [`kill`](Self::kill)), with no data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut command = Command::new(Self::binary());
        command.args(["--save", "", "--appendonly", "no", "--dir"]).arg(self.dir.path());
        match &self.address {
            Address::Unix(socket) => {
                command.args(["--port", "0", "--unixsocket"]).arg(socket);
            }
            Address::Tcp(port) => {
                command.args(["--bind", "127.0.0.1", "--port", &port.to_string()]);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", Self::binary().display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let ping = redis::Client::open(self.url())
                .and_then(|client| client.get_connection())
                .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
            if ping.is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not answer within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
