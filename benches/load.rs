//! Load benchmark of the real `openice` binary against the machine's floor.
//!
//! ```sh
//! cargo build --release            # cargo bench also builds the binary it runs
//! cargo bench --bench timeline     # optional: its latest estimate is copied into the table
//! cargo bench --bench load -- [--quick] [--connections N] [--duration SECS] [--runs N]
//!                             [--projects N] [--no-write]
//! ```
//!
//! What it does, all on loopback, bounded in time and request count, stopping by itself:
//!
//! * The floor: an in-process bare hyper HTTP/1.1 server (its own 2-thread runtime)
//!   answering every request with a fixed ~200-byte JSON body and an `x-acs-request-id`.
//! * The server: `target/release/openice serve` (the binary cargo built for this bench, or
//!   `$OPENICE_BENCH_BIN`) on a free loopback port with a temporary data dir (SQLite),
//!   logging at its default level to a file in that dir.
//! * A closed-loop client (its own 2-thread runtime): N keep-alive connections, each one
//!   tokio task sending its next request when the last answer is read. Every request to
//!   openice is freshly signed (ACS3-HMAC-SHA256, exactly as the official SDK signs, with a
//!   unique nonce), so signing is part of the client's cost; the floor gets unsigned requests.
//! * Scenarios, each for `--duration` (default 5 s, `--quick` 2 s) after a short warm-up,
//!   `--runs` times (default 3, median reported): (a) floor req/s, (b) GetEditingProject
//!   req/s, (c) CreateEditingProject req/s; (d) SearchEditingProject p50/p99 at 8 connections
//!   over a store seeded with `--projects` (default 100,000) projects through
//!   `openice::store` (seeding time is not measured); (e) exec → `/healthz` 200 on that
//!   store (median of 3 starts); (f) VmRSS idle after start and peak VmRSS while 256
//!   connections send GetEditingProject.
//!
//! Prints a markdown table and (unless `--no-write`) replaces the generated section of
//! docs/benchmarks.md with it, together with the command, machine and date.

use std::convert::Infallible;
use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use openice::domain::account::{AccessKey, Account, new_account_id};
use openice::domain::project::{EditingProject, NewEditingProject};
use openice::domain::timeline::Timeline;
use openice::domain::{new_id, now_micros};
use openice::protocol::sign::{
    V3Authorization, V3Input, percent_encode, sha256_hex, v3_signature, v3_string_to_sign,
};
use time::OffsetDateTime;

const API_VERSION: &str = "2020-11-09";
/// What the Python SDK sends as its user agent (signed in V3).
const USER_AGENT: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
const KEY_ID: &str = "LTAIbench0000000000000001";
const KEY_SECRET: &str = "benchSecret0123456789abcdefghi";
/// The floor's fixed answer: the shape and size of a small ICE JSON body.
const FLOOR_BODY: &str = r#"{"RequestId":"6F2A3C1E-0B7D-4E38-9C55-1D2E3F4A5B6C","Project":{"ProjectId":"4c3b2a19f8e7d6c5b4a3928170f6e5d4","Title":"floor","Status":"Editing","CreateTime":"2026-01-01T00:00:00Z","Duration":4.5,"ProjectType":"EditingProject"}}"#;
/// A small editor timeline, as CreateEditingProject receives it.
const CREATE_TIMELINE: &str = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"a1b2c3d4e5f60718293a4b5c6d7e8f90","In":0,"Out":4.5},{"MediaId":"0f9e8d7c6b5a49382716a5b4c3d2e1f0","In":1,"Out":6,"Effects":[{"Type":"Volume","Gain":0.5}]}]}],"AudioTracks":[{"AudioTrackClips":[{"MediaId":"11223344556677889900aabbccddeeff","In":0,"Out":9.5}]}]}"#;
/// Per-run safety bound on requests, on top of the time bound.
const MAX_REQUESTS_PER_RUN: u64 = 20_000_000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

