//! Robustness harnesses against the real binary, on every backend (see `tests/common`):
//!
//! * `crash`: concurrent writers create, update and delete projects and record every
//!   answer; the server is killed with SIGKILL at random moments; after each restart every
//!   acknowledged write is there with its last acknowledged content, writes that were in
//!   flight at the kill are either wholly there or wholly absent, and nothing else exists.
//! * `fuzz_live`: random and mutated requests, signed and unsigned, over raw sockets: no 5xx,
//!   well-formed error bodies, no panic in the server's log, healthy at the end.
//! * `overload`: 2,000 concurrent connections against `--max-in-flight 64`: every answer is
//!   a 200 or a JSON 503 `ServiceUnavailable`, no connection goes unanswered, the server is
//!   healthy afterwards; and `--quota GetEditingProject=5` answers `Throttling.User`.
//! * `soak`: mixed load; resident memory and open descriptors after a warm-up compared with
//!   the end.
//!
//! Short forms run in CI (a few minutes for both backends); `OPENICE_HARNESS=long` runs the
//! long forms (≥ 100,000 fuzzed requests, a 10-minute soak, 200 kills per backend). Each
//! test prints one `HARNESS …` summary line (visible with `--nocapture`) and appends it to
//! `$OPENICE_HARNESS_REPORT` when set, and to `harness-summary.txt` in Cargo's test tmpdir.
//! `OPENICE_HARNESS_SEED=N` replays a run's random choices (the seed is in the summary);
//! `OPENICE_HARNESS_BACKEND=sqlite|postgres` runs one backend only.
//!
//! The harnesses raise the open-files limit of the test process (and so of the servers it
//! starts, which inherit it) and run one at a time: they measure load on a small machine.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// Shared machinery
// ---------------------------------------------------------------------------------------

/// The harnesses run one after another.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn long_form() -> bool {
    std::env::var("OPENICE_HARNESS").is_ok_and(|v| v.trim().eq_ignore_ascii_case("long"))
}

fn form_name() -> &'static str {
    if long_form() { "long" } else { "short" }
}

/// The run's random seed: `OPENICE_HARNESS_SEED`, else the clock.
fn seed() -> u64 {
    std::env::var("OPENICE_HARNESS_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// [`for_each_backend`], limited to `OPENICE_HARNESS_BACKEND` (`sqlite` or `postgres`) when
/// set: the long forms take a while per backend.
async fn each_backend<F, Fut>(mut f: F)
where
    F: FnMut(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let only = std::env::var("OPENICE_HARNESS_BACKEND").unwrap_or_default();
    for b in backends() {
        if !only.trim().is_empty() && !format!("{b:?}").eq_ignore_ascii_case(only.trim()) {
            continue;
        }
        eprintln!("=== backend: {b:?}");
        f(b).await;
    }
}

/// Raises the open-files limit to 65,536: the hard limit where that is permitted, the soft
/// one up to the hard one in any case. Servers started afterwards inherit it. Returns the
/// soft limit in force.
fn raise_fd_limit() -> u64 {
    use rlimit::Resource;
    static ONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        const WANT: u64 = 65536;
        if let Ok((soft, hard)) = Resource::NOFILE.get()
            && hard < WANT
            && Resource::NOFILE.set(soft.max(WANT), WANT).is_err()
        {
            // Not privileged: the soft limit can still go up to the hard one.
        }
        let _ = rlimit::increase_nofile_limit(WANT);
        Resource::NOFILE.get_soft().unwrap_or(0)
    })
}

/// Prints the summary line and keeps it where the docs can pick it up.
fn report(line: &str) {
    let line = format!("HARNESS {line}");
    eprintln!("{line}");
    let mut paths =
        vec![std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("harness-summary.txt")];
    if let Ok(p) = std::env::var("OPENICE_HARNESS_REPORT")
        && !p.trim().is_empty()
    {
        paths.push(p.into());
    }
    for path in paths {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// SplitMix64: small, seedable, good enough to pick operations and moments.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// CPU seconds (user + system) a process has used; `self` for the test process.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Open file descriptors of a process.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// The lines of the server's stderr that report a panic.
fn panic_lines(s: &Server) -> Vec<String> {
    s.logs()
        .lines()
        .filter(|l| l.contains("panicked"))
        .map(str::to_string)
        .collect()
}

/// An answer read through reqwest.
#[derive(Debug)]
struct Answer {
    status: u16,
    text: String,
    json: Value,
    request_id: Option<String>,
}

fn http_client() -> reqwest::Client {
    http_client_builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Sends a signed request; `Err` when no answer came back.
async fn send(client: &reqwest::Client, port: u16, s: &Signed) -> Result<Answer, reqwest::Error> {
    let url = format!("http://127.0.0.1:{port}{}", s.target);
    let method = reqwest::Method::from_bytes(s.method.as_bytes()).expect("method");
    let mut rb = client.request(method, url);
    for (k, v) in &s.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    let r = rb.body(s.body.clone()).send().await?;
    let status = r.status().as_u16();
    let request_id = r
        .headers()
        .get("x-acs-request-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let bytes = r.bytes().await?;
    Ok(Answer {
        status,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        request_id,
    })
}

fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        msg.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    msg
}

/// One response read off a raw socket.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Splits what came back on a connection into responses (1xx heads skipped; bodies by
/// `content-length`, else up to the end; none for answers to HEAD).
fn parse_answers(mut buf: &[u8], head_request: bool) -> Vec<RawAnswer> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let Some(status) = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok())
        else {
            break;
        };
        buf = &buf[end + 4..];
        if (100..200).contains(&status) {
            continue;
        }
        let mut answer = RawAnswer {
            status,
            head,
            body: Vec::new(),
        };
        let len = if head_request || status == 204 || status == 304 {
            Some(0)
        } else {
            answer
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
        };
        let take = len.unwrap_or(buf.len()).min(buf.len());
        answer.body = buf[..take].to_vec();
        buf = &buf[take..];
        out.push(answer);
    }
    out
}

enum Exchange {
    Answered(Vec<RawAnswer>),
    /// Connected, but no HTTP answer came back (the reason).
    Silent(String),
    ConnectFailed(String),
}

/// Writes `bytes` on a fresh connection and reads until the server closes it or `wait`
/// passes. `half_close` shuts our sending side after the bytes (for incomplete input).
async fn exchange(
    port: u16,
    bytes: &[u8],
    wait: Duration,
    half_close: bool,
    head_request: bool,
) -> Exchange {
    let stream = match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Exchange::ConnectFailed(e.to_string()),
        Err(_) => return Exchange::ConnectFailed("connect timed out".into()),
    };
    let (mut rd, mut wr) = stream.into_split();
    let write = async move {
        // The server may answer and close before everything is sent.
        let _ = wr.write_all(bytes).await;
        if half_close {
            let _ = wr.shutdown().await;
        }
        wr // dropping it would half-close the connection
    };
    let read = async move {
        let mut buf = Vec::new();
        let r = tokio::time::timeout(wait, rd.read_to_end(&mut buf)).await;
        let why = match r {
            Ok(Ok(_)) => "closed".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no close within {wait:?}"),
        };
        (buf, why)
    };
    let (_wr, (buf, why)) = tokio::join!(write, read);
    let answers = parse_answers(&buf, head_request);
    if answers.is_empty() {
        Exchange::Silent(format!("{why}; {} bytes back", buf.len()))
    } else {
        Exchange::Answered(answers)
    }
}

