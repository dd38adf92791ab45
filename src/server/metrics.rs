//! `GET /metrics` in the Prometheus text format.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::actions::Action;

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
    requests: Family<RequestLabels, Counter>,
    latency: Family<ActionLabel, Histogram>,
    /// Each action's `OK` counter and latency histogram, looked up in the families once (at
    /// its first answer) instead of per request; handles share the families' values.
    per_action: Vec<(OnceLock<Counter>, OnceLock<Histogram>)>,
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
            per_action: Action::ALL.iter().map(|_| Default::default()).collect(),
            in_flight,
            probe_queue,
            render_queue,
            store_errors,
        }
    }

    /// Counts one answer of `action` (`None`: not an action openice knows) with `code`
    /// (empty: OK), and its latency.
    pub fn answered(&self, action: Option<Action>, code: &'static str, seconds: f64) {
        let name = action.map_or("unknown", Action::as_str);
        let family_counter = || {
            self.requests
                .get_or_create(&RequestLabels {
                    action: name,
                    code: if code.is_empty() { "OK" } else { code },
                })
                .clone()
        };
        let family_histogram = || {
            self.latency
                .get_or_create(&ActionLabel { action: name })
                .clone()
        };
        match action.and_then(|a| self.per_action.get(a as usize)) {
            Some((ok, latency)) => {
                if code.is_empty() {
                    ok.get_or_init(family_counter).inc();
                } else {
                    family_counter().inc();
                }
                latency.get_or_init(family_histogram).observe(seconds);
            }
            None => {
                family_counter().inc();
                family_histogram().observe(seconds);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached handles count into the same series the families render.
    #[test]
    fn answers_are_counted_by_action_and_code() {
        let m = Metrics::new();
        m.answered(Some(Action::GetEditingProject), "", 0.001);
        m.answered(Some(Action::GetEditingProject), "", 0.002);
        m.answered(Some(Action::GetEditingProject), "InvalidParameter", 0.001);
        m.answered(None, "InvalidAction.NotFound", 0.001);
        let text = m.render();
        for line in [
            r#"openice_requests_total{action="GetEditingProject",code="OK"} 2"#,
            r#"openice_requests_total{action="GetEditingProject",code="InvalidParameter"} 1"#,
            r#"openice_requests_total{action="unknown",code="InvalidAction.NotFound"} 1"#,
            r#"openice_request_duration_seconds_count{action="GetEditingProject"} 3"#,
            r#"openice_request_duration_seconds_count{action="unknown"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(!text.contains(r#"action="CreateEditingProject""#), "{text}");
    }
}