struct Opts {
    connections: usize,
    duration: Duration,
    warmup: Duration,
    runs: usize,
    projects: usize,
    search_connections: usize,
    rss_connections: usize,
    write_doc: bool,
    /// The arguments as given, for the command line in the report.
    shown_args: Vec<String>,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        connections: 32,
        duration: Duration::from_secs(5),
        warmup: Duration::from_millis(500),
        runs: 3,
        projects: 100_000,
        search_connections: 8,
        rss_connections: 256,
        write_doc: true,
        shown_args: Vec::new(),
    };
    let mut quick = false;
    let mut duration = None;
    let mut args = std::env::args().skip(1);
    let value = |name: &str, inline: Option<&str>, args: &mut dyn Iterator<Item = String>| {
        let v = inline
            .map(str::to_string)
            .or_else(|| args.next())
            .unwrap_or_else(|| panic!("{name} needs a value"));
        v.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n > 0.0)
            .unwrap_or_else(|| panic!("{name} {v:?}: expected a positive number"))
    };
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let inline = inline.as_deref();
        match name.as_str() {
            // cargo bench passes --bench to every harness=false target.
            "--bench" => continue,
            "--quick" => quick = true,
            "--no-write" => o.write_doc = false,
            "--connections" => {
                let n = value(&name, inline, &mut args) as usize;
                o.connections = n.max(1);
                o.shown_args.push(format!("--connections {n}"));
                continue;
            }
            "--duration" => {
                let s = value(&name, inline, &mut args);
                duration = Some(Duration::from_secs_f64(s));
                o.shown_args.push(format!("--duration {s}"));
                continue;
            }
            "--runs" => {
                let n = value(&name, inline, &mut args) as usize;
                o.runs = n.max(1);
                o.shown_args.push(format!("--runs {n}"));
                continue;
            }
            "--projects" => {
                let n = value(&name, inline, &mut args) as usize;
                o.projects = n.max(1);
                o.shown_args.push(format!("--projects {n}"));
                continue;
            }
            other => {
                eprintln!("load: ignoring unknown argument {other:?}");
                continue;
            }
        }
        o.shown_args.push(arg);
    }
    o.duration = duration.unwrap_or(if quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(5)
    });
    if quick {
        o.warmup = Duration::from_millis(300);
    }
    o
}

// ---------------------------------------------------------------------------------------
// Signing (ACS3-HMAC-SHA256, header set and order as the Python SDK; see tests/common)
// ---------------------------------------------------------------------------------------

/// Python `urlencode` (`quote_plus`): RFC 3986 escapes, but a space is `+`.
fn wire_encode(s: &str) -> String {
    percent_encode(s).replace("%20", "+")
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", wire_encode(k), wire_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn acs_date(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A V3-signed POST, freshly dated and with a fresh nonce. `form` goes in the body.
fn signed(
    host: &str,
    action: &str,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
) -> Request<Full<Bytes>> {
    let mut form = form;
    form.sort_by(|a, b| a.0.cmp(&b.0));
    let body = encode_pairs(&form).into_bytes();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-acs-version".into(), API_VERSION.into()),
        ("x-acs-action".into(), action.into()),
        ("user-agent".into(), USER_AGENT.into()),
        ("x-acs-date".into(), acs_date(OffsetDateTime::now_utc())),
        ("x-acs-signature-nonce".into(), new_id()),
        ("accept".into(), "application/json".into()),
    ];
    if !form.is_empty() {
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    headers.push(("x-acs-content-sha256".into(), sha256_hex(&body)));
    headers.push(("x-acs-credentials-provider".into(), "static_ak".into()));
    let mut signed_headers: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    signed_headers.sort();
    let auth = V3Authorization {
        access_key_id: KEY_ID.into(),
        signed_headers,
        signature: String::new(),
    };
    let input = V3Input {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: &body,
    };
    let canonical = v3_string_to_sign(&input, &auth).expect("valid signing input");
    let signature = v3_signature(KEY_SECRET, &canonical.string_to_sign);
    let authorization = format!(
        "ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={},Signature={signature}",
        auth.signed_headers.join(";")
    );
    let target = if query.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", encode_pairs(&query))
    };
    let mut rb = Request::builder().method("POST").uri(target);
    for (k, v) in &headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    rb.header("authorization", authorization)
        .body(Full::new(Bytes::from(body)))
        .expect("valid request")
}

fn pairs(p: &[(&str, String)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

// ---------------------------------------------------------------------------------------
// Closed-loop client
// ---------------------------------------------------------------------------------------

type MakeRequest = Arc<dyn Fn(u64) -> Request<Full<Bytes>> + Send + Sync>;

#[derive(Default)]
struct RunResult {
    /// 200 answers completed inside the measured window.
    ok: u64,
    /// Non-200 answers and transport errors, any time.
    errors: u64,
    first_error: Option<String>,
    /// Latency of each counted request, microseconds.
    latencies: Vec<u32>,
    window: Duration,
    /// Requests sent, warm-up included.
    sent: u64,
}

impl RunResult {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }
}

async fn connect(
    addr: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `connections` keep-alive connections, each sending its next request as soon as the
/// last answer is read, for `warmup + measure`; only answers completed after the warm-up
/// count.
async fn closed_loop(
    addr: SocketAddr,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    make: MakeRequest,
) -> RunResult {
    let counter = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(connect(addr).await.expect("connect"));
    }
    let begin = Instant::now();
    let measure_from = begin + warmup;
    let end = measure_from + measure;
    let mut tasks = Vec::with_capacity(connections);
    for mut sender in senders {
        let make = Arc::clone(&make);
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            let mut r = RunResult::default();
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= MAX_REQUESTS_PER_RUN {
                    break;
                }
                let req = make(n);
                let started = Instant::now();
                let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
                    if sender.ready().await.is_err() {
                        return Err("connection closed".to_string());
                    }
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
                })
                .await
                .unwrap_or_else(|_| Err("timed out".to_string()));
                let done = Instant::now();
                match outcome {
                    Ok((200, _)) => {
                        if done >= measure_from && done <= end {
                            r.ok += 1;
                            r.latencies
                                .push((done - started).as_micros().min(u32::MAX as u128) as u32);
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
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        match connect(addr).await {
                            Ok(s) => sender = s,
                            Err(_) => break,
                        }
                    }
                }
            }
            r
        }));
    }
    let mut total = RunResult {
        window: measure,
        ..RunResult::default()
    };
    for t in tasks {
        let r = t.await.expect("client task");
        total.ok += r.ok;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        total.latencies.extend(r.latencies);
    }
    total.sent = counter.load(Ordering::Relaxed).min(MAX_REQUESTS_PER_RUN);
    total
}