fn shorten(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned();
    if bytes.len() > max {
        format!("{s}… ({} bytes)", bytes.len())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------
// Crash: SIGKILL at random moments while writers run
// ---------------------------------------------------------------------------------------

/// Everything a write sets; each write's values carry a token unique to it.
#[derive(Clone, Debug, PartialEq)]
struct Content {
    title: String,
    description: String,
    timeline: String,
    duration: f64,
}

impl Content {
    fn new(token: &str, n: u64) -> Content {
        let duration = 1.0 + (n % 64) as f64 / 4.0;
        Content {
            title: format!("t {token} «crash»"),
            description: format!("d {token}"),
            timeline: format!(
                r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaURL":"https://example.com/{token}.mp4","In":0,"Out":{duration}}}]}}]}}"#
            ),
            duration,
        }
    }

    /// From a SearchEditingProject item or a GetEditingProject `Project`.
    fn of(p: &Value) -> Content {
        Content {
            title: p["Title"].as_str().unwrap_or("<none>").to_string(),
            description: p["Description"].as_str().unwrap_or("<none>").to_string(),
            timeline: p["Timeline"].as_str().unwrap_or("<none>").to_string(),
            duration: p["Duration"].as_f64().unwrap_or(f64::NAN),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Present(Content),
    Deleted,
}

struct Tracked {
    writer: usize,
    /// The last acknowledged state.
    acked: State,
    /// What an unanswered write (in flight at the kill) would have made of it.
    pending: Option<State>,
}

#[derive(Default)]
struct CrashModel {
    projects: BTreeMap<String, Tracked>,
    /// Creates that got no answer: they may or may not exist after the restart.
    unknown_creates: Vec<Content>,
    /// Batch deletes that got no answer: all of their projects or none are deleted.
    unknown_batches: Vec<Vec<String>>,
    acked: u64,
    /// Refused connections (server down): certainly not applied.
    failed: u64,
    unknown: u64,
    unknown_applied: u64,
    unknown_not_applied: u64,
    /// Non-200 answers to writes (none are expected).
    bad_answers: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
enum WriteOp {
    Create,
    Update,
    Delete,
    DeleteBatch,
}

/// One writer until `stop` or the first request without an answer.
async fn crash_writer(
    w: usize,
    round: usize,
    seed: u64,
    port: u16,
    key: Key,
    model: Arc<Mutex<CrashModel>>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = Rng::new(seed);
    let client = http_client();
    let host = format!("127.0.0.1:{port}");
    let mut owned: Vec<String> = model
        .lock()
        .unwrap()
        .projects
        .iter()
        .filter(|(_, t)| t.writer == w && matches!(t.acked, State::Present(_)))
        .map(|(id, _)| id.clone())
        .collect();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let token = format!("k{round}-w{w}-o{n}-{:x}", rng.next_u64() & 0xffff);
        let r = rng.below(100);
        let op = if owned.len() < 3 || r < 35 {
            WriteOp::Create
        } else if r < 75 {
            WriteOp::Update
        } else if r < 90 || owned.len() < 4 {
            WriteOp::Delete
        } else {
            WriteOp::DeleteBatch
        };
        let content = Content::new(&token, n);
        let (targets, call) = match op {
            WriteOp::Create => (
                Vec::new(),
                Call::new(
                    "CreateEditingProject",
                    &[
                        ("Title", &content.title),
                        ("Description", &content.description),
                        ("Timeline", &content.timeline),
                    ],
                    &key,
                ),
            ),
            WriteOp::Update => {
                let id = owned[rng.below(owned.len())].clone();
                let call = Call::new(
                    "UpdateEditingProject",
                    &[
                        ("ProjectId", &id),
                        ("Title", &content.title),
                        ("Description", &content.description),
                        ("Timeline", &content.timeline),
                    ],
                    &key,
                );
                (vec![id], call)
            }
            WriteOp::Delete | WriteOp::DeleteBatch => {
                let count = if matches!(op, WriteOp::Delete) {
                    1
                } else {
                    2 + rng.below(3)
                };
                let mut ids = Vec::new();
                while ids.len() < count.min(owned.len()) {
                    let id = owned[rng.below(owned.len())].clone();
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                let call = Call::new(
                    "DeleteEditingProjects",
                    &[("ProjectIds", &ids.join(","))],
                    &key,
                );
                (ids, call)
            }
        };
        let signed = if rng.chance(0.25) {
            call.sign_v2(&host)
        } else {
            call.sign_v3(&host)
        };
        let outcome = send(&client, port, &signed).await;
        let mut m = model.lock().unwrap();
        match outcome {
            Ok(a) if a.status == 200 => {
                m.acked += 1;
                match op {
                    WriteOp::Create => {
                        let id = a.json["Project"]["ProjectId"]
                            .as_str()
                            .unwrap_or_else(|| panic!("no ProjectId in {}", a.text))
                            .to_string();
                        owned.push(id.clone());
                        m.projects.insert(
                            id,
                            Tracked {
                                writer: w,
                                acked: State::Present(content),
                                pending: None,
                            },
                        );
                    }
                    WriteOp::Update => {
                        m.projects.get_mut(&targets[0]).expect("tracked").acked =
                            State::Present(content);
                    }
                    WriteOp::Delete | WriteOp::DeleteBatch => {
                        for id in &targets {
                            m.projects.get_mut(id).expect("tracked").acked = State::Deleted;
                        }
                        owned.retain(|id| !targets.contains(id));
                    }
                }
            }
            Ok(a) => {
                // No write is expected to fail; a 5xx might even have been applied.
                m.bad_answers
                    .push(format!("{op:?} {targets:?}: {} {}", a.status, a.text));
                return;
            }
            Err(e) if e.is_connect() => {
                m.failed += 1;
                return;
            }
            Err(_) => {
                m.unknown += 1;
                match op {
                    WriteOp::Create => m.unknown_creates.push(content),
                    WriteOp::Update => {
                        m.projects.get_mut(&targets[0]).expect("tracked").pending =
                            Some(State::Present(content));
                    }
                    WriteOp::Delete | WriteOp::DeleteBatch => {
                        for id in &targets {
                            m.projects.get_mut(id).expect("tracked").pending = Some(State::Deleted);
                        }
                        if targets.len() > 1 {
                            m.unknown_batches.push(targets.clone());
                        }
                    }
                }
                return;
            }
        }
    }
}

/// Every project of the default account, by ID, read through SearchEditingProject pages.
async fn all_projects(s: &Server) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut page_no = 1;
    loop {
        let page = s
            .ok(
                "SearchEditingProject",
                &[("PageSize", "100"), ("PageNo", &page_no.to_string())],
            )
            .await;
        let items = page["ProjectList"].as_array().cloned().unwrap_or_default();
        let total = page["TotalCount"].as_u64().expect("TotalCount") as usize;
        for p in &items {
            let id = p["ProjectId"].as_str().expect("ProjectId").to_string();
            assert!(
                out.insert(id.clone(), p.clone()).is_none(),
                "{id} listed twice"
            );
        }
        if items.is_empty() || out.len() >= total {
            assert_eq!(out.len(), total, "listed projects vs TotalCount");
            return out;
        }
        page_no += 1;
    }
}

/// Checks the store against the model after a restart and settles what was unknown.
/// Returns the violations found.
async fn crash_verify(s: &Server, model: &Mutex<CrashModel>, rng: &mut Rng) -> Vec<String> {
    let listed = all_projects(s).await;
    let mut violations = Vec::new();
    let sample = settle_model(&mut model.lock().unwrap(), &listed, &mut violations, rng);
    let key = s.key();
    for (id, want) in sample {
        let r = s
            .call("GetEditingProject", &[("ProjectId", &id)], &key)
            .await;
        if r.status != 200 || Content::of(&r.json["Project"]) != want {
            violations.push(format!(
                "GetEditingProject {id}: want {want:?}, got {} {}",
                r.status, r.text
            ));
        }
    }
    violations
}

/// Compares the listing with the model, records violations, adopts what in-flight writes
/// did; returns a sample of live projects to read back one by one.
fn settle_model(
    m: &mut CrashModel,
    listed: &BTreeMap<String, Value>,
    violations: &mut Vec<String>,
    rng: &mut Rng,
) -> Vec<(String, Content)> {
    let mut applied_ids = BTreeSet::new();
    // Outcomes are counted per write: a batch delete once, below.
    let in_batches: BTreeSet<String> = m.unknown_batches.iter().flatten().cloned().collect();
    for (id, t) in m.projects.iter_mut() {
        let counted = !in_batches.contains(id);
        let found = listed
            .get(id)
            .map_or(State::Deleted, |p| State::Present(Content::of(p)));
        let pending = t.pending.take();
        if found == t.acked {
            if pending.is_some() && counted {
                m.unknown_not_applied += 1;
            }
        } else if pending.as_ref() == Some(&found) {
            m.unknown_applied += u64::from(counted);
            applied_ids.insert(id.clone());
            t.acked = found;
        } else {
            violations.push(format!(
                "project {id}: last acknowledged {:?}, in flight {:?}, found {:?}",
                t.acked, pending, found
            ));
        }
    }
    for batch in std::mem::take(&mut m.unknown_batches) {
        let applied = batch.iter().filter(|id| applied_ids.contains(*id)).count();
        if applied == 0 {
            m.unknown_not_applied += 1;
        } else {
            m.unknown_applied += 1;
        }
        if applied != 0 && applied != batch.len() {
            violations.push(format!(
                "DeleteEditingProjects {batch:?} in flight at the kill is half-applied ({applied} \
                of {} deleted)",
                batch.len()
            ));
        }
    }
    let creates = std::mem::take(&mut m.unknown_creates);
    for (id, p) in listed {
        if m.projects.contains_key(id) {
            continue;
        }
        let found = Content::of(p);
        match creates.iter().position(|c| *c == found) {
            Some(_) => {
                // A create in flight at the kill that made it: it must stay from now on.
                m.unknown_applied += 1;
                let writer = found
                    .title
                    .split('-')
                    .nth(1)
                    .and_then(|w| w.strip_prefix('w'))
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(usize::MAX);
                m.projects.insert(
                    id.clone(),
                    Tracked {
                        writer,
                        acked: State::Present(found),
                        pending: None,
                    },
                );
            }
            None => violations.push(format!(
                "project {id} exists but no write made it (or it is half-applied): {p}"
            )),
        }
    }
    m.unknown_not_applied += creates
        .iter()
        .filter(|c| !listed.values().any(|p| Content::of(p) == **c))
        .count() as u64;
    // GetEditingProject agrees with the listing, for a sample of the live projects.
    let live: Vec<(String, Content)> = m
        .projects
        .iter()
        .filter_map(|(id, t)| match &t.acked {
            State::Present(c) => Some((id.clone(), c.clone())),
            State::Deleted => None,
        })
        .collect();
    (0..live.len().min(20))
        .map(|_| live[rng.below(live.len())].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash() {
    let _serial = SERIAL.lock().await;
    raise_fd_limit();
    let kills = if long_form() { 200 } else { 20 };
    let writers = 6;
    each_backend(|b| async move {
        let started = Instant::now();
        let seed = seed();
        let mut rng = Rng::new(seed);
        let s = spawn_server(b).await;
        let key = s.key();
        let model = Arc::new(Mutex::new(CrashModel::default()));
        let mut survived = 0;
        for round in 0..kills {
            let stop = Arc::new(AtomicBool::new(false));
            let mut tasks = tokio::task::JoinSet::new();
            for w in 0..writers {
                tasks.spawn(crash_writer(
                    w,
                    round,
                    rng.next_u64(),
                    s.port(),
                    key.clone(),
                    Arc::clone(&model),
                    Arc::clone(&stop),
                ));
            }
            // A random moment: mostly mid-stream, sometimes right at the start.
            let delay = if rng.chance(0.1) {
                rng.below(20)
            } else {
                20 + rng.below(480)
            };
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
            s.kill9();
            stop.store(true, Ordering::SeqCst);
            while let Some(done) = tasks.join_next().await {
                done.expect("writer task");
            }
            assert_eq!(s.healthz().await, None, "server still answers after SIGKILL");
            s.restart().await;
            let violations = crash_verify(&s, &model, &mut rng).await;
            let bad = model.lock().unwrap().bad_answers.clone();
            if !violations.is_empty() || !bad.is_empty() {
                let m = model.lock().unwrap();
                report(&format!(
                    "crash[{b:?}] {}: FAILED after kill {} (seed {seed}): {} violations, {} non-200 \
                    answers to writes; acked {} failed {} unknown {}",
                    form_name(),
                    round + 1,
                    violations.len(),
                    bad.len(),
                    m.acked,
                    m.failed,
                    m.unknown
                ));
                panic!(
                    "after SIGKILL #{} ({b:?}, seed {seed}):\n{}\n{}",
                    round + 1,
                    violations.join("\n"),
                    bad.join("\n")
                );
            }
            survived += 1;
        }
        // A clean stop and start changes nothing either.
        s.restart().await;
        let violations = crash_verify(&s, &model, &mut rng).await;
        assert!(violations.is_empty(), "after SIGTERM: {}", violations.join("\n"));
        let panics = panic_lines(&s);
        assert!(panics.is_empty(), "the server panicked:\n{}", panics.join("\n"));
        let m = model.lock().unwrap();
        let live = m
            .projects
            .values()
            .filter(|t| matches!(t.acked, State::Present(_)))
            .count();
        report(&format!(
            "crash[{b:?}] {}: kills={kills} survived={survived} writers={writers} \
            acked_writes={} refused={} in_flight_at_kill={} (applied {}, not applied {}) \
            projects_tracked={} live={live} lost=0 half_applied=0 5xx=0 seed={seed} in \
            {:.1}s",
            form_name(),
            m.acked,
            m.failed,
            m.unknown,
            m.unknown_applied,
            m.unknown_not_applied,
            m.projects.len(),
            started.elapsed().as_secs_f64()
        ));
        assert_eq!(survived, kills);
        assert!(m.acked > 0, "no write was acknowledged");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Fuzz: random and mutated requests against a running server
// ---------------------------------------------------------------------------------------

const EXTRA_ACTIONS: &[&str] = &[
    "NoSuchAction",
    "",
    "createeditingproject",
    "Get EditingProject",
];

const PARAMS: &[&str] = &[
    "AdditionType",
    "AppendTags",
    "AuthTimeout",
    "BusinessConfig",
    "BusinessStatus",
    "BusinessType",
    "CateId",
    "CateName",
    "Category",
    "ClientToken",
    "ClipsParam",
    "Config",
    "CoverURL",
    "CoverUrl",
    "CreateSource",
    "DeletePhysicalFiles",
    "Description",
    "EndTime",
    "IncludeFileBasicInfo",
    "InputURL",
    "InputURLs",
    "Keyword",
    "Match",
    "MaterialIds",
    "MaterialMaps",
    "MaterialType",
    "MaxResults",
    "MediaId",
    "MediaIds",
    "MediaTags",
    "MediaType",
    "Name",
    "NextToken",
    "Overwrite",
    "PageNo",
    "PageSize",
    "ParentId",
    "PreviewMedia",
    "ProjectId",
    "ProjectIds",
    "ProjectType",
    "ReferenceId",
    "RegisterConfig",
    "RelatedMediaidFlag",
    "RequestSource",
    "SortBy",
    "SortType",
    "Source",
    "StartTime",
    "Status",
    "TemplateId",
    "TemplateIds",
    "TemplateType",
    "Timeline",
    "Title",
    "Type",
    "UserData",
    "Action",
    "Version",
    "Signature",
    "SecurityToken",
    "RegionId",
];

const SPECIAL_VALUES: &[&str] = &[
    "true",
    "False",
    "CreationTime:Asc",
    "CreationTime:Desc",
    "utcCreate:Asc",
    "Draft,Editing,Bogus",
    "2021-01-08T16:52:07Z",
    "9999-99-99T99:99:99Z",
    "null",
    "{}",
    "[]",
    "1e308",
    "-1e308",
    "NaN",
    "-1",
    "0",
    "2147483648",
    "9223372036854775808",
    "%00%ff",
    "\u{0}\u{1}\u{7f}",
    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"m","In":-1,"Out":1e300}]}]}"#,
    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"x","In":5,"Out":2,"Speed":0}]}]}"#,
    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"https://e.com/a.mp4","In":0,"Out":3}]}]}"#,
    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"$Video1","In":0,"Out":5}]}],"AudioTracks":[{"AudioTrackClips":[{"MediaURL":"$Audio1"}]}]}"#,
    r#"{"VideoTracks":"nope","MaxDuration":"abc"}"#,
    r#"{"AudioTracks":[{"MainTrack":"maybe","AudioTrackClips":[null,1,"x",{}]}]}"#,
    r#"{"OutputMediaConfig":{"StorageLocation":"b.oss-cn-shanghai.aliyuncs.com"}}"#,
    r#"{"Video1":"oss://fuzz-bucket/a.mp4","Audio1":"https://e.com/a.mp3"}"#,
    r#"{"video":"m1,m2","audio":"m3","image":""}"#,
    r#"{"NeedSnapshot":true,"SpriteSnapshotConfig":{}}"#,
    r#"{"LiveConfig":{"StreamName":"s","AppName":"a"}}"#,
    "oss://fuzz-bucket/a.mp4",
    "oss://fuzz-bucket/../escape",
    "oss://fuzz-bucket/./a",
    "oss:///nokey",
    "oss://",
    "https://fuzz-bucket.oss-cn-shanghai.aliyuncs.com/a.mp4?x=1",
    "https://fuzz-bucket.oss-cn-shanghai-internal.aliyuncs.com/dir//a.mp4",
    "http://127.0.0.1:1/x.mp4",
    "file:///etc/passwd",
    "Timeline",
    "VETemplate",
    "LiveEditingProject",
    "EditingProject",
    "OpenAPI",
    "WebSDK",
    "video",
    "audio",
    "image",
    "Available",
    "Normal",
    "Init",
];

