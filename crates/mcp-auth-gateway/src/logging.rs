//! The binary's log: its filter, and its format (`[log] format`: pretty or JSON).
//!
//! rmcp logs every JSON-RPC message in full at `debug` and `trace` (tool arguments, results,
//! whatever a user's server returns): `RUST_LOG=debug` on a busy gateway once wrote 4.3 GB, and
//! those payloads are the users' data. At `info` it logs every notification in full
//! (`received notification`: an upstream's progress messages and log lines, in the gateway) and
//! each peer's info at initialization. So rmcp is held at `warn` unless `RUST_LOG` names it —
//! `RUST_LOG=debug,rmcp=debug` still turns the payload logs on, on purpose.
//!
//! Every line goes to stderr through [`RedactingStderr`], in either format. JSON is one object
//! per line: `timestamp`, `level`, `target`, the event's fields (`message` among them) at the top
//! level, and `spans`, the fields of the spans it was logged in, outermost first — the
//! library's `request` span gives each line logged while serving a request its `request_id`
//! there (`jq '.spans[]?.request_id'`).

use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter, util::SubscriberInitExt as _};

use crate::{config::LogFormat, redact::RedactingStderr};

/// The default filter when `RUST_LOG` is unset: rmcp's `info` lines (one per session) are noise.
const DEFAULT: &str = "info,rmcp=warn";

/// rmcp's level unless the operator asks for another.
const RMCP_CAP: &str = "rmcp=warn";

/// The filter for `rust_log` (the value of `RUST_LOG`, if set); an unparsable value falls back
/// to the default, with the parse error returned for the operator.
pub fn filter(rust_log: Option<&str>) -> (EnvFilter, Option<String>) {
    let wanted = rust_log.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(DEFAULT);
    let names_rmcp = wanted.split(',').any(|directive| directive.trim_start().starts_with("rmcp"));
    let directives = if names_rmcp { wanted.to_owned() } else { format!("{wanted},{RMCP_CAP}") };
    match EnvFilter::try_new(&directives) {
        Ok(filter) => (filter, None),
        Err(err) => {
            let fallback = EnvFilter::new(DEFAULT);
            (fallback, Some(format!("RUST_LOG={wanted:?} ignored: {err}")))
        }
    }
}

/// Installs the binary's subscriber: `format`, the filter from `RUST_LOG` (see [`filter`]), on
/// stderr through [`RedactingStderr`]; pretty lines are coloured only on a terminal (a log
/// file or collector would get escape codes).
pub fn init(format: LogFormat) {
    let (filter, ignored) = filter(std::env::var("RUST_LOG").ok().as_deref());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    subscriber(format, filter, RedactingStderr, ansi).init();
    if let Some(reason) = ignored {
        tracing::warn!("{reason}");
    }
}

/// The subscriber [`init`] installs, writing to `writer`; `ansi`: colours (pretty only).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt().with_writer(writer).with_env_filter(filter);
    match format {
        LogFormat::Json => Box::new(
            builder
                .with_ansi(false)
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .finish(),
        ),
        LogFormat::Pretty => Box::new(builder.with_ansi(ansi).finish()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// What gets logged under `rust_log` when rmcp and mcp-auth each log at debug.
    fn logged_under(rust_log: Option<&str>) -> String {
        let capture = Capture::default();
        let subscriber = subscriber(LogFormat::Pretty, filter(rust_log).0, capture.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "rmcp::service", "tool arguments: secret-payload");
            tracing::debug!(target: "mcp_auth::instances", "instance created");
            tracing::info!(target: "rmcp::service", "received notification: secret-progress");
            tracing::warn!(target: "rmcp::service", "service warning");
            tracing::info!(target: "mcp_auth::http", "listening");
        });
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn debug_logs_leave_out_rmcps_message_payloads_unless_asked() {
        let logs = logged_under(Some("debug"));
        assert!(logs.contains("instance created") && logs.contains("service warning"));
        assert!(!logs.contains("secret-payload"), "{logs}");
        assert!(!logs.contains("secret-progress"), "rmcp's info lines carry payloads: {logs}");
        assert!(logged_under(Some("debug,rmcp=debug")).contains("secret-payload"));
    }

    #[test]
    fn the_default_is_info_and_a_bad_value_falls_back_with_a_reason() {
        let logs = logged_under(None);
        assert!(logs.contains("listening"), "{logs}");
        assert!(!logs.contains("secret-progress") && !logs.contains("instance created"));
        let (_, error) = filter(Some("debug,[oops"));
        assert!(error.is_some_and(|e| e.contains("ignored")));
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_fields_and_the_spans_fields() {
        let capture = Capture::default();
        let json = subscriber(LogFormat::Json, filter(None).0, capture.clone(), true);
        tracing::subscriber::with_default(json, || {
            let span = tracing::error_span!("request", request_id = "rid-7");
            let _entered = span.enter();
            tracing::warn!(target: "mcp_auth::security", event = "refused", "request \"refused\"");
            tracing::info!(target: "mcp_auth::http", "multi\nline");
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|line| serde_json::from_str(line).expect(line)).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let refused = &lines[0];
        assert_eq!(refused["level"], "WARN");
        assert_eq!(refused["target"], "mcp_auth::security");
        assert_eq!(refused["message"], "request \"refused\"");
        assert_eq!(refused["event"], "refused");
        assert_eq!(refused["spans"][0]["request_id"], "rid-7", "{refused}");
        assert_eq!(lines[1]["message"], "multi\nline");
        assert!(!text.contains('\u{1b}'), "no colours in JSON: {text}");
    }
}