// ---------------------------------------------------------------------------------------
// The floor: a bare hyper server with a fixed JSON answer
// ---------------------------------------------------------------------------------------

async fn floor_answer(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .header("content-type", "application/json;charset=utf-8")
        .header("x-acs-request-id", "6F2A3C1E-0B7D-4E38-9C55-1D2E3F4A5B6C")
        .body(Full::new(Bytes::from_static(FLOOR_BODY.as_bytes())))
        .expect("valid response"))
}

/// Starts the floor on its own 2-thread runtime; it lives as long as the process.
fn start_floor() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("floor")
            .enable_all()
            .build()
            .expect("floor runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("floor bind");
            tx.send(listener.local_addr().expect("floor addr"))
                .expect("floor addr");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(
                            TokioIo::new(stream),
                            hyper::service::service_fn(floor_answer),
                        )
                        .await;
                });
            }
        });
    });
    rx.recv().expect("floor started")
}

// ---------------------------------------------------------------------------------------
// The openice process
// ---------------------------------------------------------------------------------------

fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENICE_BENCH_BIN") {
        return PathBuf::from(p);
    }
    let built = PathBuf::from(env!("CARGO_BIN_EXE_openice"));
    if built.exists() {
        return built;
    }
    let release = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/openice");
    if !release.exists() {
        eprintln!(
            "load: {} is missing; running cargo build --release",
            release.display()
        );
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--bin", "openice"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --release");
        assert!(status.success(), "cargo build --release failed");
    }
    release
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    /// Exec to the first `/healthz` 200.
    ready_after: Duration,
}