impl Rng {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[usize]) -> usize {
        let mut r = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }

    /// Any character, ASCII most of the time: controls, Latin, CJK, astral, odd ones.
    fn char(&mut self) -> char {
        let c = match self.weighted(&[60, 8, 12, 8, 8, 4]) {
            0 => 0x20 + self.below(0x5f) as u32,
            1 => *self.pick(&[0u32, 1, 9, 10, 13, 0x1b, 0x7f]),
            2 => 0x80 + self.below(0x780) as u32,
            3 => 0x3000 + self.below(0x6000) as u32,
            4 => 0x10000 + self.below(0xF_0000) as u32,
            _ => *self.pick(&[0xFEFFu32, 0xFFFD, 0x2028, 0x85, 0x200B, 0xD7FF, 0xE000]),
        };
        char::from_u32(c).unwrap_or('\u{FFFD}')
    }

    fn string(&mut self, max: usize) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| self.char()).collect()
    }

    /// `n ≤ max` characters from `alphabet`.
    fn text_from(&mut self, alphabet: &[u8], max: usize) -> String {
        let n = self.below(max + 1);
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const VISIBLE: &[u8] = b" !\"#$%&'()*+,-./0123456789:;<=>?@\
    ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
const TARGET_CHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~!$&'()*+,;=:@/?%-";
const FORM_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%&=+";

/// A parameter value: any text, numbers, the values that mean something, the IDs that exist.
fn random_value(rng: &mut Rng, ids: &[String]) -> String {
    match rng.weighted(&[3, 2, 1, 1, 3, 3, 1, 1, 1]) {
        0 => rng.string(40),
        1 => rng.text_from(VISIBLE, 40),
        2 => {
            let mut n = if rng.chance(0.3) {
                "-".to_string()
            } else {
                String::new()
            };
            n.push_str(&rng.text_from(b"0123456789", 25));
            n.push(*rng.pick(&['0', '7', '9']));
            if rng.chance(0.3) {
                n.push('.');
                n.push_str(&rng.text_from(b"0123456789", 3));
            }
            n
        }
        3 => String::new(),
        4 => rng.pick(SPECIAL_VALUES).to_string(),
        5 => rng.pick(ids).clone(),
        6 => format!("{},{}", rng.pick(ids), rng.pick(ids)),
        7 => format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":{:?}}}]}}]}}"#,
            rng.string(20)
        ),
        _ => "x".repeat(1 + rng.below(6000)),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Damage to the signed bytes (the variants the protocol fuzzer uses too).
    Bytes(ByteMutation),
    /// A query parameter sent twice.
    Duplicate(usize),
    /// Signed this many minutes off the clock.
    Skewed(i64),
    WrongSecret,
    UnknownKey,
    SecurityToken,
    /// The content-type replaced after signing.
    ContentType(String),
    /// A body of this many bytes (over the limit past 64 KiB).
    BigBody(usize),
    /// The signature's last character changed.
    Signature,
}

/// Bytes HTTP allows in a header value.
fn header_bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    let n = rng.below(max + 1);
    (0..n)
        .map(|_| match rng.weighted(&[8, 2, 1]) {
            0 => 0x20 + rng.below(0x5f) as u8,
            1 => 0x80 + rng.below(0x80) as u8,
            _ => b'\t',
        })
        .collect()
}

