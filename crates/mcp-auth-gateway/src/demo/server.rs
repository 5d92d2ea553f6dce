//! [`DemoServer`]: the tools of the demo MCP server, one instance per authenticated user.
//!
//! The instance is what the per-user factory builds once the gateway knows who is calling, so
//! everything it holds (the user id, the notes) belongs to that one user. Nothing here looks at
//! HTTP headers or tokens: identity arrives through [`DemoServer::new`], which is the point of
//! the framework.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ProgressNotificationParam, ServerCapabilities, ServerConfig},
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The name the demo server reports in its `initialize` result.
pub const SERVER_NAME: &str = "mcp-auth-demo";
/// Largest `steps` the `slow` tool accepts.
pub const MAX_SLOW_STEPS: u32 = 1000;
/// Largest `delay_ms` the `slow` tool accepts (one minute).
pub const MAX_SLOW_DELAY_MS: u64 = 60_000;
/// Most notes one instance keeps; the notes live in memory for as long as the instance does.
pub const MAX_NOTES: usize = 1000;
/// Longest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 4096;

const INSTRUCTIONS: &str = "Demo server of mcp-auth: every authenticated user gets their own \
instance. Tools: `whoami` returns your user id; `notes_add {text}` stores a note in your \
instance and `notes_list` lists them (other users never see them); `slow {steps, delay_ms}` \
waits `delay_ms` before each of `steps` steps, sends one progress notification per step when \
the request carries a progress token, and stops when the request is cancelled; `echo {text}` \
returns the text.";

/// The demo MCP server for one user.
///
/// Build one per authenticated user with [`DemoServer::new`]. Clones share the same notes, so
/// a clone (or an `Arc<DemoServer>`, which is also a [`ServerHandler`]) is the same instance
/// seen twice; two calls to `new` are two separate instances, even for the same user id.
///
/// ```
/// use mcp_auth_gateway::demo::DemoServer;
/// let server = DemoServer::new("alice".to_owned());
/// assert_eq!(server.user_id(), "alice");
/// ```
#[derive(Clone)]
pub struct DemoServer {
    user_id: Arc<str>,
    notes: Arc<Mutex<Vec<String>>>,
    tool_router: ToolRouter<Self>,
}

impl fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoServer")
            .field("user_id", &self.user_id)
            .field("notes", &self.with_notes(|notes| notes.len()))
            .finish_non_exhaustive()
    }
}

/// Arguments of `notes_add`.
#[derive(Debug, Deserialize, JsonSchema)]
struct NoteArgs {
    /// The note to store (at most 4096 bytes).
    text: String,
}

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

/// Arguments of `slow`.
#[derive(Debug, Deserialize, JsonSchema)]
struct SlowArgs {
    /// Number of steps, 1 to 1000; one progress notification per step.
    steps: u32,
    /// Pause before each step, in milliseconds, 0 to 60000.
    delay_ms: u64,
}

#[tool_router]
impl DemoServer {
    /// A fresh instance for `user_id`, with no notes.
    pub fn new(user_id: String) -> Self {
        Self { user_id: user_id.into(), notes: Arc::default(), tool_router: Self::tool_router() }
    }

    /// The user this instance was built for.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    #[tool(description = "Returns the user id of the caller, as authenticated by the gateway.")]
    async fn whoami(&self) -> String {
        self.user_id.to_string()
    }

    #[tool(description = "Stores a note in your instance; only you can list it.")]
    async fn notes_add(
        &self,
        Parameters(NoteArgs { text }): Parameters<NoteArgs>,
    ) -> Result<String, ErrorData> {
        if text.len() > MAX_NOTE_BYTES {
            return Err(ErrorData::invalid_params(
                format!("`text` is {} bytes; a note holds at most {MAX_NOTE_BYTES}", text.len()),
                None,
            ));
        }
        self.with_notes(|notes| {
            if notes.len() >= MAX_NOTES {
                return Err(ErrorData::invalid_params(
                    format!("this instance already holds the maximum of {MAX_NOTES} notes"),
                    None,
                ));
            }
            notes.push(text);
            Ok(format!("note {} saved", notes.len()))
        })
    }

    #[tool(description = "Lists the notes stored in your instance, one per line.")]
    async fn notes_list(&self) -> String {
        self.with_notes(|notes| match notes.as_slice() {
            [] => "no notes".to_owned(),
            notes => notes.join("\n"),
        })
    }

    #[tool(description = "Runs `steps` steps, waiting `delay_ms` before each, and reports \
                          progress after each step when the request has a progress token. \
                          Stops when the request is cancelled. Returns \"done\".")]
    async fn slow(
        &self,
        Parameters(args): Parameters<SlowArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<String, ErrorData> {
        let SlowArgs { steps, delay_ms } = args;
        if !(1..=MAX_SLOW_STEPS).contains(&steps) {
            return Err(ErrorData::invalid_params(
                format!("`steps` is {steps}; it must be between 1 and {MAX_SLOW_STEPS}"),
                None,
            ));
        }
        if delay_ms > MAX_SLOW_DELAY_MS {
            return Err(ErrorData::invalid_params(
                format!("`delay_ms` is {delay_ms}; it must be between 0 and {MAX_SLOW_DELAY_MS}"),
                None,
            ));
        }
        let delay = Duration::from_millis(delay_ms);
        let progress_token = ctx.meta.get_progress_token();
        // The pause comes before each step, so progress `i` means "step i is finished", and a
        // cancellation during any pause stops the tool before it reports another step.
        for step in 1..=steps {
            tokio::select! {
                // Checked first so that a cancelled request never starts another step, even
                // when the pause has also elapsed.
                biased;
                () = ctx.ct.cancelled() => {
                    // No user id: the lines of the call it cancels name the user as the
                    // gateway's `[log]` says, and this server cannot know how.
                    tracing::debug!(step, steps, "slow cancelled");
                    // rmcp drops the response of a cancelled request (#957); the error only
                    // ends the handler.
                    return Err(ErrorData::internal_error("the request was cancelled", None));
                }
                () = tokio::time::sleep(delay) => {}
            }
            if let Some(token) = &progress_token {
                let progress = ProgressNotificationParam::new(token.clone(), f64::from(step))
                    .with_total(f64::from(steps))
                    .with_message(format!("step {step}"));
                ctx.peer.notify_progress(progress).await.map_err(|err| {
                    ErrorData::internal_error(format!("could not send progress: {err}"), None)
                })?;
            }
        }
        Ok("done".to_owned())
    }

    #[tool(description = "Returns the text it is given.")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

impl DemoServer {
    /// Runs `f` on the notes. A panic while the lock was held cannot leave the `Vec` half
    /// written (each tool does a single push), so a poisoned lock is still safe to use.
    fn with_notes<T>(&self, f: impl FnOnce(&mut Vec<String>) -> T) -> T {
        let mut notes = self.notes.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut notes)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
