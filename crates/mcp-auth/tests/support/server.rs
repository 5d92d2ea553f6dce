//! A small MCP server for the transport tests: who am I, per-instance notes, a slow tool whose
//! progress and cancellation can be observed from outside, and echo.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use mcp_auth::{Principal, Secret, extras::Extras};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{ProgressNotificationParam, ServerCapabilities, ServerConfig},
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use serde::Deserialize;

/// What the tests observe from outside the server: how many instances were built, and how far
/// each user's `slow` calls got.
#[derive(Clone, Default)]
pub struct Observed {
    pub instances: Arc<AtomicUsize>,
    steps: Arc<Mutex<HashMap<String, Arc<AtomicU32>>>>,
    cancelled: Arc<Mutex<HashMap<String, Arc<AtomicU32>>>>,
    /// Ends every `hold` call waiting now.
    pub release: Arc<tokio::sync::Notify>,
}

impl Observed {
    pub fn steps_of(&self, user: &str) -> Arc<AtomicU32> {
        self.steps.lock().unwrap().entry(user.to_owned()).or_default().clone()
    }

    /// How many of `user`'s `slow` calls saw their cancellation and stopped.
    pub fn cancellations_of(&self, user: &str) -> Arc<AtomicU32> {
        self.cancelled.lock().unwrap().entry(user.to_owned()).or_default().clone()
    }

    /// A factory for `wrap_server` that counts the instances it builds.
    pub fn factory(&self) -> impl Fn(Secret, String, Extras) -> TestServer + Send + Sync + 'static {
        let observed = self.clone();
        move |token, user, extras| {
            observed.instances.fetch_add(1, Ordering::SeqCst);
            let counters = Counters {
                steps: observed.steps_of(&user),
                cancelled: observed.cancellations_of(&user),
                release: observed.release.clone(),
            };
            TestServer::new(token, user, extras, counters)
        }
    }
}

/// One user's counters, shared by their instances: `slow` steps made, `slow` calls cancelled.
#[derive(Clone, Default)]
pub struct Counters {
    pub steps: Arc<AtomicU32>,
    pub cancelled: Arc<AtomicU32>,
    pub release: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
pub struct TestServer {
    token: Secret,
    user: String,
    extras: Extras,
    notes: Arc<Mutex<Vec<String>>>,
    counters: Counters,
    tool_router: ToolRouter<Self>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TextArgs {
    text: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SlowArgs {
    steps: u32,
    delay_ms: u64,
}

#[tool_router]
impl TestServer {
    pub fn new(token: Secret, user: String, extras: Extras, counters: Counters) -> Self {
        let notes = Arc::default();
        let tool_router = Self::tool_router() + Self::hold_router();
        Self { token, user, extras, notes, counters, tool_router }
    }

    /// The user this instance was built for.
    pub fn user(&self) -> &str {
        &self.user
    }

    #[tool(description = "The user this instance was built for, and the request's principal")]
    async fn whoami(&self, ctx: RequestContext<RoleServer>) -> String {
        let principal = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .map(|p| p.user_id().to_owned())
            .unwrap_or_else(|| "<no principal>".to_owned());
        format!("{} {principal}", self.user)
    }

    #[tool(description = "Everything a handler can reach of the HTTP request: headers and URI")]
    async fn reachable(&self, ctx: RequestContext<RoleServer>) -> String {
        let Some(parts) = ctx.extensions.get::<http::request::Parts>() else {
            return "<no parts>".to_owned();
        };
        let mut dump = format!("{} {}\n", parts.method, parts.uri);
        for (name, value) in &parts.headers {
            dump.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        if let Some(principal) = parts.extensions.get::<Principal>() {
            dump.push_str(&format!("principal: {principal:?}\n"));
        }
        dump
    }

    #[tool(description = "The upstream credential this instance was built with")]
    async fn credential(&self) -> String {
        self.token.expose().to_owned()
    }

    #[tool(description = "The extras this instance was built with")]
    async fn extras(&self) -> String {
        self.extras.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }

    #[tool(description = "Store a note")]
    async fn notes_add(&self, Parameters(TextArgs { text }): Parameters<TextArgs>) -> String {
        self.notes.lock().unwrap().push(text);
        "saved".to_owned()
    }

    #[tool(description = "List notes")]
    async fn notes_list(&self) -> String {
        self.notes.lock().unwrap().join("\n")
    }

    #[tool(description = "Echo")]
    async fn echo(&self, Parameters(TextArgs { text }): Parameters<TextArgs>) -> String {
        text
    }

    // Logging is deprecated by SEP-2577, but servers and clients of both eras still send and
    // read it: a log message must still reach its caller.
    #[allow(deprecated)]
    #[tool(description = "Send a log message with the text, then answer")]
    async fn log(
        &self,
        Parameters(TextArgs { text }): Parameters<TextArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> String {
        use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
        let param = LoggingMessageNotificationParam::new(LoggingLevel::Info, text.into());
        let _ = ctx.peer.notify_logging_message(param).await;
        "logged".to_owned()
    }

    #[tool(description = "Report progress once per step until done or cancelled")]
    async fn slow(
        &self,
        Parameters(SlowArgs { steps, delay_ms }): Parameters<SlowArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<String, ErrorData> {
        for i in 1..=steps {
            tokio::select! {
                biased;
                _ = ctx.ct.cancelled() => {
                    self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
                    return Err(ErrorData::internal_error("cancelled", None));
                }
                _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
            }
            self.counters.steps.fetch_add(1, Ordering::SeqCst);
            if let Some(token) = ctx.meta.get_progress_token() {
                let param = ProgressNotificationParam::new(token, f64::from(i))
                    .with_total(f64::from(steps))
                    .with_message(format!("step {i}"));
                let _ = ctx.peer.notify_progress(param).await;
            }
        }
        Ok("done".to_owned())
    }
}

#[tool_router(router = hold_router)]
impl TestServer {
    #[tool(description = "Report progress once, then wait until released (or cancelled)")]
    async fn hold(&self, ctx: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let released = self.counters.release.notified();
        if let Some(token) = ctx.meta.get_progress_token() {
            let param = ProgressNotificationParam::new(token, 1.0).with_message("held");
            let _ = ctx.peer.notify_progress(param).await;
        }
        tokio::select! {
            _ = ctx.ct.cancelled() => Err(ErrorData::internal_error("cancelled", None)),
            () = released => Ok("released".to_owned()),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}
