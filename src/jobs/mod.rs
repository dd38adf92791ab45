//! Background work: render workers that run producing jobs, and the callback deliverer.
//! Each is a [`Worker`] run by [`spawn`]: it works while there is work, then waits for a
//! wake-up, and stops when the shutdown signal is raised.

pub mod callbacks;
mod probe;
mod render;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::watch;

use crate::actions::Ctx;

pub use probe::run_probe_workers;
pub use render::RenderWorker;

/// What a worker found to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Did something; call `work` again at once.
    Busy,
    /// Nothing to do; wait for work.
    Idle,
    /// Never call again.
    Done,
}

#[async_trait]
pub trait Worker: Send + 'static {
    fn name(&self) -> String;
    /// Does one unit of work. `must_exit` turns true when the server stops.
    async fn work(&mut self, must_exit: &mut watch::Receiver<bool>) -> Result<WorkerState, String>;
    /// Returns when there may be work (a wake-up or a timer).
    async fn wait_for_work(&mut self) -> WorkerState;
}

/// Runs a worker until it is done or `must_exit` turns true.
pub fn spawn(mut worker: impl Worker, mut must_exit: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let name = worker.name();
        loop {
            if *must_exit.borrow() {
                break;
            }
            let state = match worker.work(&mut must_exit).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(worker = %name, error = %e, "worker error; retrying shortly");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    WorkerState::Busy
                }
            };
            match state {
                WorkerState::Busy => {}
                WorkerState::Done => break,
                WorkerState::Idle => {
                    tokio::select! {
                        s = worker.wait_for_work() => if s == WorkerState::Done { break },
                        _ = must_exit.changed() => {}
                    }
                }
            }
        }
        tracing::debug!(worker = %name, "worker stopped");
    });
}

/// Starts `render_workers` render workers and the callback deliverer; they stop when
/// `must_exit` turns true.
pub fn start(ctx: Arc<Ctx>, render_workers: usize, must_exit: watch::Receiver<bool>) {
    LazyLock::force(&STARTED);
    let server_id = crate::domain::new_id();
    for i in 0..render_workers.max(1) {
        spawn(
            RenderWorker::new(ctx.clone(), format!("{server_id}-{i}")),
            must_exit.clone(),
        );
    }
    spawn(callbacks::Deliverer::new(ctx), must_exit);
}

/// When this server started its workers: scratch files older than that are a past run's.
static STARTED: LazyLock<std::time::SystemTime> = LazyLock::new(std::time::SystemTime::now);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

/// Render figures for `/metrics`.
pub struct RenderMetrics {
    /// Finished renders by terminal status.
    pub renders: Family<StatusLabel, Counter>,
    /// Wall time of successful renders.
    pub seconds: Histogram,
}

pub static METRICS: LazyLock<RenderMetrics> = LazyLock::new(|| RenderMetrics {
    renders: Family::default(),
    // 50 ms … ~27 min.
    seconds: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
});

/// Logs a clear warning for each renderer prerequisite that is missing: producing jobs then
/// fail with the renderer's message naming it.
pub fn warn_missing_tools() {
    for missing in crate::render::missing_prerequisites() {
        tracing::warn!(%missing, "a renderer prerequisite is not installed: producing jobs that need it will fail until it is");
    }
}
