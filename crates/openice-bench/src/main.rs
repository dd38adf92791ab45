//! `openice-bench`: load benchmark of the real `openice` binary against the machine's floor.
//!
//! ```sh
//! cargo run --release -p openice-bench -- [--quick] [--connections N] [--duration SECS]
//!     [--runs N] [--projects N] [--no-write] [--json] [--backend sqlite|postgres|both]
//!     [--postgres postgres://admin@host/db] [--endpoint http://host:port --ak ID --sk SECRET]
//! ```
//!
//! All on loopback (or the given endpoint), bounded in time and request count, stopping by
//! itself:
//!
//! * The floor ([`floor`]): an in-process bare hyper server with a fixed JSON answer.
//! * Its own servers ([`server`]): `openice serve` on a temporary data dir, with SQLite and,
//!   given an admin URL, with a fresh PostgreSQL database (dropped at the end); seeded with
//!   `--projects` projects through `openice::store` ([`seed`]). Or an existing server
//!   (`--endpoint`), seeded through the API, whose memory and CPU the bench cannot read.
//! * One closed-loop client ([`client`]) drives every scenario ([`scenarios`]) with freshly
//!   signed requests, `--runs` rounds of floor + every scenario per backend.
//! * [`report`] prints a table (or `--json`) and rewrites the generated section of
//!   docs/benchmarks.md after a default-sized run on its own servers.

mod bench;
mod cleanup;
mod client;
mod floor;
mod postgres;
mod report;
mod scenarios;
mod seed;
mod server;
mod signer;
mod sys;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use time::OffsetDateTime;

use crate::bench::{Bench, RSS_CONNECTIONS};
use crate::report::{NotRun, OtherLoad, Report, ScenarioReport, TimelineEstimate};
use crate::signer::Key;

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The default account's key on the bench's own servers; the seeded projects (the search
/// scenario's) live in this account.
pub const SEARCH_KEY: (&str, &str) = (
    "LTAIbench0000000000000001",
    "benchSecret0123456789abcdefghi",
);
/// A second account for the other scenarios' reads and writes, so that creates do not
/// change what the search scenario counts. The seeding child creates it.
pub const FIXTURE_KEY: (&str, &str) = (
    "LTAIbench0000000000000002",
    "benchSecret0123456789fixtures0",
);
pub const FIXTURE_ACCOUNT: &str = "openice-bench";

const DEFAULT_CONNECTIONS: u64 = 32;
const DEFAULT_DURATION_S: f64 = 5.0;
const QUICK_DURATION_S: f64 = 2.0;
const DEFAULT_RUNS: u64 = 3;
const DEFAULT_PROJECTS: u64 = 100_000;
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

/// Load benchmark of the openice server against the machine's floor (a bare hyper server).
#[derive(Parser, Debug)]
#[command(name = "openice-bench", version)]
pub struct Opts {
    /// 2 s per run instead of 5 s, 0.3 s warm-up instead of 0.5 s.
    #[arg(long)]
    pub quick: bool,
    /// Keep-alive connections per scenario (SearchEditingProject: 8; peak RSS: 256).
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub connections: u64,
    /// Seconds per run [default: 5, with --quick 2].
    #[arg(long, value_parser = positive_seconds)]
    pub duration: Option<f64>,
    /// Runs (rounds) per figure; medians are reported.
    #[arg(long, default_value_t = DEFAULT_RUNS, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub runs: u64,
    /// Projects in the searched account (seeded; with --endpoint, topped up through the API).
    #[arg(long, default_value_t = DEFAULT_PROJECTS, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub projects: u64,
    /// Print the results only; never rewrite docs/benchmarks.md.
    #[arg(long)]
    pub no_write: bool,
    /// Print one JSON document on stdout instead of the table (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Which of the bench's own servers to run (PostgreSQL needs --postgres).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: BackendChoice,
    /// PostgreSQL admin URL: the bench creates a database `openice_bench_<random>` there for
    /// a second server and drops it at the end.
    #[arg(long, env = "OPENICE_BENCH_POSTGRES", value_name = "URL")]
    pub postgres: Option<String>,
    /// Drive an existing server instead of starting its own (http://host:port).
    #[arg(long, value_name = "URL", requires_all = ["ak", "sk"])]
    pub endpoint: Option<String>,
    /// AccessKeyId for --endpoint.
    #[arg(long, value_name = "ID", requires = "endpoint")]
    pub ak: Option<String>,
    /// AccessKeySecret for --endpoint.
    #[arg(long, value_name = "SECRET", requires = "endpoint")]
    pub sk: Option<String>,
    /// Run only these scenarios (comma-separated), e.g. to profile the server under one.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<scenarios::Scenario>,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "{s:?}: expected seconds, more than 0 and at most 3600"
        )),
    }
}

