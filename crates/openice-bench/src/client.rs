//! The bench's HTTP client: the SDK's request signer and one closed-loop driver that every
//! scenario (the floor included) runs through, parameterised by a request maker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use openice::domain::new_id;
use openice::protocol::sign::{
    V3Authorization, V3Input, percent_encode, sha256_hex, v3_signature, v3_string_to_sign,
};
use time::OffsetDateTime;

use crate::BenchResult;

const API_VERSION: &str = "2020-11-09";
/// What the Python SDK sends as its user agent (signed in V3).
const USER_AGENT: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
/// Per-request bound on top of the run's time bound: a stuck server cannot hang the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An access key the client signs with.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
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
    // The same format the server answers times in.
    openice::domain::format_time(t.unix_timestamp() * 1_000_000)
}

/// `[("Name", value), …]` as owned pairs.
pub fn pairs(p: &[(&str, String)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// A V3-signed POST, freshly dated and with a fresh nonce, as the official SDK sends it:
/// `query` in the URL, `form` in an `application/x-www-form-urlencoded` body. Signing is
/// deliberately done per request, so its cost is part of the client's, as for a real caller.
pub fn signed(
    host: &str,
    key: &Key,
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
        access_key_id: key.id.clone(),
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
    let signature = v3_signature(&key.secret, &canonical.string_to_sign);
    let authorization = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
        key.id,
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

/// Client CPU per signature (µs), measured alone on this thread, for reading the ratios.
pub fn signing_cost_us() -> f64 {
    let key = Key {
        id: "LTAIsigningcost000000001".into(),
        secret: "signingCostSecret0123456789".into(),
    };
    let n = 20_000u32;
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(signed(
            "127.0.0.1:1",
            &key,
            "GetEditingProject",
            pairs(&[("ProjectId", format!("{i:032x}"))]),
            Vec::new(),
        ));
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect {addr}: timed out"))?
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

/// Sends one request and reads the whole answer: `(status, body)`.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(REQUEST_TIMEOUT, async {
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
    })
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

/// `load.connections` keep-alive connections, each sending its next request as soon as the
/// previous answer is read, for `warmup + measure` (or until `max_requests` are sent); only
/// answers completed after the warm-up count. A broken connection is replaced and the
/// failure counted, so one bad answer does not end a run.
pub async fn closed_loop(
    addr: SocketAddr,
    load: Load,
    make: MakeRequest,
) -> BenchResult<RunResult> {
    let counter = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        senders.push(connect(addr).await?);
    }
    let begin = Instant::now();
    let measure_from = begin + load.warmup;
    let end = measure_from + load.measure;
    let mut tasks = Vec::with_capacity(load.connections);
    for mut sender in senders {
        let make = Arc::clone(&make);
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            let mut r = RunResult::default();
            while Instant::now() < end {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= load.max_requests {
                    break;
                }
                let req = make(n);
                let started = Instant::now();
                let outcome = exchange(&mut sender, req).await;
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
    total.sent = counter.load(Ordering::Relaxed).min(load.max_requests);
    Ok(total)
}