fn random_mutation(rng: &mut Rng) -> Mutation {
    let big = rng.next_u64() as usize;
    match rng.weighted(&[12, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) {
        0 => Mutation::Bytes(ByteMutation::None),
        1 => Mutation::Bytes(ByteMutation::QueryBytes(rng.bytes(64))),
        2 => Mutation::Bytes(ByteMutation::QueryText(rng.text_from(TARGET_CHARS, 80))),
        3 => Mutation::Bytes(ByteMutation::Body(rng.bytes(256))),
        4 => Mutation::Bytes(ByteMutation::Header(big, header_bytes(rng, 80))),
        5 => Mutation::Bytes(ByteMutation::Flip(big, rng.next_u64() as u8)),
        6 => Mutation::Bytes(ByteMutation::Truncate(big)),
        7 => Mutation::Bytes(ByteMutation::DropHeader(big)),
        8 => Mutation::Duplicate(big),
        9 => Mutation::Skewed(*rng.pick(&[-16i64, 16, -60 * 24, 60 * 24 * 365 * 100])),
        10 => Mutation::WrongSecret,
        11 => Mutation::UnknownKey,
        12 => Mutation::SecurityToken,
        13 => Mutation::ContentType(match rng.below(4) {
            0 => "application/json".into(),
            1 => "text/plain".into(),
            2 => "multipart/form-data; boundary=x".into(),
            _ => rng.text_from(VISIBLE, 30),
        }),
        14 => Mutation::BigBody(if rng.chance(0.5) {
            60_000 + rng.below(5_536)
        } else {
            65_537 + rng.below(35_000)
        }),
        _ => Mutation::Signature,
    }
}

#[derive(Debug, Clone)]
struct SignedCase {
    action: String,
    params: Vec<(String, String)>,
    v2: bool,
    method: &'static str,
    mutation: Mutation,
}

fn random_signed_case(rng: &mut Rng, ids: &[String]) -> SignedCase {
    let actions = openice::actions::ACTIONS;
    let action = if rng.chance(0.05) {
        rng.pick(EXTRA_ACTIONS).to_string()
    } else {
        rng.pick(actions).to_string()
    };
    let params = (0..rng.below(6))
        .map(|_| (rng.pick(PARAMS).to_string(), random_value(rng, ids)))
        .collect();
    SignedCase {
        action,
        params,
        v2: rng.chance(0.5),
        method: ["POST", "GET", "PUT", "DELETE"][rng.weighted(&[8, 2, 1, 1])],
        mutation: random_mutation(rng),
    }
}

/// Requests nobody signed: any method, path, query, headers and body, framed correctly.
#[derive(Debug, Clone)]
struct UnsignedCase {
    method: String,
    target: String,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

const TARGETS: &[&str] = &[
    "/",
    "/?Action=GetEditingProject",
    "/healthz",
    "/metrics",
    "/oss/fuzz-bucket/a.mp4",
    "/oss/fuzz-bucket/a.mp4?Expires=9999999999&Signature=abc",
    "/oss/fuzz-bucket/a.mp4?Expires=x",
    "/oss/../etc/passwd",
    "/oss/fuzz-bucket/%2e%2e/x",
    "/oss/b",
    "/x",
    "//",
    "/?",
    "/?&&==",
    "/%ff",
    "*",
];

const HEADER_NAMES: &[&str] = &[
    "authorization",
    "content-type",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
    "host",
    "range",
    "accept-encoding",
    "expect",
    "upgrade",
    "te",
];

const HEADER_VALUES: &[&str] = &[
    "ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host,Signature=00",
    "ACS3-HMAC-SHA256",
    "ACS3-HMAC-SHA256 Credential=,SignedHeaders=;;;,Signature=",
    "Basic dXNlcjpwYXNz",
    "application/x-www-form-urlencoded",
    "bytes=0-10",
    "bytes=-1,5-",
    "100-continue",
    "websocket",
    "2020-11-09",
];

fn random_unsigned_case(rng: &mut Rng) -> UnsignedCase {
    let method = if rng.chance(0.8) {
        rng.pick(&[
            "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "FOO", "get",
        ])
        .to_string()
    } else {
        let mut m = rng.text_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 12);
        if m.is_empty() {
            m.push('X');
        }
        m
    };
    let target = match rng.weighted(&[3, 2, 1]) {
        0 => rng.pick(TARGETS).to_string(),
        1 => format!("/{}", rng.text_from(TARGET_CHARS, 80)),
        _ => format!("/?{}", rng.text_from(FORM_CHARS, 200)),
    };
    let headers = (0..rng.below(8))
        .map(|_| {
            let name = if rng.chance(0.75) {
                rng.pick(HEADER_NAMES).as_bytes().to_vec()
            } else {
                let mut n = rng.text_from(
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                    20,
                );
                if n.is_empty() {
                    n.push('x');
                }
                n.into_bytes()
            };
            let value = if rng.chance(0.67) {
                header_bytes(rng, 80)
            } else {
                rng.pick(HEADER_VALUES).as_bytes().to_vec()
            };
            (name, value)
        })
        .collect();
    let body = match rng.weighted(&[2, 1, 1]) {
        0 => Vec::new(),
        1 => rng.bytes(256),
        _ => rng.text_from(FORM_CHARS, 200).into_bytes(),
    };
    UnsignedCase {
        method,
        target,
        headers,
        body,
    }
}

#[derive(Debug, Clone)]
enum FuzzCase {
    Signed(SignedCase),
    /// A signed request from [`edge_sweep`].
    Sweep(SignedCase),
    Unsigned(UnsignedCase),
    /// Hand-made framing: chunked bodies, pipelining, HTTP/1.0, conflicting lengths.
    Framing(u8, SignedCase),
    /// Bytes that are not HTTP, alone or after a request line.
    Garbage(Vec<u8>, bool),
}

fn random_case(rng: &mut Rng, ids: &[String]) -> FuzzCase {
    match rng.weighted(&[70, 20, 6, 4]) {
        0 => FuzzCase::Signed(random_signed_case(rng, ids)),
        1 => FuzzCase::Unsigned(random_unsigned_case(rng)),
        2 => FuzzCase::Framing(rng.below(6) as u8, random_signed_case(rng, ids)),
        _ => {
            let mut g = rng.bytes(511);
            g.push(rng.next_u64() as u8);
            FuzzCase::Garbage(g, rng.chance(0.5))
        }
    }
}

/// What to send, and what may come back.
struct Built {
    /// What the case is, for failure messages.
    label: String,
    bytes: Vec<u8>,
    /// A well-framed request: an answer must come back.
    expect_answer: bool,
    half_close: bool,
    head_request: bool,
    kind: &'static str,
}

fn sign_case(case: &SignedCase, key: &Key, host: &str) -> Signed {
    let params: Vec<(&str, &str)> = case
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signing_key = match &case.mutation {
        Mutation::WrongSecret => Key::new(&key.id, "not-the-secret"),
        Mutation::UnknownKey => Key::random(),
        _ => key.clone(),
    };
    let mut call = Call::new(&case.action, &params, &signing_key).method(case.method);
    if let Mutation::Skewed(minutes) = case.mutation {
        call = call.at(time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes));
    }
    let token = matches!(case.mutation, Mutation::SecurityToken);
    match (case.v2, token) {
        (true, true) => call.sign_v2_edit(host, |q| {
            q.push(("SecurityToken".into(), "sts-token".into()))
        }),
        (true, false) => call.sign_v2(host),
        (false, true) => call.sign_v3_edit(host, |h| {
            h.push(("x-acs-security-token".into(), "sts-token".into()))
        }),
        (false, false) => call.sign_v3(host),
    }
}