impl Server {
    /// Starts `openice serve` on a free port and waits for `/healthz` 200.
    fn start(bin: &Path, data_dir: &Path) -> Server {
        for _attempt in 0..5 {
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let log = data_dir.join("server.log");
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("server log file");
            let mut cmd = Command::new(bin);
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("OPENICE_") {
                    cmd.env_remove(&k);
                }
            }
            cmd.arg("serve")
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--data-dir")
                .arg(data_dir)
                .env("OPENICE_ACCESS_KEY_ID", KEY_ID)
                .env("OPENICE_ACCESS_KEY_SECRET", KEY_SECRET)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file);
            let spawned = Instant::now();
            let mut child = cmd.spawn().expect("spawn openice");
            let deadline = spawned + Duration::from_secs(60);
            loop {
                if healthz(addr) == Some(200) {
                    return Server {
                        ready_after: spawned.elapsed(),
                        child,
                        addr,
                        log,
                    };
                }
                if let Some(status) = child.try_wait().expect("try_wait") {
                    let logs = std::fs::read_to_string(&log).unwrap_or_default();
                    if logs.contains("in use") {
                        break;
                    }
                    panic!("openice exited during start ({status}):\n{logs}");
                }
                assert!(
                    Instant::now() < deadline,
                    "openice did not become healthy within 60 s"
                );
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        panic!("could not start openice on a free port");
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// SIGTERM, then wait (at most 30 s, then SIGKILL).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("load: openice did not stop within 30 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET /healthz` over a fresh blocking connection; `None` when nothing answers.
fn healthz(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1)?.parse().ok()
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU time the whole machine has spent busy so far (all cores), from `/proc/stat`.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum();
    Duration::from_secs_f64(busy / clock_ticks())
}

/// CPU (in cores) that processes other than this bench and its server used during each
/// measured run: the noise this machine added.
static OTHER_LOAD: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Duration {
    let ticks = clock_ticks();
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_secs_f64(f.iter().sum::<f64>() / ticks)
}

/// CPU microseconds per request of the server process and of this process (client, plus
/// the floor when it is the target) over one run.
struct CpuShare {
    server_us: f64,
    client_us: f64,
}

/// Runs `f`, charging the CPU time of `server_pid` and of this process to `requests(f's result)`.
fn with_cpu<R>(
    server_pid: Option<u32>,
    f: impl FnOnce() -> R,
    sent: impl Fn(&R) -> u64,
) -> (R, CpuShare) {
    let server = server_pid.map(|p| p.to_string());
    let s0 = server.as_deref().map(cpu_time);
    let c0 = cpu_time("self");
    let m0 = machine_busy();
    let wall = Instant::now();
    let r = f();
    let wall = wall.elapsed();
    let m1 = machine_busy();
    let n = sent(&r).max(1) as f64;
    let s1 = server.as_deref().map(cpu_time);
    let c1 = cpu_time("self");
    let ours = c1.saturating_sub(c0)
        + match (s0, s1) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
    let other = (m1.saturating_sub(m0).as_secs_f64() - ours.as_secs_f64()).max(0.0);
    OTHER_LOAD
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(other / wall.as_secs_f64());
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let share = CpuShare {
        server_us: match (s0, s1) {
            (Some(a), Some(b)) => per(b.saturating_sub(a)),
            _ => f64::NAN,
        },
        client_us: per(c1.saturating_sub(c0)),
    };
    (r, share)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

// ---------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------

/// A small, varied timeline for seeded project `i` (2–4 clips).
fn seed_timeline(i: usize) -> String {
    let id = |n: usize| {
        format!(
            "{:032x}",
            (n as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    };
    let clips: Vec<String> = (0..2 + i % 3)
        .map(|c| {
            let inp = (c % 2) as f64;
            format!(
                r#"{{"MediaId":"{}","In":{inp},"Out":{}}}"#,
                id((i * 7 + c) % 5000),
                inp + 3.0 + (i % 5) as f64
            )
        })
        .collect();
    format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
        clips.join(",")
    )
}

/// Creates the default account with the bench key and `n` projects through the Store
/// trait (what the server's own writes go through), spread over the past year.
fn seed(data_dir: &Path, n: usize) -> Duration {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("seed runtime");
    rt.block_on(async {
        let store = openice::store::open(None, data_dir)
            .await
            .expect("open store");
        let now = now_micros();
        let account = Account {
            account_id: new_account_id(),
            name: "default".into(),
            create_time: now,
        };
        let key = AccessKey {
            access_key_id: KEY_ID.into(),
            account_id: account.account_id.clone(),
            secret: KEY_SECRET.into(),
            enabled: true,
        };
        store
            .create_account(&account, &key)
            .await
            .expect("create account");
        const TASKS: usize = 8;
        let step = 365 * 24 * 3600 * 1_000_000 / n.max(1) as i64;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let store = Arc::clone(&store);
            let account_id = account.account_id.clone();
            tasks.push(tokio::spawn(async move {
                for i in (t..n).step_by(TASKS) {
                    let raw = (i % 10 != 9).then(|| seed_timeline(i));
                    let timeline = raw.map(|r| {
                        let t = Timeline::parse(&r).expect("valid seed timeline");
                        (r, t)
                    });
                    let media_ids = timeline
                        .as_ref()
                        .map(|(_, t)| t.media_ids())
                        .unwrap_or_default();
                    let created = now - (n - i) as i64 * step;
                    let mut p = EditingProject::create(
                        &account_id,
                        new_id(),
                        NewEditingProject {
                            title: format!("Seeded project {i}"),
                            description: (i % 3 == 0).then(|| format!("Description {i}")),
                            timeline,
                            ..NewEditingProject::default()
                        },
                        created,
                        |t| t.duration(|_| None),
                    )
                    .expect("valid seed project");
                    p.modified_time = created;
                    store
                        .insert_project(&p, &media_ids, &[])
                        .await
                        .expect("insert project");
                }
            }));
        }
        for t in tasks {
            t.await.expect("seed task");
        }
    });
    rt.shutdown_timeout(Duration::from_secs(10));
    started.elapsed()
}

/// Internal: `load --seed-store DIR N` seeds and exits.
const SEED_COMMAND: &str = "--seed-store";

/// Seeds in a child process (so that no connection of this process stays open on the
/// store), then checkpoints the WAL as a cleanly stopped server leaves it: the seeding's
/// concurrent writers leave a WAL many times the size of the database, and the first open
/// after that replays it (seconds), which is not what a start on a 100k store means.
fn seed_in_child(data_dir: &Path, n: usize) -> Duration {
    let started = Instant::now();
    let status = Command::new(std::env::current_exe().expect("bench executable"))
        .arg(SEED_COMMAND)
        .arg(data_dir)
        .arg(n.to_string())
        .stdin(Stdio::null())
        .status()
        .expect("run the seeding process");
    assert!(status.success(), "seeding failed: {status}");
    let db = data_dir.join("openice.db");
    let wal_mib = std::fs::metadata(data_dir.join("openice.db-wal"))
        .map_or(0.0, |m| m.len() as f64 / 1048576.0);
    eprintln!("load: seeded; WAL before checkpoint {wal_mib:.0} MiB");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("checkpoint runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("open the seeded store");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        conn.close().await.expect("close");
    });
    started.elapsed()
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn fmt_list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The latest `parse+duration` estimate of `cargo bench --bench timeline` (ms) with the
/// time it was written, if that bench has run.
fn timeline_estimate() -> Option<(f64, f64, String)> {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion/timeline_10k");
    let read = |name: &str| -> Option<(f64, std::time::SystemTime)> {
        let path = base.join(name).join("new/estimates.json");
        let text = std::fs::read_to_string(&path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let ns = v["median"]["point_estimate"].as_f64()?;
        Some((ns / 1e6, std::fs::metadata(&path).ok()?.modified().ok()?))
    };
    let (duration_ms, when) = read("parse+duration")?;
    let frontend_ms = read("parse+to_frontend").map_or(f64::NAN, |(ms, _)| ms);
    let when = OffsetDateTime::from(when);
    Some((duration_ms, frontend_ms, format_date(when)))
}

fn format_date(t: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

struct Row {
    figure: String,
    value: String,
    target: String,
    met: Option<bool>,
}

fn row(
    figure: impl Into<String>,
    value: impl Into<String>,
    target: &str,
    met: Option<bool>,
) -> Row {
    Row {
        figure: figure.into(),
        value: value.into(),
        target: target.into(),
        met,
    }
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from("| figure | value | target | |\n|---|---|---|---|\n");
    for r in rows {
        let mark = match r.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {mark} |\n",
            r.figure, r.value, r.target
        ));
    }
    s
}

const BEGIN: &str = "<!-- load-bench:begin (written by cargo bench --bench load) -->";
const END: &str = "<!-- load-bench:end -->";

/// Replaces the generated section of docs/benchmarks.md (or writes the file).
fn write_doc(section: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
    let block = format!("{BEGIN}\n{section}{END}\n");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let rest = text[e + END.len()..].trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{}{block}{gap}{rest}", &text[..b])
        }
        // No generated section yet: keep whatever the file holds and add one at the end.
        _ if text.trim().is_empty() => format!("# Benchmarks\n\n{block}"),
        _ => format!("{}\n\n## Latest load results\n\n{block}", text.trim_end()),
    };
    std::fs::write(&path, new).expect("write docs/benchmarks.md");
    eprintln!("load: wrote {}", path.display());
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(SEED_COMMAND) {
        let n = args[3].parse().expect("project count");
        seed(Path::new(&args[2]), n);
        return;
    }
    let opts = parse_args();
    let bin = server_binary();
    let load_before = loadavg();
    let started_at = OffsetDateTime::now_utc();
    eprintln!(
        "load: {} connections, {:?} per run, {} runs, {} seeded projects; binary {}; load average {load_before}",
        opts.connections,
        opts.duration,
        opts.runs,
        opts.projects,
        bin.display()
    );
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("client runtime");

