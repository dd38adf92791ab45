//! One backend's measurements: the bench's own server (empty-store RSS, seeding, timed
//! starts) or an existing endpoint, then the same fixtures and rounds for both.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::client::{self, Load, MAX_REQUESTS_PER_RUN, MakeRequest, RunResult};
use crate::postgres::PgDatabase;
use crate::report::{self, BackendReport, Figure, RunValues, ScenarioReport, Seeding};
use crate::scenarios::{self, Fixtures, Scenario};
use crate::server::{self, Server, ServerSpec};
use crate::signer::Key;
use crate::sys::{self, with_cpu};
use crate::{BenchResult, FIXTURE_KEY, Opts, SEARCH_KEY, cleanup, floor, seed};

/// Connections of the peak-RSS run.
pub const RSS_CONNECTIONS: usize = 256;
/// Starts timed on the seeded store.
const STARTS: usize = 3;

/// Where the scenarios are sent.
struct Target<'a> {
    addr: SocketAddr,
    host: String,
    /// The server's pid when it is the bench's own (RSS, CPU).
    pid: Option<u32>,
    /// The server's data dir when it is the bench's own (media objects are written there).
    data_dir: Option<&'a Path>,
    search_key: Key,
    key: Key,
}

/// State shared by every backend's runs.
pub struct Bench<'a> {
    pub opts: &'a Opts,
    pub client: tokio::runtime::Runtime,
    pub floor: SocketAddr,
    /// Every floor run, in order, over all backends.
    pub floor_runs: Vec<RunValues>,
    /// Busy cores of other processes during each measured run.
    pub other_load: Vec<f64>,
    pub problems: Vec<String>,
}

