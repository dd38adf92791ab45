//! `GET /metrics` in the Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub action: &'static str,
    /// The error code, or `OK`.
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<ActionLabel, Histogram>,
    pub in_flight: Gauge,
    pub probe_queue: Gauge,
    /// Producing jobs not yet finished, set at each scrape.
    pub render_queue: Gauge,
    /// Mirrors `store::BACKEND_ERRORS` at each scrape.
    pub store_errors: Gauge,
}

fn latency_histogram() -> Histogram {
    // 100 µs … ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("openice");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<ActionLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let in_flight = Gauge::default();
        let probe_queue = Gauge::default();
        let render_queue = Gauge::default();
        let store_errors = Gauge::default();
        registry.register(
            "requests",
            "API requests by action and answer code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "API request latency by action",
            latency.clone(),
        );
        registry.register(
            "in_flight_requests",
            "API requests being served",
            in_flight.clone(),
        );
        registry.register(
            "probe_queue_depth",
            "Media waiting for or under probing",
            probe_queue.clone(),
        );
        registry.register(
            "render_queue_depth",
            "Producing jobs waiting or rendering",
            render_queue.clone(),
        );
        registry.register(
            "renders",
            "Finished renders by job status",
            crate::jobs::METRICS.renders.clone(),
        );
        registry.register(
            "render_seconds",
            "Wall time of successful renders",
            crate::jobs::METRICS.seconds.clone(),
        );
        let oss = &crate::oss::metrics::METRICS;
        registry.register(
            "oss_requests",
            "OSS API requests by operation and answer code",
            oss.requests.clone(),
        );
        registry.register(
            "oss_request_duration_seconds",
            "OSS API request duration by operation, to the end of the response body",
            oss.duration.clone(),
        );
        registry.register(
            "oss_in_flight_requests",
            "OSS API requests being served (they share --max-in-flight with the API)",
            oss.in_flight.clone(),
        );
        registry.register(
            "store_errors",
            "Failed store operations since start",
            store_errors.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            probe_queue,
            render_queue,
            store_errors,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
