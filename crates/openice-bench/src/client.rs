//! The bench's HTTP client: one closed-loop driver that every scenario (the floor included)
//! runs through, parameterised by a request maker; requests are signed by [`crate::signer`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::BenchResult;

/// Per-request bound on top of the run's time bound: a stuck server cannot hang the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

/// The HTTP/1.1 connection of a [`SendRequest`]: it does the I/O when polled.
type Connection = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

async fn handshake(addr: SocketAddr) -> Result<(SendRequest<Full<Bytes>>, Connection), String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect {addr}: timed out"))?
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))
}

/// A connection driven by a task of its own.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let (sender, conn) = handshake(addr).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer: `(status, body)`. No time bound of its own.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    sender
        .ready()
        .await
        .map_err(|_| "connection closed".to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// [`send`] within [`REQUEST_TIMEOUT`].
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(REQUEST_TIMEOUT, send(sender, req))
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()))
}

/// One keep-alive connection for setup calls (fixtures, checks), one request at a time.
pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> BenchResult<Conn> {
        Ok(Conn {
            addr,
            sender: connect(addr).await?,
        })
    }

    /// The answer's JSON; anything but a 200 is an error carrying the answer.
    pub async fn call(&mut self, req: Request<Full<Bytes>>) -> BenchResult<serde_json::Value> {
        let action = req
            .headers()
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("request")
            .to_string();
        let outcome = exchange(&mut self.sender, req).await;
        if outcome.is_err() {
            // The server may have closed an idle connection: the next call gets a new one.
            if let Ok(s) = connect(self.addr).await {
                self.sender = s;
            }
        }
        let (status, body) = outcome.map_err(|e| format!("{action}: {e}"))?;
        if status != 200 {
            return Err(format!(
                "{action}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("{action}: answer is not JSON ({e})").into())
    }
}

// ---------------------------------------------------------------------------------------
// Closed-loop driver
// ---------------------------------------------------------------------------------------

/// Builds request number `n` of a run (numbers are shared by all connections of the run).
pub type MakeRequest = Arc<dyn Fn(u64) -> Request<Full<Bytes>> + Send + Sync>;

/// How hard and how long one run drives its target.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub connections: usize,
    /// Answers completed before this has passed are not counted.
    pub warmup: Duration,
    pub measure: Duration,
    /// Safety bound on requests sent (warm-up included), on top of the time bound.
    pub max_requests: u64,
}

/// Per-run safety bound on requests for the timed scenarios.
pub const MAX_REQUESTS_PER_RUN: u64 = 20_000_000;

#[derive(Default, Debug)]
pub struct RunResult {
    /// 200 answers completed inside the measured window.
    pub ok: u64,
    /// Non-200 answers and transport errors, any time.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of each counted request, microseconds, sorted once the run is over.
    latencies: Vec<u32>,
    pub window: Duration,
    /// Requests sent, warm-up included.
    pub sent: u64,
}

impl RunResult {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// The `p` quantile (0–1) of the counted latencies in ms; `None` when nothing counted.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        Some(f64::from(self.latencies[i]) / 1000.0)
    }
}

/// The bounds and numbering one run's connections share.
struct Window {
    measure_from: Instant,
    end: Instant,
    max_requests: u64,
    counter: AtomicU64,
    make: MakeRequest,
}

/// `load.connections` keep-alive connections, each sending its next request as soon as the
/// previous answer is read, for `warmup + measure` (or until `max_requests` are sent); only
/// answers completed after the warm-up count. A broken connection is replaced and the
/// failure counted, so one bad answer does not end a run.
///
/// The client shares the cores with the server it measures, so each connection is one task
/// that drives its hyper connection itself (no hand-off to a connection task and back per
/// request), and one deadline, the run's end plus [`REQUEST_TIMEOUT`], bounds a stuck
/// server instead of a timer per request.
pub async fn closed_loop(
    addr: SocketAddr,
    load: Load,
    make: MakeRequest,
) -> BenchResult<RunResult> {
    let mut links = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        links.push(handshake(addr).await?);
    }
    let measure_from = Instant::now() + load.warmup;
    let w = Arc::new(Window {
        measure_from,
        end: measure_from + load.measure,
        max_requests: load.max_requests,
        counter: AtomicU64::new(0),
        make,
    });
    let deadline = tokio::time::Instant::from_std(w.end + REQUEST_TIMEOUT);
    let mut tasks = Vec::with_capacity(load.connections);
    for first in links {
        let w = Arc::clone(&w);
        tasks.push(tokio::spawn(async move {
            let mut r = RunResult::default();
            let mut link = Some(first);
            while let Some((sender, connection)) = link.take() {
                let run = async { tokio::join!(requests(sender, &w, &mut r), connection).0 };
                match tokio::time::timeout_at(deadline, run).await {
                    Ok(true) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        link = handshake(addr).await.ok();
                    }
                    Ok(false) => {}
                    Err(_) => {
                        r.errors += 1;
                        r.first_error.get_or_insert_with(|| "timed out".into());
                    }
                }
            }
            r
        }));
    }
    let mut total = RunResult {
        window: load.measure,
        ..RunResult::default()
    };
    for t in tasks {
        let r = t.await.map_err(|e| format!("client task: {e}"))?;
        total.ok += r.ok;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        total.latencies.extend(r.latencies);
    }
    total.latencies.sort_unstable();
    total.sent = w.counter.load(Ordering::Relaxed).min(load.max_requests);
    Ok(total)
}

/// One connection's requests until the run is over (`false`) or the connection fails
/// (`true`: replace it). Dropping `sender` at the end lets the connection close.
async fn requests(mut sender: SendRequest<Full<Bytes>>, w: &Window, r: &mut RunResult) -> bool {
    let mut now = Instant::now();
    while now < w.end {
        let n = w.counter.fetch_add(1, Ordering::Relaxed);
        if n >= w.max_requests {
            break;
        }
        let req = (w.make)(n);
        let started = Instant::now();
        let outcome = send(&mut sender, req).await;
        now = Instant::now();
        match outcome {
            Ok((200, _)) => {
                if now >= w.measure_from && now <= w.end {
                    r.ok += 1;
                    r.latencies
                        .push((now - started).as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Ok((status, body)) => {
                r.errors += 1;
                r.first_error.get_or_insert_with(|| {
                    format!("HTTP {status}: {}", String::from_utf8_lossy(&body))
                });
            }
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(e);
                return true;
            }
        }
    }
    false
}