impl Opts {
    pub fn duration_s(&self) -> f64 {
        self.duration.unwrap_or(if self.quick {
            QUICK_DURATION_S
        } else {
            DEFAULT_DURATION_S
        })
    }

    /// The scenarios to run, in their order.
    pub fn scenarios(&self) -> Vec<scenarios::Scenario> {
        scenarios::Scenario::ALL
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.contains(s))
            .collect()
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_millis(if self.quick { 300 } else { 500 })
    }

    /// The command line as the report shows it: secrets and URLs left out.
    fn shown(&self) -> String {
        let mut s = String::from("cargo run --release -p openice-bench");
        let mut args: Vec<String> = Vec::new();
        if self.quick {
            args.push("--quick".into());
        }
        if self.connections != DEFAULT_CONNECTIONS {
            args.push(format!("--connections {}", self.connections));
        }
        if let Some(d) = self.duration {
            args.push(format!("--duration {d}"));
        }
        if self.runs != DEFAULT_RUNS {
            args.push(format!("--runs {}", self.runs));
        }
        if self.projects != DEFAULT_PROJECTS {
            args.push(format!("--projects {}", self.projects));
        }
        if self.backend != BackendChoice::Both {
            args.push(format!("--backend {:?}", self.backend).to_lowercase());
        }
        if self.endpoint.is_some() {
            args.push("--endpoint URL --ak ID --sk SECRET".into());
        } else if self.postgres.is_some() && self.backend != BackendChoice::Sqlite {
            args.push("--postgres <admin URL>".into());
        }
        if !self.only.is_empty() {
            let names: Vec<_> = self
                .only
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|v| v.get_name().to_string())
                .collect();
            args.push(format!("--only {}", names.join(",")));
        }
        if self.no_write {
            args.push("--no-write".into());
        }
        if self.json {
            args.push("--json".into());
        }
        if !args.is_empty() {
            s.push_str(" -- ");
            s.push_str(&args.join(" "));
        }
        s
    }

    /// docs/benchmarks.md holds the reference figures: only a full-size run of the bench's
    /// own servers may replace them.
    fn doc_refusal(&self) -> Option<&'static str> {
        if self.no_write {
            Some("--no-write")
        } else if self.endpoint.is_some() {
            Some("--endpoint (not the bench's own servers)")
        } else if self.quick
            || self.duration.is_some_and(|d| d != DEFAULT_DURATION_S)
            || self.runs < DEFAULT_RUNS
            || self.projects != DEFAULT_PROJECTS
            || self.connections != DEFAULT_CONNECTIONS
            || !self.only.is_empty()
        {
            Some(
                "not the default sizes (--quick, --duration, --runs, --projects, --connections or --only)",
            )
        } else {
            None
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(seed::SEED_COMMAND) {
        return seed::child_main(&args[2..]);
    }
    let opts = Opts::parse();
    if let Err(e) = cleanup::install_signal_handler() {
        eprintln!("openice-bench: cannot handle signals ({e}); ctrl-c will not clean up");
    }
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(_) if cleanup::interrupted() => cleanup::wait_for_exit(),
        Err(e) => {
            eprintln!("openice-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
/// Returns whether the run had no problems.
fn run(opts: &Opts) -> BenchResult<bool> {
    let started_at = OffsetDateTime::now_utc();
    let load_before = sys::loadavg();
    let endpoint = opts.endpoint.as_deref().map(parse_endpoint).transpose()?;
    // Which of its own servers to run, and which not (and why).
    let mut own: Vec<&'static str> = Vec::new();
    let mut not_run = Vec::new();
    if endpoint.is_none() {
        if opts.backend != BackendChoice::Postgres {
            own.push("sqlite");
        } else {
            not_run.push(NotRun {
                backend: "sqlite".into(),
                reason: "--backend postgres".into(),
            });
        }
        match (opts.backend, &opts.postgres) {
            (BackendChoice::Sqlite, _) => not_run.push(NotRun {
                backend: "postgres".into(),
                reason: "--backend sqlite".into(),
            }),
            (BackendChoice::Postgres, None) => {
                return Err(
                    "--backend postgres needs --postgres URL (or OPENICE_BENCH_POSTGRES)".into(),
                );
            }
            (_, None) => not_run.push(NotRun {
                backend: "postgres".into(),
                reason: "no --postgres URL and OPENICE_BENCH_POSTGRES unset".into(),
            }),
            (_, Some(_)) => own.push("postgres"),
        }
    } else {
        if opts.postgres.is_some() && opts.backend != BackendChoice::Sqlite {
            eprintln!("openice-bench: --endpoint given: --postgres and --backend are ignored");
        }
        for backend in ["sqlite", "postgres"] {
            not_run.push(NotRun {
                backend: backend.into(),
                reason: "--endpoint (the bench's own servers were not started)".into(),
            });
        }
    }
    let bin = match endpoint {
        None => Some(server::binary()?),
        Some(_) => None,
    };
    if cfg!(debug_assertions) {
        eprintln!(
            "openice-bench: this is a debug build: the client is slow; use cargo run --release"
        );
    }
    eprintln!(
        "openice-bench: {} connections, {:.1} s per run, {} runs, {} projects; {}; load average {load_before}",
        opts.connections,
        opts.duration_s(),
        opts.runs,
        opts.projects,
        match (&bin, &opts.endpoint) {
            (Some(b), _) => format!("binary {}", b.display()),
            (None, Some(e)) => format!("endpoint {e}"),
            (None, None) => unreachable!("either a binary or an endpoint"),
        }
    );
    let signing_us = signer::signing_cost_us();
    eprintln!("openice-bench: signing a request costs the client {signing_us:.1} µs");
    let mut bench = Bench {
        opts,
        client: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("client")
            .enable_all()
            .build()?,
        floor: floor::start()?,
        floor_runs: Vec::new(),
        other_load: Vec::new(),
        problems: Vec::new(),
    };
    let mut backends = Vec::new();
    if let Some((addr, host)) = endpoint {
        let key = Key {
            id: opts.ak.clone().unwrap_or_default(),
            secret: opts.sk.clone().unwrap_or_default(),
        };
        backends.push(bench.endpoint_backend(addr, host, key)?);
    }
    let mut failed = false;
    for backend in own {
        let bin = bin.as_deref().expect("own servers have a binary");
        eprintln!("openice-bench: --- {} ---", report::label_of(backend));
        match bench.own_backend(bin, backend) {
            Ok(b) => backends.push(b),
            Err(_) if cleanup::interrupted() => cleanup::wait_for_exit(),
            // One backend failing (PostgreSQL unreachable, say) still reports the other.
            Err(e) => {
                failed = true;
                let msg = format!("{} failed: {e}", report::label_of(backend));
                eprintln!("openice-bench: {msg}");
                bench.problems.push(msg);
                not_run.push(NotRun {
                    backend: backend.into(),
                    reason: format!("failed: {e}"),
                });
            }
        }
    }
    if backends.is_empty() {
        return Err("no backend could be measured".into());
    }

    let timeline = timeline_estimate();
    let verdicts = report::verdicts(&backends, timeline.as_ref());
    let other_load_cores = (!bench.other_load.is_empty()).then(|| OtherLoad {
        mean: bench.other_load.iter().sum::<f64>() / bench.other_load.len() as f64,
        max: bench.other_load.iter().copied().fold(0.0, f64::max),
    });
    let floor = ScenarioReport::from_runs(
        "floor",
        "bare hyper, fixed JSON, unsigned GET",
        opts.connections as usize,
        std::mem::take(&mut bench.floor_runs),
        None,
    );
    let report = Report {
        tool: "openice-bench",
        date: format_date(started_at),
        command: opts.shown(),
        machine: report::Machine {
            cores: sys::cores(),
            cpu: sys::cpu_model(),
            memory_gib: sys::mem_total_gib(),
            load_average_before: load_before,
            load_average_after: sys::loadavg(),
        },
        settings: report::Settings {
            mode: if opts.endpoint.is_some() {
                "endpoint"
            } else {
                "own servers"
            },
            endpoint: opts.endpoint.clone(),
            server_binary: bin.as_ref().map(|b| b.display().to_string()),
            connections: opts.connections as usize,
            search_connections: scenarios::SEARCH_CONNECTIONS,
            rss_connections: RSS_CONNECTIONS,
            duration_s: opts.duration_s(),
            warmup_s: opts.warmup().as_secs_f64(),
            runs: opts.runs as usize,
            projects: opts.projects as usize,
            fixture_projects: scenarios::FIXTURE_PROJECTS,
            fixture_media: scenarios::FIXTURE_MEDIA,
            batch_size: scenarios::BATCH_SIZE,
            mixed: scenarios::MIXED,
        },
        signing_us,
        floor,
        backends,
        not_run,
        timeline,
        verdicts,
        other_load_cores,
        problems: std::mem::take(&mut bench.problems),
    };
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("\n{}", report.markdown(true));
    }
    match (opts.doc_refusal(), failed) {
        (Some(why), _) => eprintln!("openice-bench: docs/benchmarks.md not rewritten: {why}"),
        (None, true) => {
            eprintln!("openice-bench: docs/benchmarks.md not rewritten: a backend failed")
        }
        (None, false) => {
            let path = report::write_doc(&report.markdown(false))?;
            eprintln!("openice-bench: wrote {}", path.display());
        }
    }
    Ok(report.problems.is_empty())
}

/// `http://host:port` → the address to connect to and the `Host` to sign.
fn parse_endpoint(url: &str) -> BenchResult<(SocketAddr, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("--endpoint {url:?}: expected http://host:port (the bench speaks plain HTTP/1.1)")
    })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!("--endpoint {url:?}: expected http://host:port").into());
    }
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("--endpoint {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--endpoint {url:?}: no address"))?;
    Ok((addr, host.to_string()))
}

pub fn format_date(t: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}
/// The latest `parse+duration` estimate of `cargo bench --bench timeline` with the time it
/// was written, if that bench has run.
fn timeline_estimate() -> Option<TimelineEstimate> {
    let base = server::target_dir()?.join("criterion/timeline_10k");
    let read = |name: &str| -> Option<(f64, std::time::SystemTime)> {
        let path = base.join(name).join("new/estimates.json");
        let text = std::fs::read_to_string(&path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let ns = v["median"]["point_estimate"].as_f64()?;
        Some((ns / 1e6, std::fs::metadata(&path).ok()?.modified().ok()?))
    };
    let (parse_duration_ms, when) = read("parse+duration")?;
    Some(TimelineEstimate {
        parse_duration_ms,
        parse_to_frontend_ms: read("parse+to_frontend").map(|(ms, _)| ms),
        measured: format_date(OffsetDateTime::from(when)),
    })
}
