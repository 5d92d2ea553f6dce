//! [`MetricsLayer`]: counts and times every HTTP request of one server, refusals by the
//! `Host`/`Origin` guard included (it sits outside it).

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::{extract::Request, response::Response};
use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
use tower::{Layer, Service};

use super::labels::{self, RequestLabels, ServerLabel, TimingLabels};

#[derive(Clone)]
pub(crate) struct MetricsLayer {
    inner: Arc<Recorder>,
}

struct Recorder {
    requests: Family<RequestLabels, Counter>,
    durations: Family<TimingLabels, Histogram, fn() -> Histogram>,
    server: ServerLabel,
    base_path: String,
}

impl MetricsLayer {
    pub(super) fn new(
        requests: Family<RequestLabels, Counter>,
        durations: Family<TimingLabels, Histogram, fn() -> Histogram>,
        server: ServerLabel,
        base_path: &str,
    ) -> Self {
        let base_path = base_path.to_owned();
        Self { inner: Arc::new(Recorder { requests, durations, server, base_path }) }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner, recorder: self.inner.clone() }
    }
}

#[derive(Clone)]
pub(crate) struct MetricsService<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S> Service<Request> for MetricsService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let recorder = self.recorder.clone();
        let route = labels::route(request.uri().path(), &recorder.base_path);
        let method = labels::method(request.method());
        let era = labels::era(request.headers());
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let server = recorder.server.server().clone();
            let timing = TimingLabels { server: server.clone(), route, era };
            recorder.durations.get_or_create(&timing).observe(started.elapsed().as_secs_f64());
            let status = response.status().as_u16();
            let labels = RequestLabels { server, route, method, era, status };
            recorder.requests.get_or_create(&labels).inc();
            Ok(response)
        })
    }
}
