//! A session whose `initialize` is never answered (a server stuck starting) and whose client
//! gave up has no record: rmcp stores a session only once it has answered, and ends it itself
//! only once the answer is made. Such a session counts against the caps while it runs, and the
//! sweep ends it after the session idle timeout (or rmcp's 5-minute keep-alive, if shorter)
//! instead of keeping it, and the user's place under the cap, until their instance goes.

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth::{Limits, wrap_server};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{InitializeRequestParams, InitializeResult, ServerCapabilities, ServerConfig},
    service::RequestContext,
};
use support::{
    DEADLINE,
    app::{initialize, jwt_provider, serve_on_loopback, token_for},
    poll_until,
};
use tokio::sync::{Notify, Semaphore};

/// A server whose `initialize` is answered only once the test lets it.
#[derive(Clone)]
struct SlowToStart {
    entered: Arc<Notify>,
    gate: Arc<Semaphore>,
}

impl ServerHandler for SlowToStart {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.entered.notify_one();
        self.gate.acquire().await.expect("never closed").forget();
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }
}

#[tokio::test]
async fn a_session_left_unanswered_is_counted_then_ended() {
    let server =
        SlowToStart { entered: Arc::new(Notify::new()), gate: Arc::new(Semaphore::new(0)) };
    let limits = Limits::default()
        .with_max_sessions_per_user(1)
        .with_session_idle_timeout(Duration::from_millis(400));
    let factory = {
        let server = server.clone();
        move |_, _, _| server.clone()
    };
    let wrapped = wrap_server(factory).auth_provider(jwt_provider()).limits(limits).build();
    let wrapped = wrapped.unwrap();
    let url = serve_on_loopback(&wrapped).await;
    let alice = token_for("alice");

    // Alice's client sends `initialize`, waits, and gives up.
    let gave_up = tokio::spawn({
        let (url, alice) = (url.clone(), alice.clone());
        async move { initialize(&reqwest::Client::new(), &url, &alice).await }
    });
    server.entered.notified().await;
    gave_up.abort();
    let _ = gave_up.await;

    // The session runs with no record, and holds her one session until it is ended.
    // (Bounded: were it let through, it would wait at the gate.)
    let http = reqwest::Client::builder().timeout(DEADLINE).build().unwrap();
    let refused = initialize(&http, &url, &alice).await;
    assert_eq!(refused.status(), 429, "the unanswered session counts against her cap");
    let stats = wrapped.stats().await;
    assert_eq!((stats.sessions, stats.running_sessions), (1, 1));

    poll_until("the unanswered session to end", DEADLINE, async || {
        let stats = wrapped.stats().await;
        (stats.running_sessions == 0 && stats.sessions == 0).then_some(())
    })
    .await;
    // The old `initialize` may finish now, unheard, and a new one is answered.
    server.gate.add_permits(2);
    let again = initialize(&http, &url, &alice).await;
    assert_eq!(again.status(), 200, "her cap is free again");
    wrapped.shutdown();
}
