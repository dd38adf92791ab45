//! Background work: probe workers, render workers that run producing jobs, the callback
//! deliverer, the URL upload worker and the project-count compactor. Each is a [`Worker`]
//! run by [`Workers::spawn`]: it works while there is work, then waits for a wake-up, and
//! stops at a safe point when the shutdown signal is raised ([`Workers::stop`]).

pub mod callbacks;
mod probe;
mod render;
mod url_upload;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::actions::Ctx;
use crate::store::Store;

pub use probe::ProbeWorker;
pub use render::RenderWorker;
pub use url_upload::UrlUploadWorker;

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

/// Runs `worker` until it is done or `must_exit` turns true; its log lines carry its name.
async fn run(mut worker: impl Worker, mut must_exit: watch::Receiver<bool>) {
    loop {
        if *must_exit.borrow() {
            break;
        }
        let state = match worker.work(&mut must_exit).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "worker error; retrying shortly");
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
    tracing::debug!("worker stopped");
}

/// Runs one unit of `worker`'s work outside any runner, with a shutdown signal that never
/// rises: the hook tests use to drive a worker step by step.
pub async fn step(worker: &mut impl Worker) -> Result<WorkerState, String> {
    let (_never, mut must_exit) = watch::channel(false);
    worker.work(&mut must_exit).await
}

/// The server's workers and their shared shutdown signal.
pub struct Workers {
    stop: watch::Sender<bool>,
    running: JoinSet<()>,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            stop: watch::channel(false).0,
            running: JoinSet::new(),
        }
    }
}

impl Workers {
    pub fn spawn(&mut self, worker: impl Worker) {
        let span = tracing::info_span!("worker", worker = %worker.name());
        self.running
            .spawn(run(worker, self.stop.subscribe()).instrument(span));
    }

    /// Raises the shutdown signal and waits until every worker has stopped at a safe point
    /// (between two units of work, or where its `work` watches the signal), at most
    /// `deadline`. Workers still busy then are dropped: their claims lapse with their
    /// leases, and what they did not finish runs again after the next start.
    pub async fn stop(mut self, deadline: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.running.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(
                still_running = self.running.len(),
                "workers did not stop in time; their work runs again after the next start"
            );
        }
    }
}

/// How many of each worker a server runs.
pub struct WorkerCounts {
    pub probe: usize,
    pub render: usize,
}

/// Starts the server's workers: probes, renders, the callback deliverer, the URL upload
/// worker and the project-count compactor.
pub fn start(ctx: Arc<Ctx>, counts: WorkerCounts) -> Workers {
    let mut workers = Workers::default();
    workers.spawn(CountCompactor {
        store: ctx.store.clone(),
    });
    // Each server's probe leases carry its own random owner name.
    let probe_owner: Arc<str> = hex::encode(rand::random::<[u8; 8]>()).into();
    for _ in 0..counts.probe {
        workers.spawn(ProbeWorker::new(ctx.clone(), probe_owner.clone()));
    }
    let server_id = crate::domain::new_id();
    for i in 0..counts.render.max(1) {
        workers.spawn(RenderWorker::new(ctx.clone(), format!("{server_id}-{i}")));
    }
    workers.spawn(callbacks::Deliverer::new(ctx.clone()));
    match UrlUploadWorker::new(ctx) {
        Ok(w) => workers.spawn(w),
        Err(e) => tracing::error!(
            error = %crate::protocol::error::chain(&e),
            "no HTTP client: UploadMediaByURL jobs will wait"
        ),
    }
    workers
}

/// Keeps the store's project count rows few (see `Store::compact_counts`): at once, then
/// every few seconds. Counts are exact either way, so serving does not wait for it.
struct CountCompactor {
    store: Arc<dyn Store>,
}

#[async_trait]
impl Worker for CountCompactor {
    fn name(&self) -> String {
        "count-compactor".into()
    }

    async fn work(&mut self, _: &mut watch::Receiver<bool>) -> Result<WorkerState, String> {
        if let Err(e) = self.store.compact_counts().await {
            tracing::warn!(error = %e, "folding project counts failed; retrying later");
        }
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) -> WorkerState {
        tokio::time::sleep(Duration::from_secs(5)).await;
        WorkerState::Busy
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Works through a script of states, recording each call, then waits for a wake-up.
    struct Scripted {
        script: Vec<WorkerState>,
        calls: Arc<Mutex<Vec<&'static str>>>,
        wake: Arc<tokio::sync::Notify>,
    }

    #[async_trait]
    impl Worker for Scripted {
        fn name(&self) -> String {
            "scripted".into()
        }

        async fn work(&mut self, _: &mut watch::Receiver<bool>) -> Result<WorkerState, String> {
            self.calls.lock().unwrap().push("work");
            Ok(if self.script.is_empty() {
                WorkerState::Idle
            } else {
                self.script.remove(0)
            })
        }

        async fn wait_for_work(&mut self) -> WorkerState {
            self.wake.notified().await;
            self.calls.lock().unwrap().push("woken");
            WorkerState::Busy
        }
    }

    fn scripted(script: Vec<WorkerState>) -> (Scripted, Arc<Mutex<Vec<&'static str>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let worker = Scripted {
            script,
            calls: calls.clone(),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        (worker, calls)
    }

    #[tokio::test]
    async fn step_runs_exactly_one_unit_of_work() {
        let (mut worker, calls) = scripted(vec![WorkerState::Busy, WorkerState::Done]);
        assert_eq!(step(&mut worker).await, Ok(WorkerState::Busy));
        assert_eq!(step(&mut worker).await, Ok(WorkerState::Done));
        assert_eq!(step(&mut worker).await, Ok(WorkerState::Idle));
        assert_eq!(*calls.lock().unwrap(), ["work"; 3]);
    }

    #[tokio::test]
    async fn runner_works_while_busy_waits_when_idle_and_stops_on_the_signal() {
        let (worker, calls) = scripted(vec![WorkerState::Busy, WorkerState::Busy]);
        let wake = worker.wake.clone();
        let mut workers = Workers::default();
        workers.spawn(worker);
        // Busy, Busy, then Idle: three calls, then it waits.
        while calls.lock().unwrap().len() < 3 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*calls.lock().unwrap(), ["work", "work", "work"]);
        wake.notify_one();
        while calls.lock().unwrap().len() < 5 {
            tokio::task::yield_now().await;
        }
        assert_eq!(calls.lock().unwrap()[3..], ["woken", "work"]);
        // Waiting again: the signal stops it well within the deadline.
        let stopping = std::time::Instant::now();
        workers.stop(Duration::from_secs(5)).await;
        assert!(stopping.elapsed() < Duration::from_secs(1));
    }
}