fn build_signed(case: &SignedCase, key: &Key, host: &str) -> Built {
    let s = sign_case(case, key, host);
    let mut parts = RawParts::of(&s);
    match &case.mutation {
        Mutation::Skewed(_)
        | Mutation::WrongSecret
        | Mutation::UnknownKey
        | Mutation::SecurityToken => {}
        Mutation::Bytes(m) => parts.apply(m),
        Mutation::Duplicate(i) => {
            let text = String::from_utf8_lossy(&parts.target).into_owned();
            if let Some((_, q)) = text.split_once('?') {
                let pairs: Vec<&str> = q.split('&').collect();
                let dup = pairs[i % pairs.len()];
                parts.target.extend_from_slice(format!("&{dup}").as_bytes());
            }
        }
        Mutation::ContentType(ct) => {
            parts
                .headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case(b"content-type"));
            parts
                .headers
                .push((b"content-type".to_vec(), ct.clone().into_bytes()));
        }
        Mutation::BigBody(n) => parts.body = vec![b'a'; *n],
        Mutation::Signature => {
            if let Some(h) = parts
                .headers
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(b"authorization"))
            {
                let last = h.1.last_mut().expect("signature");
                *last = if *last == b'0' { b'1' } else { b'0' };
            } else {
                // V2: the Signature parameter is last in the query.
                let last = parts.target.last_mut().expect("target");
                *last = if *last == b'A' { b'B' } else { b'A' };
            }
        }
    }
    let names: Vec<String> = case
        .params
        .iter()
        .map(|(k, v)| format!("{k}={:?}", v.chars().take(40).collect::<String>()))
        .collect();
    Built {
        label: format!(
            "{} {} {} [{}] {:?}",
            if case.v2 { "V2" } else { "V3" },
            case.method,
            case.action,
            names.join(" "),
            case.mutation
        )
        .chars()
        .take(400)
        .collect(),
        bytes: parts.bytes(&s.method),
        expect_answer: true,
        half_close: false,
        head_request: false,
        kind: "signed",
    }
}