    // Client-side signing cost, for reading the ratios.
    let signing_us = {
        let n = 20_000u32;
        let t = Instant::now();
        for i in 0..n {
            std::hint::black_box(signed(
                "127.0.0.1:1",
                "GetEditingProject",
                pairs(&[("ProjectId", format!("{i:032x}"))]),
                Vec::new(),
            ));
        }
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    };
    eprintln!("load: signing a request costs the client {signing_us:.1} µs");

    let floor = start_floor();
    let small_dir = tempfile::Builder::new()
        .prefix("openice-bench-")
        .tempdir()
        .expect("temp dir");
    let server = Server::start(&bin, small_dir.path());
    let host = server.addr.to_string();
    std::thread::sleep(Duration::from_secs(1));
    let idle_empty_kib = server.rss_kib().unwrap_or(0);
    eprintln!(
        "load: openice ready; idle RSS {} MiB",
        idle_empty_kib / 1024
    );

    // Projects for GetEditingProject.
    let project_ids: Vec<String> = client.block_on(async {
        let mut sender = connect(server.addr).await.expect("connect");
        let mut ids = Vec::new();
        for i in 0..100 {
            let req = signed(
                &host,
                "CreateEditingProject",
                pairs(&[("Title", format!("bench get {i}"))]),
                pairs(&[("Timeline", CREATE_TIMELINE.to_string())]),
            );
            sender.ready().await.expect("connection ready");
            let resp = sender.send_request(req).await.expect("create");
            let status = resp.status();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
            ids.push(
                v["Project"]["ProjectId"]
                    .as_str()
                    .expect("ProjectId")
                    .to_string(),
            );
        }
        ids
    });
    let project_ids = Arc::new(project_ids);
    let get_request: MakeRequest = {
        let host = host.clone();
        let ids = Arc::clone(&project_ids);
        Arc::new(move |n| {
            signed(
                &host,
                "GetEditingProject",
                pairs(&[("ProjectId", ids[n as usize % ids.len()].clone())]),
                Vec::new(),
            )
        })
    };
    let create_request: MakeRequest = {
        let host = host.clone();
        Arc::new(move |n| {
            signed(
                &host,
                "CreateEditingProject",
                pairs(&[
                    ("Title", format!("bench project {n}")),
                    ("Description", "created by the load bench".to_string()),
                ]),
                pairs(&[("Timeline", CREATE_TIMELINE.to_string())]),
            )
        })
    };
    let floor_request: MakeRequest = Arc::new(move |_| {
        Request::builder()
            .method("GET")
            .uri("/")
            .header("host", floor.to_string())
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    });

