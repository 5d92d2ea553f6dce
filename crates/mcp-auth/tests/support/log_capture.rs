//! An in-memory log sink, for tests that search what was logged.
#![allow(dead_code)]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use tracing_subscriber::{
    filter::LevelFilter,
    fmt::{
        MakeWriter, SubscriberBuilder,
        format::{DefaultFields, Format},
    },
};

/// Everything written to any clone of it, in one shared buffer.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// A subscriber that writes every event (TRACE, all targets, no colours) into this capture.
    pub fn subscriber(&self) -> SubscriberBuilder<DefaultFields, Format, LevelFilter, Self> {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
    }

    /// What has been logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Sends this thread's logs to the returned capture until the guard drops.
pub fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let guard = tracing::subscriber::set_default(capture.subscriber().finish());
    (capture, guard)
}
