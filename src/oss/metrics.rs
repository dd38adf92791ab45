//! OSS requests in `/metrics` and in `--max-in-flight`: an OSS request holds one of the
//! server's in-flight slots (shared with the ICE API) until its response body has been sent,
//! and is then counted by operation and answer code, with its duration.

use std::sync::LazyLock;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::OwnedSemaphorePermit;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OssLabels {
    pub operation: &'static str,
    /// The OSS error code, or `OK`.
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: &'static str,
}

/// Registered by `server::metrics` next to the ICE API's series.
pub struct OssMetrics {
    pub requests: Family<OssLabels, Counter>,
    /// From the request's arrival to the end of its response body (a GetObject's transfer
    /// included).
    pub duration: Family<OperationLabel, Histogram>,
    pub in_flight: Gauge,
}

fn duration_histogram() -> Histogram {
    // 1 ms … ~35 min: object transfers take long.
    Histogram::new(exponential_buckets(0.001, 2.0, 22))
}

pub static METRICS: LazyLock<OssMetrics> = LazyLock::new(|| OssMetrics {
    requests: Family::default(),
    duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
    in_flight: Gauge::default(),
});

/// One OSS request being served: its slot, and what it is counted as when it ends.
pub(super) struct InFlight {
    /// Held, not read: dropping it frees the slot.
    permit: Option<OwnedSemaphorePermit>,
    started: Instant,
    pub operation: &'static str,
    pub code: &'static str,
}

impl InFlight {
    /// Counts a request in flight from now; `permit` is its `--max-in-flight` slot, None when
    /// the server is full (the request is then answered 503 at once, and still counted).
    pub fn start(permit: Option<OwnedSemaphorePermit>) -> Self {
        METRICS.in_flight.inc();
        InFlight {
            permit,
            started: Instant::now(),
            operation: "Unknown",
            code: "OK",
        }
    }

    pub fn has_slot(&self) -> bool {
        self.permit.is_some()
    }

    /// Keeps the request in flight until `response`'s body has been sent (or the client went
    /// away): the slot is released and the request counted when the body is dropped.
    pub fn until_sent(self, response: Response) -> Response {
        response.map(|body| {
            // The closure owns `self`; MapFrame keeps the body's size hint (Content-Length).
            Body::new(body.map_frame(move |frame| {
                let _in_flight = &self;
                frame
            }))
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        METRICS.in_flight.dec();
        METRICS
            .requests
            .get_or_create(&OssLabels {
                operation: self.operation,
                code: self.code,
            })
            .inc();
        METRICS
            .duration
            .get_or_create(&OperationLabel {
                operation: self.operation,
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}