    let mut problems: Vec<String> = Vec::new();
    let mut check = |what: &str, r: &RunResult| {
        if r.errors > 0 {
            let msg = format!(
                "{what}: {} failed requests (first: {})",
                r.errors,
                r.first_error.as_deref().unwrap_or("?")
            );
            eprintln!("load: {msg}");
            problems.push(msg);
        }
    };

    // (f) RSS under 256 connections of GetEditingProject.
    let pid = server.pid();
    let (rss_peak_kib, rss_run) = client.block_on(async {
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let peak = Arc::clone(&peak);
            tokio::spawn(async move {
                loop {
                    if let Some(kib) = rss_kib(pid) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let r = closed_loop(
            server.addr,
            opts.rss_connections,
            opts.warmup,
            opts.duration,
            Arc::clone(&get_request),
        )
        .await;
        sampler.abort();
        (peak.load(Ordering::Relaxed), r)
    });
    check("GetEditingProject at 256 connections", &rss_run);
    eprintln!(
        "load: 256 connections: {:.0} req/s, peak RSS {} MiB",
        rss_run.rps(),
        rss_peak_kib / 1024
    );

    // (a)–(c), interleaved per round so that machine noise hits all three alike.
    let (mut floor_rps, mut get_rps, mut create_rps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut get_ratio, mut create_ratio) = (Vec::new(), Vec::new());
    let mut get_p99 = Vec::new();
    let mut create_p99 = Vec::new();
    let mut floor_cpu = Vec::new();
    let (mut get_server_cpu, mut get_client_cpu) = (Vec::new(), Vec::new());
    let (mut create_server_cpu, mut create_client_cpu) = (Vec::new(), Vec::new());
    for round in 1..=opts.runs {
        let run = |addr, make: &MakeRequest| {
            client.block_on(closed_loop(
                addr,
                opts.connections,
                opts.warmup,
                opts.duration,
                Arc::clone(make),
            ))
        };
        let (f, f_cpu) = with_cpu(None, || run(floor, &floor_request), |r| r.sent);
        check("floor", &f);
        let (mut g, g_cpu) = with_cpu(Some(pid), || run(server.addr, &get_request), |r| r.sent);
        check("GetEditingProject", &g);
        let (mut c, c_cpu) = with_cpu(Some(pid), || run(server.addr, &create_request), |r| r.sent);
        check("CreateEditingProject", &c);
        floor_cpu.push(f_cpu.client_us);
        get_server_cpu.push(g_cpu.server_us);
        get_client_cpu.push(g_cpu.client_us);
        create_server_cpu.push(c_cpu.server_us);
        create_client_cpu.push(c_cpu.client_us);
        eprintln!(
            "load: round {round}: floor {:.0} req/s, Get {:.0} req/s ({:.2}), Create {:.0} req/s ({:.2})",
            f.rps(),
            g.rps(),
            g.rps() / f.rps(),
            c.rps(),
            c.rps() / f.rps()
        );
        floor_rps.push(f.rps());
        get_rps.push(g.rps());
        create_rps.push(c.rps());
        get_ratio.push(g.rps() / f.rps());
        create_ratio.push(c.rps() / f.rps());
        get_p99.push(g.percentile_ms(0.99));
        create_p99.push(c.percentile_ms(0.99));
    }
    let rss_after_kib = server.rss_kib().unwrap_or(0);
    let small_wal_mib = std::fs::metadata(small_dir.path().join("openice.db-wal"))
        .map_or(0.0, |m| m.len() as f64 / 1048576.0);
    let small_log_tail = server.log_tail();
    server.stop();

    // (d), (e) on a store with opts.projects projects.
    let big_dir = tempfile::Builder::new()
        .prefix("openice-bench-100k-")
        .tempdir()
        .expect("temp dir");
    eprintln!("load: seeding {} projects…", opts.projects);
    let seed_time = seed_in_child(big_dir.path(), opts.projects);
    let file_mib = |name: &str| {
        std::fs::metadata(big_dir.path().join(name))
            .map(|m| m.len() as f64 / 1048576.0)
            .unwrap_or(0.0)
    };
    let db_mib = file_mib("openice.db");
    eprintln!(
        "load: after seeding: openice.db {db_mib:.1} MiB, -wal {:.1} MiB",
        file_mib("openice.db-wal")
    );
    eprintln!(
        "load: seeded in {:.1} s ({db_mib:.0} MiB)",
        seed_time.as_secs_f64()
    );
    let mut ready_ms = Vec::new();
    let mut idle_big_kib = Vec::new();
    let mut big = None;
    for start in 0..3 {
        let s = Server::start(&bin, big_dir.path());
        ready_ms.push(s.ready_after.as_secs_f64() * 1000.0);
        if s.ready_after > Duration::from_secs(1) {
            eprintln!("load: slow start; server log:\n{}", s.log_tail());
        }
        std::thread::sleep(Duration::from_secs(1));
        idle_big_kib.push(s.rss_kib().unwrap_or(0) as f64);
        eprintln!(
            "load: start {}: healthz 200 after {:.1} ms",
            start + 1,
            ready_ms[start]
        );
        if start == 2 {
            big = Some(s);
        } else {
            s.stop();
        }
    }
    let big = big.expect("server on the seeded store");
    let search_request: MakeRequest = {
        let host = big.addr.to_string();
        Arc::new(move |n| {
            signed(
                &host,
                "SearchEditingProject",
                pairs(&[
                    ("PageNo", (1 + n % 5).to_string()),
                    ("PageSize", "20".to_string()),
                ]),
                Vec::new(),
            )
        })
    };
    // One call to check what the search answers.
    let total_count = client.block_on(async {
        let mut sender = connect(big.addr).await.expect("connect");
        sender.ready().await.expect("connection ready");
        let resp = sender
            .send_request(search_request(0))
            .await
            .expect("search");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        v["TotalCount"].as_u64()
    });
    let (mut search_p50, mut search_p99, mut search_rps) = (Vec::new(), Vec::new(), Vec::new());
    let mut search_server_cpu = Vec::new();
    for round in 1..=opts.runs {
        let (mut r, cpu) = with_cpu(
            Some(big.pid()),
            || {
                client.block_on(closed_loop(
                    big.addr,
                    opts.search_connections,
                    opts.warmup,
                    opts.duration,
                    Arc::clone(&search_request),
                ))
            },
            |r| r.sent,
        );
        search_server_cpu.push(cpu.server_us);
        check("SearchEditingProject", &r);
        let (p50, p99) = (r.percentile_ms(0.5), r.percentile_ms(0.99));
        eprintln!(
            "load: search round {round}: {:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms",
            r.rps()
        );
        search_rps.push(r.rps());
        search_p50.push(p50);
        search_p99.push(p99);
    }
    let big_log_tail = big.log_tail();
    big.stop();
    let load_after = loadavg();

    if total_count != Some(opts.projects as u64) {
        problems.push(format!(
            "SearchEditingProject TotalCount {total_count:?}, expected {}",
            opts.projects
        ));
    }
    if !problems.is_empty() {
        eprintln!("--- openice log tail (small store):\n{small_log_tail}");
        eprintln!("--- openice log tail (seeded store):\n{big_log_tail}");
    }

    // Report.
    let mib = |kib: f64| kib / 1024.0;
    let n = opts.connections;
    let mut rows = vec![
        row(
            format!("(a) floor: bare hyper, fixed JSON, {n} conns"),
            format!(
                "{:.0} req/s; CPU {:.0} µs/req (client + floor)",
                median(floor_rps.clone()),
                median(floor_cpu.clone())
            ),
            "—",
            None,
        ),
        row(
            format!("(b) signed GetEditingProject, {n} conns"),
            format!(
                "{:.0} req/s, p99 {:.1} ms; CPU µs/req: server {:.0}, client {:.0}",
                median(get_rps.clone()),
                median(get_p99.clone()),
                median(get_server_cpu.clone()),
                median(get_client_cpu.clone())
            ),
            "",
            None,
        ),
        row(
            "(b/a) Get ÷ floor",
            format!(
                "**{:.2}** ({})",
                median(get_ratio.clone()),
                fmt_list(&get_ratio, 2)
            ),
            "≥ 0.60",
            Some(median(get_ratio.clone()) >= 0.60),
        ),
        row(
            format!("(c) signed CreateEditingProject on SQLite, {n} conns"),
            format!(
                "{:.0} req/s, p99 {:.1} ms; CPU µs/req: server {:.0}, client {:.0}",
                median(create_rps.clone()),
                median(create_p99.clone()),
                median(create_server_cpu.clone()),
                median(create_client_cpu.clone())
            ),
            "",
            None,
        ),
        row(
            "(c/a) Create ÷ floor",
            format!(
                "**{:.2}** ({})",
                median(create_ratio.clone()),
                fmt_list(&create_ratio, 2)
            ),
            "≥ 0.25",
            Some(median(create_ratio.clone()) >= 0.25),
        ),
        row(
            format!(
                "(d) SearchEditingProject p50 / p99, {} conns, {} projects",
                opts.search_connections, opts.projects
            ),
            format!(
                "{:.2} / **{:.2}** ms ({:.0} req/s, server CPU {:.0} µs/req; p99 per run {})",
                median(search_p50.clone()),
                median(search_p99.clone()),
                median(search_rps.clone()),
                median(search_server_cpu.clone()),
                fmt_list(&search_p99, 2)
            ),
            "p99 ≤ 20 ms",
            Some(median(search_p99.clone()) <= 20.0),
        ),
        row(
            format!("(e) exec → healthz 200, {} projects", opts.projects),
            format!(
                "**{:.1} ms** ({})",
                median(ready_ms.clone()),
                fmt_list(&ready_ms, 1)
            ),
            "≤ 100 ms",
            Some(median(ready_ms.clone()) <= 100.0),
        ),
        row(
            "(f) idle RSS after start, empty store",
            format!("**{:.1} MiB**", mib(idle_empty_kib as f64)),
            "≤ 30 MB",
            Some(idle_empty_kib as f64 * 1024.0 <= 30e6),
        ),
        row(
            format!("(f) idle RSS after start, {} projects", opts.projects),
            format!("**{:.1} MiB**", mib(median(idle_big_kib.clone()))),
            "≤ 30 MB",
            Some(median(idle_big_kib.clone()) * 1024.0 <= 30e6),
        ),
        row(
            format!(
                "(f) peak RSS, {} conns of GetEditingProject",
                opts.rss_connections
            ),
            format!(
                "**{:.1} MiB** ({:.0} req/s)",
                mib(rss_peak_kib as f64),
                rss_run.rps()
            ),
            "≤ 200 MB",
            Some(rss_peak_kib as f64 * 1024.0 <= 200e6),
        ),
    ];
    match timeline_estimate() {
        Some((ms, frontend_ms, when)) => rows.push(row(
            "timeline: parse + Duration, 10,000 clips (criterion median)",
            format!("**{ms:.2} ms** (parse + to_frontend {frontend_ms:.2} ms; measured {when})"),
            "≤ 10 ms",
            Some(ms <= 10.0),
        )),
        None => rows.push(row(
            "timeline: parse + Duration, 10,000 clips",
            "not measured: run `cargo bench --bench timeline` first",
            "≤ 10 ms",
            None,
        )),
    }

    let args = if opts.shown_args.is_empty() {
        String::new()
    } else {
        format!(" -- {}", opts.shown_args.join(" "))
    };
    let other = OTHER_LOAD.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let other_mean = other.iter().sum::<f64>() / other.len().max(1) as f64;
    let other_max = other.iter().copied().fold(0.0, f64::max);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut section = format!(
        "Date: {} · machine: {cores} cores ({}), {} RAM · load average before / after: {load_before} / {load_after}\n\n\
         Command: `cargo build --release && cargo bench --bench load{args}` \
         (timeline row: `cargo bench --bench timeline`)\n\n",
        format_date(started_at),
        cpu_model(),
        mem_total(),
    );
    section.push_str(&table(&rows));
    section.push_str(&format!(
        "\nRuns per figure: {} × {:.1} s (after {:.1} s warm-up), median reported, per-run values in brackets. \
         Client: {n} keep-alive connections in one 2-thread tokio runtime, each request signed afresh \
         ({signing_us:.1} µs of client CPU per signature). After the Get/Create rounds: RSS {:.1} MiB, \
         SQLite WAL {small_wal_mib:.0} MiB. Seeding {} projects took {:.1} s ({db_mib:.0} MiB database; not measured). \
         Other processes on the machine used {:.2} cores on average during the measured runs (most in one run: {:.2}).\n",
        opts.runs,
        opts.duration.as_secs_f64(),
        opts.warmup.as_secs_f64(),
        mib(rss_after_kib as f64),
        opts.projects,
        seed_time.as_secs_f64(),
        other_mean,
        other_max,
    ));
    if !problems.is_empty() {
        section.push_str("\nProblems during the run:\n\n");
        for p in &problems {
            section.push_str(&format!("* {p}\n"));
        }
    }
    println!("\n{section}");
    if opts.write_doc {
        write_doc(&section);
    }
}
