//! The instance factory of one mounted server: renders the user's templates and builds their
//! [`ProxyServer`]. Rendering happens here, per user; a refused value (a user id that would
//! traverse a path, say) becomes that user's error on every request, naming the key and the
//! rule — never the value.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use http::{HeaderName, HeaderValue};
use mcp_auth::{Secret, UserIdLogging, extras::Extras};
use tokio_util::task::TaskTracker;

use crate::{
    child::{ChildSpec, Launcher, RunningChild, WarmPool, env_allow_list},
    config::{HttpUpstream, ServerEntry, StdioUpstream, Upstream},
    proxy::{HttpConnector, Passthrough, ProxyServer, SharedRoute, StdioConnector},
    template::{Position, TemplateVars, user_id_hash},
};

/// Everything the factory of one mounted server needs, shared by all of its users.
pub(crate) struct Factory {
    entry: Arc<ServerEntry>,
    launcher: Arc<Launcher>,
    http: reqwest::Client,
    closer: TaskTracker,
    /// `instances.warm_pool` children, for a stdio server whose templates name no variable.
    warm: Option<WarmPool>,
    /// What the users of an http upstream share (its era, its in-task connections).
    route: Arc<SharedRoute>,
    /// How a child's log lines name its user (`[log]`): the tag every other line gives them.
    user_ids: UserIdLogging,
}

impl Factory {
    pub(crate) fn new(
        entry: Arc<ServerEntry>,
        launcher: Arc<Launcher>,
        http: reqwest::Client,
        closer: TaskTracker,
        user_ids: UserIdLogging,
    ) -> Self {
        let warm = warm_pool(&entry, &launcher);
        let route = match &entry.upstream {
            Upstream::Http(upstream) => Arc::new(SharedRoute::new(&upstream.url)),
            Upstream::Stdio(_) => Arc::default(),
        };
        Self { entry, launcher, http, closer, warm, route, user_ids }
    }

    /// The warm children still waiting, for the caller to shut down (pool closed).
    pub(crate) fn close_warm_pool(&self) -> Vec<RunningChild> {
        self.warm.as_ref().map(WarmPool::close).unwrap_or_default()
    }

    /// Builds the proxy for one user (or session). Never fails: what cannot be rendered is
    /// reported by the proxy when it is used.
    pub(crate) fn build(
        &self,
        access_token: &Secret,
        user_id: &str,
        extras: &Extras,
    ) -> ProxyServer {
        let hash = user_id_hash(user_id);
        let vars = TemplateVars { access_token, user_id, user_id_hash: &hash, extras };
        let timeout = self.entry.instances.request_timeout;
        let name = self.entry.name.as_str();
        match &self.entry.upstream {
            Upstream::Stdio(stdio) => {
                let tag = self.user_ids.tag(user_id).to_string();
                let spec = child_spec(name, stdio, &vars, &tag);
                let connector = || {
                    let connector = StdioConnector::new(self.launcher.clone(), spec.clone());
                    match &self.warm {
                        Some(pool) => connector.with_warm_pool(pool.clone()),
                        None => connector,
                    }
                };
                // Each era's callers get a session of their era: a child for each era in use.
                ProxyServer::new(name, connector(), timeout, self.closer.clone())
                    .forward_roots(self.entry.forward_roots)
                    .with_modern_link(connector())
            }
            Upstream::Http(upstream) => {
                let headers = headers(upstream, &vars);
                let passthrough = Passthrough::new(
                    self.http.clone(),
                    upstream.url.clone(),
                    headers.clone().map(|headers| headers.into_iter().collect()),
                    self.route.clone(),
                    timeout,
                );
                let connector =
                    HttpConnector::new(self.http.clone(), upstream.url.as_str(), headers);
                ProxyServer::new(name, connector, timeout, self.closer.clone())
                    .forward_roots(self.entry.forward_roots)
                    .with_passthrough(passthrough)
            }
        }
    }
}

/// Starts the entry's warm pool, if it has one. Its children's spec is rendered for nobody: the
/// config check allows a pool only when no template names a variable, so every user's rendering
/// is this one. Their log lines carry `warm` where a user's tag would be.
fn warm_pool(entry: &ServerEntry, launcher: &Arc<Launcher>) -> Option<WarmPool> {
    let Upstream::Stdio(stdio) = &entry.upstream else { return None };
    if entry.instances.warm_pool == 0 {
        return None;
    }
    let (token, extras) = (Secret::new(String::new()), Extras::default());
    let vars =
        TemplateVars { access_token: &token, user_id: "", user_id_hash: "", extras: &extras };
    match child_spec(&entry.name, stdio, &vars, "warm") {
        Ok(spec) => Some(WarmPool::start(launcher.clone(), spec, entry.instances.warm_pool)),
        Err(refusal) => {
            tracing::warn!("no warm pool: {refusal}");
            None
        }
    }
}

/// The child to run for this user: command and arguments as configured (never through a
/// shell), the environment cleared down to the allow-list plus the rendered values; `user` is
/// how its log lines name the user.
fn child_spec(
    server: &str,
    stdio: &StdioUpstream,
    vars: &TemplateVars<'_>,
    user: &str,
) -> Result<ChildSpec, String> {
    let refused = |key: String| {
        move |error: crate::template::RenderError| format!("servers.{server}.{key}: {error}")
    };
    let mut args = Vec::with_capacity(stdio.args.len());
    for (i, arg) in stdio.args.iter().enumerate() {
        args.push(arg.render(vars, Position::Arg).map_err(refused(format!("args[{i}]")))?);
    }
    let mut env = Vec::with_capacity(stdio.env.len());
    for (name, value) in &stdio.env {
        env.push((
            name.clone(),
            value.render(vars, Position::Env).map_err(refused(format!("env.{name}")))?,
        ));
    }
    let cwd = match &stdio.cwd {
        Some(cwd) => {
            Some(PathBuf::from(cwd.render(vars, Position::Cwd).map_err(refused("cwd".into()))?))
        }
        None => None,
    };
    Ok(ChildSpec {
        program: stdio.command.clone(),
        args,
        env: env_allow_list(std::env::vars(), &stdio.pass_env, env),
        cwd,
        server: server.to_owned(),
        user_hash: user.to_owned(),
    })
}

/// The user's headers for an HTTP upstream; values are marked sensitive (kept out of debug
/// output), since they usually carry the credential.
fn headers(
    upstream: &HttpUpstream,
    vars: &TemplateVars<'_>,
) -> Result<HashMap<HeaderName, HeaderValue>, String> {
    let mut headers = HashMap::with_capacity(upstream.headers.len());
    for (name, template) in &upstream.headers {
        let value = template
            .render(vars, Position::Header)
            .map_err(|error| format!("headers.{name}: {error}"))?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            format!("headers.{name}: the rendered value is not a valid header value")
        })?;
        value.set_sensitive(true);
        headers.insert(name.clone(), value);
    }
    Ok(headers)
}