fn build_framing(kind: u8, case: &SignedCase, key: &Key, host: &str) -> Built {
    let mut plain = case.clone();
    plain.mutation = Mutation::Bytes(ByteMutation::None);
    plain.method = "POST";
    let s = sign_case(&plain, key, host);
    let head = |extra: &str, version: &str, close: bool| {
        let mut h = format!("{} {} {version}\r\n", s.method, s.target);
        for (k, v) in &s.headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str(extra);
        if close {
            h.push_str("connection: close\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    };
    let chunked = |body: &[u8]| {
        let mut out = Vec::new();
        for piece in body.chunks(7) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    };
    let mut bytes;
    match kind {
        // A chunked body.
        0 => {
            bytes = head("transfer-encoding: chunked\r\n", "HTTP/1.1", true);
            bytes.extend(chunked(&s.body));
        }
        // Content-Length and Transfer-Encoding both (request smuggling shape).
        1 => {
            bytes = head(
                &format!(
                    "transfer-encoding: chunked\r\ncontent-length: {}\r\n",
                    s.body.len()
                ),
                "HTTP/1.1",
                true,
            );
            bytes.extend(chunked(&s.body));
        }
        // Expect: 100-continue.
        2 => {
            bytes = head(
                &format!(
                    "expect: 100-continue\r\ncontent-length: {}\r\n",
                    s.body.len()
                ),
                "HTTP/1.1",
                true,
            );
            bytes.extend_from_slice(&s.body);
        }
        // HTTP/1.0.
        3 => {
            bytes = head(
                &format!("content-length: {}\r\n", s.body.len()),
                "HTTP/1.0",
                false,
            );
            bytes.extend_from_slice(&s.body);
        }
        // Two requests pipelined on one connection (the second one a replay: same nonce).
        4 => {
            bytes = head(
                &format!("content-length: {}\r\n", s.body.len()),
                "HTTP/1.1",
                false,
            );
            bytes.extend_from_slice(&s.body);
            bytes.extend(head(
                &format!("content-length: {}\r\n", s.body.len()),
                "HTTP/1.1",
                true,
            ));
            bytes.extend_from_slice(&s.body);
        }
        // A bad chunk size.
        _ => {
            bytes = head("transfer-encoding: chunked\r\n", "HTTP/1.1", true);
            bytes.extend_from_slice(b"zz\r\nabc\r\n0\r\n\r\n");
        }
    }
    Built {
        label: format!("framing #{kind} {}", case.action),
        bytes,
        expect_answer: true,
        half_close: false,
        head_request: false,
        kind: "framing",
    }
}

fn build(case: &FuzzCase, key: &Key, host: &str) -> Built {
    match case {
        FuzzCase::Signed(c) => build_signed(c, key, host),
        FuzzCase::Sweep(c) => Built {
            kind: "edge_sweep",
            ..build_signed(c, key, host)
        },
        FuzzCase::Framing(k, c) => build_framing(*k, c, key, host),
        FuzzCase::Unsigned(u) => {
            let mut headers = vec![(b"host".to_vec(), host.as_bytes().to_vec())];
            headers.extend(u.headers.iter().cloned());
            // An `expect` or `upgrade` of our own choosing is fine; framing stays ours.
            headers.retain(|(k, _)| {
                !k.eq_ignore_ascii_case(b"transfer-encoding")
                    && !k.eq_ignore_ascii_case(b"content-length")
            });
            Built {
                label: format!("unsigned {} {}", u.method, u.target),
                bytes: raw_request(u.method.as_bytes(), u.target.as_bytes(), &headers, &u.body),
                expect_answer: true,
                half_close: false,
                head_request: u.method == "HEAD",
                kind: "unsigned",
            }
        }
        FuzzCase::Garbage(g, line) => {
            let mut bytes = if *line {
                b"POST / HTTP/1.1\r\n".to_vec()
            } else {
                Vec::new()
            };
            bytes.extend_from_slice(g);
            Built {
                label: "garbage".into(),
                bytes,
                expect_answer: false,
                half_close: true,
                head_request: false,
                kind: "garbage",
            }
        }
    }
}

#[derive(Default)]
struct FuzzStats {
    sent: u64,
    by_kind: BTreeMap<&'static str, u64>,
    statuses: BTreeMap<u16, u64>,
    /// Garbage that got no answer (allowed).
    silent_garbage: u64,
    failures: Vec<String>,
    failure_count: u64,
    five_xx: u64,
    /// 5xx answers to requests that carry a NUL byte somewhere.
    five_xx_with_nul: u64,
}

impl FuzzStats {
    fn fail(&mut self, why: String) {
        self.failure_count += 1;
        if self.failures.len() < 20 {
            self.failures.push(why);
        }
    }
}

/// Checks one exchange and counts it.
fn judge(stats: &mut FuzzStats, built: &Built, got: Exchange) {
    stats.sent += 1;
    *stats.by_kind.entry(built.kind).or_default() += 1;
    match got {
        Exchange::ConnectFailed(e) => stats.fail(format!("connect failed: {e}")),
        Exchange::Silent(why) => {
            if built.expect_answer {
                stats.fail(format!(
                    "{}: no answer ({why}) to {}",
                    built.label,
                    shorten(&built.bytes, 1500)
                ));
            } else {
                stats.silent_garbage += 1;
            }
        }
        Exchange::Answered(answers) => {
            for a in answers {
                *stats.statuses.entry(a.status).or_default() += 1;
                if a.status >= 500 {
                    stats.five_xx += 1;
                    // NUL in a parameter (`%00`) or body: the one known cause (PostgreSQL).
                    if built.bytes.windows(3).any(|w| w == b"%00") || built.bytes.contains(&0) {
                        stats.five_xx_with_nul += 1;
                    }
                    stats.fail(format!(
                        "{}: {} {} to {}",
                        built.label,
                        a.status,
                        shorten(&a.body, 500),
                        shorten(&built.bytes, 1500)
                    ));
                    continue;
                }
                // API answers carry the RequestId; their errors are the vendor's JSON shape.
                if let Some(rid) = a.header("x-acs-request-id")
                    && a.status != 200
                    && !built.head_request
                {
                    let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                    if !v["Code"].is_string()
                        || v["RequestId"].as_str() != Some(rid)
                        || !v["Message"].is_string()
                    {
                        stats.fail(format!(
                            "{}: malformed error body {} {} to {}",
                            built.label,
                            a.status,
                            shorten(&a.body, 500),
                            shorten(&built.bytes, 1500)
                        ));
                    }
                }
            }
        }
    }
}

/// Parameters that reach the store as text or IDs.
const SWEEP_PARAMS: &[&str] = &[
    "ProjectId",
    "ProjectIds",
    "MediaId",
    "MediaIds",
    "TemplateId",
    "TemplateIds",
    "Title",
    "Description",
    "CateName",
    "Name",
    "Keyword",
    "Match",
    "InputURL",
    "ReferenceId",
    "ClientToken",
];

/// Values that tend to break stores and parsers.
const SWEEP_VALUES: &[&str] = &[
    "a\u{0}b",
    "'; DROP TABLE editing_projects; --",
    "%_\\%",
    "\u{FEFF}\u{202E}\u{FFFF}",
    "9223372036854775808",
];

/// Every action with each of [`SWEEP_PARAMS`] set to each of [`SWEEP_VALUES`] (and to a
/// 10,000-character value), in both signatures: the same requests in every run.
fn edge_sweep() -> Vec<FuzzCase> {
    let long = "y".repeat(10_000);
    let mut values: Vec<&str> = SWEEP_VALUES.to_vec();
    values.push(&long);
    let mut out = Vec::new();
    for action in openice::actions::ACTIONS {
        for param in SWEEP_PARAMS {
            for value in &values {
                out.push(FuzzCase::Sweep(SignedCase {
                    action: action.to_string(),
                    params: vec![(param.to_string(), value.to_string())],
                    v2: out.len() % 2 == 1,
                    method: "POST",
                    mutation: Mutation::Bytes(ByteMutation::None),
                }));
            }
        }
    }
    out
}

/// Projects, a category and a template to aim IDs at.
async fn fuzz_targets(s: &Server) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..4 {
        let created = s
            .ok(
                "CreateEditingProject",
                &[
                    ("Title", &format!("fuzz {i}")),
                    ("Timeline", &timeline_of(2.5)),
                ],
            )
            .await;
        ids.push(project_id(&created));
    }
    let cat = s.ok("AddCategory", &[("CateName", "fuzz")]).await;
    if let Some(id) = cat["Category"]["CateId"].as_i64() {
        ids.push(id.to_string());
    }
    let t = s
        .ok(
            "AddTemplate",
            &[
                ("Name", "fuzz"),
                ("Type", "Timeline"),
                (
                    "Config",
                    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"$Video1","In":0,"Out":5}]}]}"#,
                ),
            ],
        )
        .await;
    if let Some(id) = t["Template"]["TemplateId"].as_str() {
        ids.push(id.to_string());
    }
    ids.push("0".into());
    ids.push("****d4e5f6".into());
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzz_live() {
    let _serial = SERIAL.lock().await;
    raise_fd_limit();
    let total: u64 = if long_form() { 100_000 } else { 20_000 };
    let workers: u64 = 8;
    each_backend(|b| async move {
        let started = Instant::now();
        let own_cpu_before = cpu_secs("self");
        let seed = seed();
        let mut options = ServerOptions::new(b);
        // A small body limit makes oversized bodies cheap to send.
        options.extra_args = vec!["--max-body-bytes".into(), "65536".into()];
        let s = options.spawn().await;
        let ids = fuzz_targets(&s).await;
        let (key, host, port) = (s.key(), s.host(), s.port());
        let stats = Arc::new(Mutex::new(FuzzStats::default()));
        let sweep = Arc::new(edge_sweep());
        let random = total - sweep.len() as u64;
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let (key, host, ids) = (key.clone(), host.clone(), ids.clone());
            let (stats, sweep) = (Arc::clone(&stats), Arc::clone(&sweep));
            let count = random / workers + u64::from(w < random % workers);
            tasks.spawn(async move {
                let mut rng = Rng::new(seed.wrapping_add(w.wrapping_mul(0x1000_0001)));
                let mine = sweep
                    .iter()
                    .skip(w as usize)
                    .step_by(workers as usize)
                    .cloned();
                let random = (0..count).map(|_| None);
                for planned in mine.map(Some).chain(random) {
                    let case = planned.unwrap_or_else(|| random_case(&mut rng, &ids));
                    let built = build(&case, &key, &host);
                    let wait = if built.expect_answer {
                        Duration::from_secs(20)
                    } else {
                        Duration::from_millis(300)
                    };
                    let got = exchange(
                        port,
                        &built.bytes,
                        wait,
                        built.half_close,
                        built.head_request,
                    )
                    .await;
                    judge(&mut stats.lock().unwrap(), &built, got);
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("fuzz worker");
        }
        let elapsed = started.elapsed().as_secs_f64();
        let server_cpu = cpu_secs(&s.pid().to_string());
        let own_cpu = cpu_secs("self") - own_cpu_before;
        let health = s.healthz().await;
        let alive = s.is_running();
        let after = s.call("SearchEditingProject", &[], &key).await;
        let panics = panic_lines(&s);
        let st = stats.lock().unwrap();
        let count = |lo: u16, hi: u16| -> u64 {
            st.statuses
                .iter()
                .filter(|(k, _)| (lo..hi).contains(*k))
                .map(|(_, v)| v)
                .sum()
        };
        report(&format!(
            "fuzz_live[{b:?}] {}: requests={} {:?} answers: 2xx={} 4xx={} 5xx={} \
            (to requests with a NUL byte: {}) silent_garbage={} failures={} panics={} \
            healthz={} seed={seed} in {elapsed:.1}s \
            ({:.0} req/s; CPU: server {server_cpu:.1}s, harness {own_cpu:.1}s)",
            form_name(),
            st.sent,
            st.by_kind,
            count(200, 300),
            count(400, 500),
            st.five_xx,
            st.five_xx_with_nul,
            st.silent_garbage,
            st.failure_count,
            panics.len(),
            health.map_or("none".to_string(), |h| h.to_string()),
            st.sent as f64 / elapsed,
        ));
        eprintln!("status counts: {:?}", st.statuses);
        assert!(
            st.failures.is_empty(),
            "{} failures (seed {seed}); first ones:\n{}",
            st.failure_count,
            st.failures.join("\n---\n")
        );
        assert!(
            panics.is_empty(),
            "the server panicked:\n{}",
            panics.join("\n")
        );
        assert!(alive, "the server exited");
        assert_eq!(health, Some(200), "healthz after the fuzz");
        after.ok();
        assert!(st.sent >= total);
        assert!(
            count(200, 300) > 0,
            "no request succeeded: {:?}",
            st.statuses
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Overload: 2,000 concurrent connections against a small in-flight limit; quotas
// ---------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct WaveStats {
    ok: u64,
    shed: u64,
    other: BTreeMap<u16, u64>,
    connect_failed: u64,
    unanswered: u64,
    bad_bodies: Vec<String>,
    /// 503s whose HostId is not the Host the client called (docs/errors.md).
    shed_without_host_id: u64,
    first_failure: Option<String>,
}

/// Opens `n` connections, waits until all are open, then sends one signed request on each
/// at once and reads every answer.
async fn wave(s: &Server, ids: &[String], n: usize) -> WaveStats {
    let (key, host, port) = (s.key(), s.host(), s.port());
    let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
    let stats = Arc::new(Mutex::new(WaveStats::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let call = if i % 2 == 0 {
            Call::new(
                "GetEditingProject",
                &[("ProjectId", &ids[i % ids.len()])],
                &key,
            )
        } else {
            Call::new("SearchEditingProject", &[("PageSize", "50")], &key)
        };
        let bytes = call.sign_v3(&host).raw_bytes();
        let (barrier, stats, host) = (Arc::clone(&barrier), Arc::clone(&stats), host.clone());
        tasks.spawn(async move {
            let stream = tokio::time::timeout(
                Duration::from_secs(30),
                tokio::net::TcpStream::connect(("127.0.0.1", port)),
            )
            .await;
            let Ok(Ok(stream)) = stream else {
                barrier.wait().await;
                let mut st = stats.lock().unwrap();
                st.connect_failed += 1;
                st.first_failure
                    .get_or_insert(format!("connect: {stream:?}"));
                return;
            };
            barrier.wait().await;
            let (mut rd, mut wr) = stream.into_split();
            let written = wr.write_all(&bytes).await;
            let mut buf = Vec::new();
            let read =
                tokio::time::timeout(Duration::from_secs(60), rd.read_to_end(&mut buf)).await;
            drop(wr);
            let answers = parse_answers(&buf, false);
            let mut st = stats.lock().unwrap();
            let Some(a) = answers.first() else {
                st.unanswered += 1;
                st.first_failure
                    .get_or_insert(format!("no answer: write {written:?}, read {read:?}"));
                return;
            };
            match a.status {
                200 => st.ok += 1,
                503 => {
                    st.shed += 1;
                    let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
                    let well_formed = v["Code"] == "ServiceUnavailable"
                        && v["Message"].as_str().is_some_and(|m| !m.is_empty())
                        && v["RequestId"].as_str().is_some()
                        && v["RequestId"].as_str() == a.header("x-acs-request-id")
                        && a.header("content-type")
                            .is_some_and(|c| c.starts_with("application/json"));
                    if !well_formed && st.bad_bodies.len() < 5 {
                        st.bad_bodies
                            .push(format!("{}\n{}", a.head, shorten(&a.body, 400)));
                    }
                    if v["HostId"].as_str() != Some(host.as_str()) {
                        st.shed_without_host_id += 1;
                    }
                }
                other => {
                    *st.other.entry(other).or_default() += 1;
                    st.first_failure
                        .get_or_insert(format!("{other}: {}", shorten(&a.body, 400)));
                }
            }
        });
    }
    barrier.wait().await;
    while let Some(done) = tasks.join_next().await {
        done.expect("connection task");
    }
    Arc::try_unwrap(stats)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default()
}

/// The sum of the samples of metric `name` whose labels contain `label` ("" for any).
async fn metric(s: &Server, name: &str, label: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", s.port()))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let values: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
                && l.contains(label)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// `n` concurrent GetEditingProject calls (V3 and V2) under `--quota GetEditingProject=5`:
/// a full bucket lets 5 through (plus what refills meanwhile), the rest are throttled with
/// the vendor's code and message. Returns (passed, throttled, seconds).
async fn quota_burst(s: &Arc<Server>, key: &Key, id: &str, n: usize) -> (usize, usize, f64) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (s, key, id) = (Arc::clone(s), key.clone(), id.to_string());
        tasks.spawn(async move {
            let call = Call::new("GetEditingProject", &[("ProjectId", &id)], &key);
            let signed = if i % 2 == 0 {
                call.sign_v3(&s.host())
            } else {
                call.sign_v2(&s.host())
            };
            s.send(&signed).await
        });
    }
    let (mut ok, mut throttled) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let r = r.expect("quota task");
        if r.status == 200 {
            ok += 1;
        } else {
            r.err(400, "Throttling.User");
            assert_eq!(r.message(), "Request was denied due to user flow control.");
            throttled += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // A bucket holds one second's worth (5) and refills at 5 per second.
    let most = (5 + (secs * 5.0).ceil() as usize).min(n);
    assert!(
        ok >= 5 && ok <= most,
        "{ok} of {n} passed in {secs:.2}s (quota 5/s)"
    );
    assert_eq!(ok + throttled, n);
    (ok, throttled, secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overload() {
    let _serial = SERIAL.lock().await;
    let limit = raise_fd_limit();
    let connections = 2000;
    let waves = if long_form() { 10 } else { 2 };
    assert!(
        limit >= 2 * connections as u64 + 256,
        "open-files limit {limit} is too small for {connections} connections"
    );
    each_backend(|b| async move {
        let started = Instant::now();
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--max-in-flight".into(), "64".into()];
        let s = options.spawn().await;
        let mut ids = Vec::new();
        for i in 0..20 {
            let created = s
                .ok(
                    "CreateEditingProject",
                    &[
                        ("Title", &format!("load {i}")),
                        ("Timeline", &timeline_of(3.0)),
                    ],
                )
                .await;
            ids.push(project_id(&created));
        }
        let mut totals = WaveStats::default();
        let mut peak_fds = 0;
        for _ in 0..waves {
            let pid = s.pid();
            let stop = Arc::new(AtomicBool::new(false));
            let sampler = {
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut peak = 0;
                    while !stop.load(Ordering::SeqCst) {
                        peak = peak.max(fd_count(pid));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    peak
                })
            };
            let wave_started = Instant::now();
            let w = wave(&s, &ids, connections).await;
            let wave_secs = wave_started.elapsed().as_secs_f64();
            stop.store(true, Ordering::SeqCst);
            peak_fds = peak_fds.max(sampler.await.expect("fd sampler"));
            eprintln!("wave in {wave_secs:.2}s");
            eprintln!("wave: {w:?}");
            totals.ok += w.ok;
            totals.shed += w.shed;
            totals.connect_failed += w.connect_failed;
            totals.unanswered += w.unanswered;
            totals.shed_without_host_id += w.shed_without_host_id;
            for (k, v) in w.other {
                *totals.other.entry(k).or_default() += v;
            }
            totals.bad_bodies.extend(w.bad_bodies);
            if totals.first_failure.is_none() {
                totals.first_failure = w.first_failure;
            }
            // Healthy right after each wave.
            assert_eq!(s.healthz().await, Some(200), "healthz after a wave");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let in_flight = metric(&s, "openice_in_flight_requests", "").await;
        let shed_counted = metric(&s, "openice_requests_total", "ServiceUnavailable").await;
        let ok_counted = metric(&s, "openice_requests_total", "code=\"OK\"").await;
        let alive = s.is_running();
        let after = s
            .call("GetEditingProject", &[("ProjectId", &ids[0])], &s.key())
            .await;
        let panics = panic_lines(&s);
        report(&format!(
            "overload[{b:?}] {}: connections={connections} x {waves} waves, --max-in-flight \
            64, open-files limit {limit}: server fds peak {peak_fds}, 200={} 503={} other={:?} unanswered={} \
            connect_failed={} malformed_503={} 503_without_HostId={} in /metrics: \
            OK={ok_counted:?} ServiceUnavailable={shed_counted:?}, in_flight_after={:?} \
            healthz=200 in {:.1}s",
            form_name(),
            totals.ok,
            totals.shed,
            totals.other,
            totals.unanswered,
            totals.connect_failed,
            totals.bad_bodies.len(),
            totals.shed_without_host_id,
            in_flight,
            started.elapsed().as_secs_f64()
        ));
        assert!(alive, "the server exited under load");
        assert!(
            panics.is_empty(),
            "the server panicked:\n{}",
            panics.join("\n")
        );
        assert_eq!(
            totals.connect_failed, 0,
            "connections refused: {:?}",
            totals.first_failure
        );
        assert_eq!(
            totals.unanswered, 0,
            "connections without an answer: {:?}",
            totals.first_failure
        );
        assert!(
            totals.other.is_empty(),
            "answers other than 200/503: {:?} {:?}",
            totals.other,
            totals.first_failure
        );
        assert!(
            totals.bad_bodies.is_empty(),
            "malformed 503 answers:\n{}",
            totals.bad_bodies.join("\n")
        );
        assert!(
            totals.shed > 0,
            "no request was shed: the load never exceeded the limit"
        );
        assert!(totals.ok > 0, "no request was served");
        assert_eq!(in_flight, Some(0.0), "in-flight gauge after the load");
        after.ok();
        drop(s);

        // Quotas: per account and action, Throttling.User over the limit.
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--quota".into(), "GetEditingProject=5".into()];
        let s = options.spawn().await;
        let key = s.key();
        let id = project_id(&s.ok("CreateEditingProject", &[("Title", "q")]).await);
        let s = Arc::new(s);
        let (ok, throttled, burst_secs) = quota_burst(&s, &key, &id, 20).await;
        // Other actions are not limited.
        for _ in 0..20 {
            s.ok("SearchEditingProject", &[]).await;
        }
        // Another account has its own bucket: full, although the first one is empty.
        let (_, other) = s.create_account("quota-b").await;
        let created = s
            .call("CreateEditingProject", &[("Title", "b")], &other)
            .await;
        let other_id = project_id(created.ok());
        quota_burst(&s, &other, &other_id, 12).await;
        // The bucket refills.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        s.ok("GetEditingProject", &[("ProjectId", &id)]).await;
        report(&format!(
            "overload[{b:?}] {}: --quota GetEditingProject=5: 20 concurrent calls -> {ok} x \
            200, {throttled} x 400 Throttling.User in {burst_secs:.2}s; other actions and \
            accounts unaffected; refilled after 1.1s",
            form_name()
        ));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Soak: mixed load; memory and descriptors after a warm-up against the end
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct SoakStats {
    requests: AtomicU64,
    signed: AtomicU64,
    five_xx: AtomicU64,
    transport_errors: AtomicU64,
    unexpected: Mutex<Vec<String>>,
}

impl SoakStats {
    fn unexpected(&self, what: String) {
        let mut u = self.unexpected.lock().unwrap();
        if u.len() < 20 {
            u.push(what);
        }
    }

    fn count(&self, a: &Result<Answer, reqwest::Error>, want: u16, what: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match a {
            Ok(a) => {
                if a.status >= 500 {
                    self.five_xx.fetch_add(1, Ordering::Relaxed);
                }
                if a.status != want {
                    self.unexpected(format!("{what}: want {want}, got {} {}", a.status, a.text));
                } else if a.json["RequestId"].as_str().is_none()
                    || a.json["RequestId"].as_str() != a.request_id.as_deref()
                {
                    self.unexpected(format!(
                        "{what}: RequestId header vs body: {:?} {}",
                        a.request_id, a.text
                    ));
                }
            }
            Err(e) => {
                self.transport_errors.fetch_add(1, Ordering::Relaxed);
                self.unexpected(format!("{what}: {}", describe(e)));
            }
        }
    }
}

/// A worker doing what a busy client does: projects (all six actions, both signatures),
/// categories, errors, metrics; a fresh client now and then (connections come and go).
async fn soak_worker(
    w: usize,
    seed: u64,
    port: u16,
    key: Key,
    stats: Arc<SoakStats>,
    until: Instant,
) {
    let mut rng = Rng::new(seed);
    let host = format!("127.0.0.1:{port}");
    let mut client = http_client();
    let mut owned: Vec<String> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        if rng.chance(0.01) {
            client = http_client();
        }
        let v2 = rng.chance(0.3);
        let sign = |call: Call| {
            if v2 {
                call.sign_v2(&host)
            } else {
                call.sign_v3(&host)
            }
        };
        let r = rng.below(100);
        if owned.len() < 5 || (r < 20 && owned.len() < 40) {
            let title = format!("soak w{w} n{n}");
            let timeline = timeline_of(1.0 + (n % 40) as f64);
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "CreateEditingProject",
                    &[
                        ("Title", &title),
                        ("Description", "soak"),
                        ("Timeline", &timeline),
                    ],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            if let Ok(a) = &a
                && let Some(id) = a.json["Project"]["ProjectId"].as_str()
            {
                owned.push(id.to_string());
            }
            stats.count(&a, 200, "CreateEditingProject");
        } else if r < 40 {
            let id = &owned[rng.below(owned.len())];
            let a = send(
                &client,
                port,
                &sign(Call::new("GetEditingProject", &[("ProjectId", id)], &key)),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 200, "GetEditingProject");
        } else if r < 55 {
            let id = &owned[rng.below(owned.len())];
            let timeline = timeline_of(2.0 + (n % 17) as f64);
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "UpdateEditingProject",
                    &[
                        ("ProjectId", id),
                        ("Title", &format!("soak w{w} u{n}")),
                        ("Timeline", &timeline),
                    ],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 200, "UpdateEditingProject");
        } else if r < 63 {
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "SearchEditingProject",
                    &[
                        ("PageSize", "20"),
                        ("PageNo", &(1 + rng.below(3)).to_string()),
                    ],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 200, "SearchEditingProject");
        } else if r < 70 {
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "ListEditingProjects",
                    &[("MaxResults", "5")],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            let token = a
                .as_ref()
                .ok()
                .and_then(|a| a.json["NextToken"].as_str().map(str::to_string));
            stats.count(&a, 200, "ListEditingProjects");
            if let Some(token) = token {
                let a = send(
                    &client,
                    port,
                    &sign(Call::new(
                        "ListEditingProjects",
                        &[("MaxResults", "5"), ("NextToken", &token)],
                        &key,
                    )),
                )
                .await;
                stats.signed.fetch_add(1, Ordering::Relaxed);
                stats.count(&a, 200, "ListEditingProjects (next page)");
            }
        } else if r < 80 {
            let k = 1 + rng.below(3).min(owned.len() - 1);
            let ids: Vec<String> = (0..k)
                .map(|_| owned.swap_remove(rng.below(owned.len())))
                .collect();
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "DeleteEditingProjects",
                    &[("ProjectIds", &ids.join(","))],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 200, "DeleteEditingProjects");
        } else if r < 86 {
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "AddCategory",
                    &[("CateName", &format!("soak {w} {n}"))],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            let cate = a
                .as_ref()
                .ok()
                .and_then(|a| a.json["Category"]["CateId"].as_i64());
            stats.count(&a, 200, "AddCategory");
            if let Some(cate) = cate {
                let a = send(
                    &client,
                    port,
                    &sign(Call::new(
                        "DeleteCategory",
                        &[("CateId", &cate.to_string())],
                        &key,
                    )),
                )
                .await;
                stats.signed.fetch_add(1, Ordering::Relaxed);
                stats.count(&a, 200, "DeleteCategory");
            }
        } else if r < 92 {
            // Errors: a wrong secret, an unknown action, a bad parameter.
            let bad = Key::new(&key.id, "wrong");
            let a = send(
                &client,
                port,
                &sign(Call::new("SearchEditingProject", &[], &bad)),
            )
            .await;
            stats.count(&a, 400, "wrong secret");
            let a = send(&client, port, &sign(Call::new("NoSuchAction", &[], &key))).await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 404, "unknown action");
            let a = send(
                &client,
                port,
                &sign(Call::new(
                    "SearchEditingProject",
                    &[("PageSize", "0")],
                    &key,
                )),
            )
            .await;
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.count(&a, 400, "bad PageSize");
        } else if r < 96 {
            // A fresh connection per request, closed by the server.
            let bytes = sign(Call::new(
                "GetEditingProject",
                &[("ProjectId", &owned[0])],
                &key,
            ))
            .raw_bytes();
            stats.signed.fetch_add(1, Ordering::Relaxed);
            stats.requests.fetch_add(1, Ordering::Relaxed);
            match exchange(port, &bytes, Duration::from_secs(30), false, false).await {
                Exchange::Answered(a) if a[0].status == 200 => {}
                Exchange::Answered(a) => {
                    if a[0].status >= 500 {
                        stats.five_xx.fetch_add(1, Ordering::Relaxed);
                    }
                    stats.unexpected(format!(
                        "raw GetEditingProject: {} {}",
                        a[0].status,
                        shorten(&a[0].body, 300)
                    ));
                }
                Exchange::Silent(why) | Exchange::ConnectFailed(why) => {
                    stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                    stats.unexpected(format!("raw GetEditingProject: {why}"));
                }
            }
        } else {
            for path in ["/healthz", "/metrics"] {
                stats.requests.fetch_add(1, Ordering::Relaxed);
                match client
                    .get(format!("http://127.0.0.1:{port}{path}"))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    Ok(r) => stats.unexpected(format!("{path}: {}", r.status())),
                    Err(e) => {
                        stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                        stats.unexpected(format!("{path}: {}", describe(&e)));
                    }
                }
            }
        }
    }
    // Leave the store as small as it was: delete what is left.
    for chunk in owned.chunks(50) {
        let call = Call::new(
            "DeleteEditingProjects",
            &[("ProjectIds", &chunk.join(","))],
            &key,
        );
        let a = send(&client, port, &call.sign_v3(&host)).await;
        stats.signed.fetch_add(1, Ordering::Relaxed);
        stats.count(&a, 200, "DeleteEditingProjects (cleanup)");
    }
}

/// Runs `workers` soak workers for `secs`; returns when all stopped and their clients are gone.
async fn soak_phase(s: &Server, seed: u64, workers: usize, secs: u64, stats: &Arc<SoakStats>) {
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        tasks.spawn(soak_worker(
            w,
            seed.wrapping_add(w as u64),
            s.port(),
            s.key(),
            Arc::clone(stats),
            until,
        ));
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("soak worker");
    }
}

/// RSS (KiB) and descriptors once the server has let go of finished connections.
async fn settle(pid: u32) -> (u64, usize) {
    tokio::time::sleep(Duration::from_secs(2)).await;
    (rss_kib(pid), fd_count(pid))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak() {
    let _serial = SERIAL.lock().await;
    raise_fd_limit();
    let (warm_up, duration) = if long_form() { (60, 600) } else { (6, 20) };
    let workers = 6;
    // Short runs see allocator noise that is large next to 10 % of a small heap.
    let slack_kib: u64 = if long_form() { 0 } else { 4 * 1024 };
    // The nonce store keeps up to 4,000,000 nonces for 15 minutes (a fixed bound); each takes
    // at most this much (a u64 in a hash set at worst half full, plus its bucket).
    const NONCE_BYTES: u64 = 32;
    const FD_SLACK: i64 = 4;
    each_backend(|b| async move {
        let seed = seed();
        let s = spawn_server(b).await;
        let pid = s.pid();
        let stats = Arc::new(SoakStats::default());
        soak_phase(&s, seed, workers, warm_up, &stats).await;
        let (rss_base, fds_base) = settle(pid).await;
        let signed_base = stats.signed.load(Ordering::Relaxed);
        let requests_base = stats.requests.load(Ordering::Relaxed);

        // The measured run.
        let started = Instant::now();
        soak_phase(&s, seed ^ 0x5eed, workers, duration, &stats).await;
        let elapsed = started.elapsed().as_secs_f64();
        let (rss_end, fds_end) = settle(pid).await;
        let hwm = proc_status_kib(pid, "VmHWM:");

        let requests = stats.requests.load(Ordering::Relaxed) - requests_base;
        let signed = stats.signed.load(Ordering::Relaxed) - signed_base;
        let nonce_kib = signed * NONCE_BYTES / 1024;
        let growth = rss_end as i64 - rss_base as i64;
        let growth_net = growth - nonce_kib as i64;
        let allowed = (rss_base / 10).max(slack_kib) as i64;
        let fd_delta = fds_end as i64 - fds_base as i64;
        let health = s.healthz().await;
        let panics = panic_lines(&s);
        let unexpected = stats.unexpected.lock().unwrap().clone();
        report(&format!(
            "soak[{b:?}] {}: {duration}s after {warm_up}s warm-up, {workers} workers: \
            requests={requests} ({:.0}/s) 5xx={} transport_errors={} unexpected={} RSS {:.1} \
            -> {:.1} MiB ({:+.1}%; {:+.1}% net of {:.1} MiB nonce-store allowance; limit \
            +{:.1} MiB), peak RSS (VmHWM) {:.1} MiB, fds {fds_base} -> {fds_end}, healthz={} \
            seed={seed}",
            form_name(),
            requests as f64 / elapsed,
            stats.five_xx.load(Ordering::Relaxed),
            stats.transport_errors.load(Ordering::Relaxed),
            unexpected.len(),
            rss_base as f64 / 1024.0,
            rss_end as f64 / 1024.0,
            growth as f64 * 100.0 / rss_base as f64,
            growth_net as f64 * 100.0 / rss_base as f64,
            nonce_kib as f64 / 1024.0,
            allowed as f64 / 1024.0,
            hwm as f64 / 1024.0,
            health.map_or("none".to_string(), |h| h.to_string()),
        ));
        assert!(
            unexpected.is_empty(),
            "unexpected answers:\n{}",
            unexpected.join("\n")
        );
        assert_eq!(
            stats.five_xx.load(Ordering::Relaxed),
            0,
            "5xx during the soak"
        );
        assert!(
            panics.is_empty(),
            "the server panicked:\n{}",
            panics.join("\n")
        );
        assert_eq!(health, Some(200));
        assert!(
            growth_net < allowed,
            "RSS grew {growth} KiB ({growth_net} KiB net of the nonce store) from {rss_base} \
            KiB; allowed {allowed} KiB"
        );
        assert!(
            fd_delta <= FD_SLACK,
            "open descriptors {fds_base} -> {fds_end}:\n{}",
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| d
                    .filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join("\n"))
                .unwrap_or_default()
        );
    })
    .await;
}

#[test]
fn answers_are_split_as_sent() {
    let buf = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok\
        HTTP/1.1 404 Not Found\r\n\r\ntail";
    let a = parse_answers(buf, false);
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].status, a[0].body.as_slice()), (200, &b"ok"[..]));
    assert_eq!((a[1].status, a[1].body.as_slice()), (404, &b"tail"[..]));
    let mut seen = HashMap::new();
    let mut rng = Rng::new(7);
    for _ in 0..1000 {
        *seen.entry(rng.below(4)).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 4);
}