impl Bench<'_> {
    /// The bench's own server on `backend` ("sqlite" or "postgres"): idle RSS on an empty
    /// store, seeding, timed starts on the seeded store, then the scenarios.
    pub fn own_backend(&mut self, bin: &Path, backend: &'static str) -> BenchResult<BackendReport> {
        let opts = self.opts;
        let projects = opts.projects as usize;
        // Declared before the servers, so dropped after them: a server never outlives its
        // database or directory, whatever path leaves this function.
        let dir = cleanup::ScratchDir::new(&format!("openice-bench-{backend}-"))?;
        let db = match backend {
            "postgres" => {
                let admin = opts.postgres.as_deref().expect("postgres has an admin URL");
                let db = PgDatabase::create(&self.client, admin)?;
                eprintln!("openice-bench: created database {}", db.name);
                Some(db)
            }
            _ => None,
        };
        let search_key = Key {
            id: SEARCH_KEY.0.into(),
            secret: SEARCH_KEY.1.into(),
        };
        let spec = ServerSpec {
            bin,
            data_dir: dir.path(),
            database_url: db.as_ref().map(|d| d.url.as_str()),
            key: &search_key,
        };

        let empty = Server::start(&spec)?;
        std::thread::sleep(Duration::from_secs(1));
        let idle_rss_empty_mib = empty.rss_kib().map(mib);
        empty.stop();
        eprintln!(
            "openice-bench: idle RSS on an empty store: {:.1} MiB; seeding {projects} projects…",
            idle_rss_empty_mib.unwrap_or(f64::NAN)
        );

        let seed_time = seed::seed_in_child(dir.path(), spec.database_url, projects)?;
        let database_mib = match &db {
            Some(db) => {
                db.vacuum_analyze(&self.client)?;
                db.size_mib(&self.client)
            }
            None => {
                seed::checkpoint_sqlite(&self.client, dir.path())?;
                file_mib(&dir.path().join("openice.db"))
            }
        };
        eprintln!(
            "openice-bench: seeded in {:.1} s ({:.0} MiB)",
            seed_time.as_secs_f64(),
            database_mib.unwrap_or(f64::NAN)
        );

        let mut startup_ms = Vec::new();
        let mut idle_seeded = Vec::new();
        let mut server = None;
        for i in 1..=STARTS {
            let s = Server::start(&spec)?;
            startup_ms.push(s.ready_after.as_secs_f64() * 1000.0);
            if s.ready_after > Duration::from_secs(1) {
                eprintln!("openice-bench: slow start; server log:\n{}", s.log_tail());
            }
            std::thread::sleep(Duration::from_secs(1));
            if let Some(kib) = s.rss_kib() {
                idle_seeded.push(mib(kib));
            }
            eprintln!(
                "openice-bench: start {i}: healthz 200 after {:.1} ms",
                startup_ms[i - 1]
            );
            if i == STARTS {
                server = Some(s);
            } else {
                s.stop();
            }
        }
        let server = server.expect("the last start keeps running");

        let target = Target {
            addr: server.addr,
            host: server.addr.to_string(),
            pid: Some(server.pid()),
            data_dir: Some(dir.path()),
            search_key,
            key: Key {
                id: FIXTURE_KEY.0.into(),
                secret: FIXTURE_KEY.1.into(),
            },
        };
        let total = self.client.block_on(seed::total_count(
            target.addr,
            &target.host,
            &target.search_key,
        ))?;
        if total != projects as u64 {
            self.problems.push(format!(
                "{}: SearchEditingProject TotalCount {total}, expected {projects}",
                report::label_of(backend)
            ));
        }
        let problems_before = self.problems.len();
        let seeding = Seeding {
            via: "store",
            projects: total,
            created: projects as u64,
            seconds: seed_time.as_secs_f64(),
            database_mib,
        };
        let label = report::label_of(backend).to_string();
        let mut b = self.measure(&target, backend, label, seeding)?;
        b.database = db.as_ref().map(|d| d.name.clone());
        b.startup_ms = Some(Figure::of(startup_ms));
        b.idle_rss_empty_mib = idle_rss_empty_mib;
        b.idle_rss_seeded_mib = Some(Figure::of(idle_seeded));
        b.rss_after_rounds_mib = server.rss_kib().map(mib);
        if db.is_none() {
            b.sqlite_wal_mib = file_mib(&dir.path().join("openice.db-wal"));
        }
        if self.problems.len() > problems_before {
            eprintln!("--- openice log tail ({}):\n{}", b.label, server.log_tail());
        }
        server.stop();
        Ok(b)
    }

    /// An existing server: seeded through the API, no RSS/CPU/startup figures.
    pub fn endpoint_backend(
        &mut self,
        addr: SocketAddr,
        host: String,
        key: Key,
    ) -> BenchResult<BackendReport> {
        if server::healthz(addr) != Some(200) {
            eprintln!("openice-bench: {addr} does not answer /healthz with 200; trying anyway");
        }
        let projects = self.opts.projects as usize;
        let (created, took) = self
            .client
            .block_on(seed::seed_via_api(addr, &host, &key, projects))?;
        let total = self.client.block_on(seed::total_count(addr, &host, &key))?;
        let target = Target {
            addr,
            host: host.clone(),
            pid: None,
            data_dir: None,
            search_key: key.clone(),
            key,
        };
        let seeding = Seeding {
            via: "api",
            projects: total,
            created,
            seconds: took.as_secs_f64(),
            database_mib: None,
        };
        self.measure(&target, "endpoint", format!("endpoint {host}"), seeding)
    }

    /// Fixtures, the peak-RSS run, then `--runs` rounds of floor + every scenario.
    fn measure(
        &mut self,
        t: &Target,
        backend: &'static str,
        label: String,
        seeding: Seeding,
    ) -> BenchResult<BackendReport> {
        let opts = self.opts;
        let (fixtures, media) = self.client.block_on(scenarios::create_fixtures(
            t.addr,
            &t.host,
            &t.search_key,
            &t.key,
            t.data_dir,
        ))?;
        eprintln!(
            "openice-bench: fixtures: {} projects, {} media ({:?})",
            fixtures.project_ids.len(),
            media.registered,
            media.status
        );
        let fixtures: Arc<Fixtures> = Arc::new(fixtures);
        let load = |connections: usize| Load {
            connections,
            warmup: opts.warmup(),
            measure: Duration::from_secs_f64(opts.duration_s()),
            max_requests: MAX_REQUESTS_PER_RUN,
        };

        // Peak RSS while 256 connections send GetEditingProject, sampled every 50 ms.
        let (peak_kib, rss_run) = {
            let peak = Arc::new(AtomicU64::new(0));
            let sampler = t.pid.map(|pid| {
                let peak = Arc::clone(&peak);
                self.client.spawn(async move {
                    loop {
                        if let Some(kib) = sys::rss_kib(pid) {
                            peak.fetch_max(kib, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            });
            let r = self.client.block_on(client::closed_loop(
                t.addr,
                load(RSS_CONNECTIONS),
                Scenario::Get.maker(&fixtures),
            ))?;
            if let Some(s) = sampler {
                s.abort();
            }
            (t.pid.map(|_| peak.load(Ordering::Relaxed)), r)
        };
        self.check(&label, "GetEditingProject at 256 connections", &rss_run);
        eprintln!(
            "openice-bench: {RSS_CONNECTIONS} connections: {:.0} req/s, peak RSS {}",
            rss_run.rps(),
            peak_kib.map_or("—".into(), |k| format!("{:.1} MiB", mib(k)))
        );

        let floor_request = floor::request(self.floor);
        let mut floor_rps = Vec::new();
        let selected = opts.scenarios();
        let mut runs: Vec<Vec<RunValues>> = vec![Vec::new(); selected.len()];
        let mut first_errors: Vec<Option<String>> = vec![None; selected.len()];
        for round in 1..=opts.runs {
            let (f, floor) = self.run_one(
                None,
                true,
                self.floor,
                load(opts.connections as usize),
                &floor_request,
                None,
            )?;
            self.check(&label, "floor", &f);
            floor_rps.push(floor.rps);
            self.floor_runs.push(floor.clone());
            let mut line = format!("round {round}: floor {:.0}/s", floor.rps);
            for (i, s) in selected.iter().enumerate() {
                let conns = s.connections(opts.connections as usize);
                let (r, values) = self.run_one(
                    t.pid,
                    false,
                    t.addr,
                    load(conns),
                    &s.maker(&fixtures),
                    Some(floor.rps),
                )?;
                self.check(&label, s.name(), &r);
                if first_errors[i].is_none() {
                    first_errors[i] = r.first_error.clone();
                }
                line.push_str(&format!(
                    ", {} {:.0}/s p99 {:.1} ms",
                    s.name(),
                    values.rps,
                    values.p99_ms.unwrap_or(f64::NAN)
                ));
                runs[i].push(values);
            }
            eprintln!("openice-bench: {label} {line}");
        }
        let scenarios = selected
            .iter()
            .zip(runs)
            .zip(first_errors)
            .map(|((s, runs), first_error)| {
                let conns = s.connections(opts.connections as usize);
                ScenarioReport::from_runs(s.name(), s.detail(), conns, runs, first_error)
            })
            .collect();
        Ok(BackendReport {
            backend,
            label,
            database: None,
            scenarios,
            floor_rps,
            startup_ms: None,
            idle_rss_empty_mib: None,
            idle_rss_seeded_mib: None,
            peak_rss_mib: peak_kib.map(mib),
            peak_rss_connections: RSS_CONNECTIONS,
            peak_rss_rps: rss_run.rps(),
            rss_after_rounds_mib: None,
            sqlite_wal_mib: None,
            seeding,
            media,
        })
    }

    /// One measured run through the closed-loop driver, with its CPU accounting.
    fn run_one(
        &mut self,
        server_pid: Option<u32>,
        in_process_target: bool,
        addr: SocketAddr,
        load: Load,
        make: &MakeRequest,
        floor_rps: Option<f64>,
    ) -> BenchResult<(RunResult, RunValues)> {
        let (r, cpu) = with_cpu(
            server_pid,
            in_process_target,
            || {
                self.client
                    .block_on(client::closed_loop(addr, load, Arc::clone(make)))
            },
            |r| r.as_ref().map_or(0, |r| r.sent),
        );
        let r = r?;
        // Against an endpoint its server's CPU cannot be told apart from other processes'.
        if let Some(o) = cpu.other_cores.filter(|_| self.opts.endpoint.is_none()) {
            self.other_load.push(o);
        }
        let values = RunValues {
            rps: r.rps(),
            p50_ms: r.percentile_ms(0.5),
            p99_ms: r.percentile_ms(0.99),
            ratio_to_floor: match floor_rps {
                Some(f) if f > 0.0 => Some(r.rps() / f),
                Some(_) => None,
                None => Some(1.0),
            },
            server_cpu_us: cpu.server_us,
            client_cpu_us: cpu.client_us,
            requests: r.ok,
            errors: r.errors,
        };
        Ok((r, values))
    }

    fn check(&mut self, label: &str, what: &str, r: &RunResult) {
        if r.errors > 0 {
            let msg = format!(
                "{label}, {what}: {} failed requests (first: {})",
                r.errors,
                r.first_error.as_deref().unwrap_or("?")
            );
            eprintln!("openice-bench: {msg}");
            self.problems.push(msg);
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
fn file_mib(path: &Path) -> Option<f64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1048576.0)
}
