//! The report: serde structs (the `--json` document) and one table writer that renders them
//! as markdown, column-aligned for a terminal or plain for docs/benchmarks.md.

use std::path::Path;

use serde::Serialize;

use crate::scenarios::MediaFixtures;

#[derive(Serialize)]
pub struct Report {
    pub tool: &'static str,
    /// UTC, when the run started.
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub settings: Settings,
    /// Client CPU per request signature (µs), measured alone before the runs.
    pub signing_us: f64,
    /// Every floor run of every backend's rounds.
    pub floor: ScenarioReport,
    pub backends: Vec<BackendReport>,
    /// Backends not measured, and why.
    pub not_run: Vec<NotRun>,
    /// `cargo bench --bench timeline`'s latest estimate, if that bench has run.
    pub timeline: Option<TimelineEstimate>,
    pub verdicts: Vec<Verdict>,
    /// Cores that other processes kept busy during the measured runs (own servers only).
    pub other_load_cores: Option<OtherLoad>,
    pub problems: Vec<String>,
}

#[derive(Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: Option<f64>,
    pub load_average_before: String,
    pub load_average_after: String,
}

#[derive(Serialize)]
pub struct Settings {
    /// `"own servers"` or `"endpoint"`.
    pub mode: &'static str,
    pub endpoint: Option<String>,
    pub server_binary: Option<String>,
    pub connections: usize,
    pub search_connections: usize,
    pub rss_connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub runs: usize,
    pub projects: usize,
    pub fixture_projects: usize,
    pub fixture_media: usize,
    pub batch_size: usize,
    pub mixed: &'static str,
}

/// One run of one scenario.
#[derive(Serialize, Clone, Debug, Default)]
pub struct RunValues {
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// This run's req/s ÷ the floor's req/s of the same round.
    pub ratio_to_floor: Option<f64>,
    pub server_cpu_us: Option<f64>,
    pub client_cpu_us: f64,
    /// 200 answers inside the measured window.
    pub requests: u64,
    pub errors: u64,
}

/// Medians over the runs, and the runs.
#[derive(Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    pub detail: String,
    pub connections: usize,
    pub rps: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ratio_to_floor: Option<f64>,
    pub server_cpu_us: Option<f64>,
    pub client_cpu_us: Option<f64>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub runs: Vec<RunValues>,
}

impl ScenarioReport {
    pub fn from_runs(
        scenario: &str,
        detail: &str,
        connections: usize,
        runs: Vec<RunValues>,
        first_error: Option<String>,
    ) -> ScenarioReport {
        let m = |f: &dyn Fn(&RunValues) -> Option<f64>| median(runs.iter().filter_map(f));
        ScenarioReport {
            scenario: scenario.to_string(),
            detail: detail.to_string(),
            connections,
            rps: m(&|r| Some(r.rps)),
            p50_ms: m(&|r| r.p50_ms),
            p99_ms: m(&|r| r.p99_ms),
            ratio_to_floor: m(&|r| r.ratio_to_floor),
            server_cpu_us: m(&|r| r.server_cpu_us),
            client_cpu_us: m(&|r| Some(r.client_cpu_us)),
            errors: runs.iter().map(|r| r.errors).sum(),
            first_error,
            runs,
        }
    }
}

/// A figure measured several times: the median and every value.
#[derive(Serialize, Clone, Debug)]
pub struct Figure {
    pub median: Option<f64>,
    pub runs: Vec<f64>,
}

impl Figure {
    pub fn of(runs: Vec<f64>) -> Figure {
        Figure {
            median: median(runs.iter().copied()),
            runs,
        }
    }
}

#[derive(Serialize)]
pub struct Seeding {
    /// `"store"` (openice::store in a child process) or `"api"` (CreateEditingProject).
    pub via: &'static str,
    /// Projects the search account holds when the runs start.
    pub projects: u64,
    /// Projects this run created to get there.
    pub created: u64,
    pub seconds: f64,
    pub database_mib: Option<f64>,
}

#[derive(Serialize)]
pub struct BackendReport {
    /// `"sqlite"`, `"postgres"` or `"endpoint"`.
    pub backend: &'static str,
    pub label: String,
    /// The PostgreSQL database created for the run (dropped at the end).
    pub database: Option<String>,
    pub scenarios: Vec<ScenarioReport>,
    /// The floor's req/s in each round of this backend: the ratios' denominators.
    pub floor_rps: Vec<f64>,
    /// Exec → first `/healthz` 200 on the seeded store, ms (3 starts).
    pub startup_ms: Option<Figure>,
    pub idle_rss_empty_mib: Option<f64>,
    pub idle_rss_seeded_mib: Option<Figure>,
    pub peak_rss_mib: Option<f64>,
    pub peak_rss_connections: usize,
    pub peak_rss_rps: f64,
    pub rss_after_rounds_mib: Option<f64>,
    pub sqlite_wal_mib: Option<f64>,
    pub seeding: Seeding,
    pub media: MediaFixtures,
}

#[derive(Serialize)]
pub struct NotRun {
    pub backend: String,
    pub reason: String,
}

#[derive(Serialize)]
pub struct TimelineEstimate {
    pub parse_duration_ms: f64,
    pub parse_to_frontend_ms: Option<f64>,
    pub measured: String,
}

#[derive(Serialize)]
pub struct OtherLoad {
    pub mean: f64,
    pub max: f64,
}

/// A figure against its target; `met` is `None` when the figure could not be measured.
#[derive(Serialize)]
pub struct Verdict {
    /// A scenario name, or `startup`, `idle_rss_empty`, `idle_rss_seeded`, `peak_rss`,
    /// `timeline`.
    pub figure: String,
    pub backend: String,
    pub value: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
}

pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

// ---------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------

const MB: f64 = 1e6 / 1048576.0; // MiB per MB

/// The targets (from the project's brief) and what each figure is compared with.
pub fn verdicts(backends: &[BackendReport], timeline: Option<&TimelineEstimate>) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut push = |figure: &str,
                    backend: &str,
                    value: Option<f64>,
                    target: &str,
                    ok: &dyn Fn(f64) -> bool| {
        out.push(Verdict {
            figure: figure.into(),
            backend: backend.into(),
            value,
            target: target.into(),
            met: value.map(ok),
        });
    };
    for b in backends {
        // The store-speed targets (issue 12): ratios to the floor per backend, Search p99.
        let pg = b.backend == "postgres";
        for s in &b.scenarios {
            let ratio = |min: f64| (format!("÷ floor ≥ {min:.2}"), min);
            let target = match s.scenario.as_str() {
                "GetEditingProject" => Some(ratio(if pg { 0.30 } else { 0.60 })),
                "CreateEditingProject" => Some(ratio(if pg { 0.10 } else { 0.25 })),
                "UpdateEditingProject" => Some(ratio(if pg { 0.05 } else { 0.15 })),
                _ => None,
            };
            if let Some((text, min)) = target {
                push(&s.scenario, b.backend, s.ratio_to_floor, &text, &|v| {
                    v >= min
                });
            }
            if s.scenario == "SearchEditingProject" {
                let max = if pg { 20.0 } else { 10.0 };
                push(
                    &s.scenario,
                    b.backend,
                    s.p99_ms,
                    &format!("p99 ≤ {max:.0} ms"),
                    &|v| v <= max,
                );
            }
        }
        let startup = b.startup_ms.as_ref().and_then(|f| f.median);
        push("startup", b.backend, startup, "≤ 100 ms", &|v| v <= 100.0);
        push(
            "idle_rss_empty",
            b.backend,
            b.idle_rss_empty_mib,
            "≤ 30 MB",
            &|v| v <= 30.0 * MB,
        );
        let seeded = b.idle_rss_seeded_mib.as_ref().and_then(|f| f.median);
        push("idle_rss_seeded", b.backend, seeded, "≤ 30 MB", &|v| {
            v <= 30.0 * MB
        });
        push("peak_rss", b.backend, b.peak_rss_mib, "≤ 200 MB", &|v| {
            v <= 200.0 * MB
        });
    }
    push(
        "timeline",
        "",
        timeline.map(|t| t.parse_duration_ms),
        "≤ 10 ms",
        &|v| v <= 10.0,
    );
    out
}

// ---------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------

/// A markdown table; `aligned` pads the columns for reading in a terminal.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, aligned: bool) -> String {
        let cols = self.header.len();
        let width = |i: usize| {
            if !aligned {
                return 0;
            }
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let line = |cells: &[String]| {
            let mut s = String::from("|");
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = w.saturating_sub(c.chars().count());
                s.push_str(&format!(" {c}{} |", " ".repeat(pad)));
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.header);
        out.push('|');
        for w in &widths {
            out.push_str(&format!("{}|", "-".repeat(w + 2)));
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.digits$}"))
}

fn list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// A backend's name as the report shows it.
pub fn label_of(backend: &str) -> &str {
    match backend {
        "sqlite" => "SQLite",
        "postgres" => "PostgreSQL",
        "endpoint" => "endpoint",
        other => other,
    }
}

impl Report {
    fn verdict(&self, figure: &str, backend: &str) -> Option<&Verdict> {
        self.verdicts
            .iter()
            .find(|v| v.figure == figure && v.backend == backend)
    }

    fn requests_table(&self) -> Table {
        let mut t = Table::new(&[
            "scenario",
            "backend",
            "conns",
            "req/s",
            "p50 ms",
            "p99 ms",
            "÷ floor",
            "CPU µs/req server / client",
            "target",
            "",
        ]);
        let f = &self.floor;
        t.row(vec![
            "floor: bare hyper, fixed JSON".into(),
            "—".into(),
            f.connections.to_string(),
            opt(f.rps, 0),
            opt(f.p50_ms, 2),
            opt(f.p99_ms, 2),
            "1.00".into(),
            format!("— / {} (client + floor)", opt(f.client_cpu_us, 0)),
            String::new(),
            String::new(),
        ]);
        for b in &self.backends {
            for s in &b.scenarios {
                let v = self.verdict(&s.scenario, b.backend);
                let target = v.map_or(String::new(), |v| v.target.clone());
                let bold = |text: String, key: &str| {
                    if v.is_some_and(|v| v.target.starts_with(key)) {
                        format!("**{text}**")
                    } else {
                        text
                    }
                };
                t.row(vec![
                    s.scenario.clone(),
                    b.label.clone(),
                    s.connections.to_string(),
                    opt(s.rps, 0),
                    opt(s.p50_ms, 2),
                    bold(opt(s.p99_ms, 2), "p99"),
                    bold(opt(s.ratio_to_floor, 2), "÷ floor"),
                    format!("{} / {}", opt(s.server_cpu_us, 0), opt(s.client_cpu_us, 0)),
                    target,
                    v.map_or(String::new(), |v| mark(v.met).to_string()),
                ]);
            }
        }
        // The reasons are in the line under the table: a long cell would widen every row.
        for n in &self.not_run {
            let mut row = vec![
                "all scenarios".into(),
                label_of(&n.backend).to_string(),
                "—".into(),
                "not run".into(),
            ];
            row.resize(10, String::new());
            t.row(row);
        }
        t
    }

    fn figures_table(&self) -> Table {
        let mut t = Table::new(&["figure", "backend", "value", "target", ""]);
        let projects = self.settings.projects;
        for b in &self.backends {
            let mut fig = |name: String, id: &str, value: String| {
                let v = self.verdict(id, b.backend);
                t.row(vec![
                    name,
                    b.label.clone(),
                    value,
                    v.map_or(String::new(), |v| v.target.clone()),
                    v.map_or(String::new(), |v| mark(v.met).to_string()),
                ]);
            };
            let with_runs = |f: &Option<Figure>, unit: &str, digits: usize| match f {
                Some(f) if f.median.is_some() => format!(
                    "**{} {unit}** ({})",
                    opt(f.median, digits),
                    list(&f.runs, digits)
                ),
                _ => "—".into(),
            };
            let mib = |v: Option<f64>| v.map_or("—".into(), |v| format!("**{v:.1} MiB**"));
            fig(
                format!("exec → healthz 200, {projects} projects"),
                "startup",
                with_runs(&b.startup_ms, "ms", 1),
            );
            fig(
                "idle RSS 1 s after start, empty store".into(),
                "idle_rss_empty",
                mib(b.idle_rss_empty_mib),
            );
            fig(
                format!("idle RSS 1 s after start, {projects} projects"),
                "idle_rss_seeded",
                with_runs(&b.idle_rss_seeded_mib, "MiB", 1),
            );
            fig(
                format!(
                    "peak RSS, {} conns of GetEditingProject",
                    b.peak_rss_connections
                ),
                "peak_rss",
                format!("{} ({:.0} req/s)", mib(b.peak_rss_mib), b.peak_rss_rps),
            );
        }
        let v = self.verdict("timeline", "");
        t.row(vec![
            "timeline: parse + Duration, 10,000 clips (criterion median)".into(),
            "—".into(),
            match &self.timeline {
                Some(e) => format!(
                    "**{:.2} ms** (parse + to_frontend {} ms; measured {})",
                    e.parse_duration_ms,
                    opt(e.parse_to_frontend_ms, 2),
                    e.measured
                ),
                None => "not measured: run `cargo bench --bench timeline` first".into(),
            },
            v.map_or(String::new(), |v| v.target.clone()),
            v.map_or(String::new(), |v| mark(v.met).to_string()),
        ]);
        t
    }

    fn per_run_table(&self) -> Table {
        let runs = self.settings.runs;
        let mut header = vec!["scenario".to_string(), "backend".to_string()];
        header.extend((1..=runs).map(|i| format!("run {i}")));
        let mut t = Table {
            header,
            rows: Vec::new(),
        };
        let cells = |s: &ScenarioReport| {
            s.runs
                .iter()
                .map(|r| {
                    let mut c = format!("{:.0}/s, p99 {} ms", r.rps, opt(r.p99_ms, 2));
                    if let Some(ratio) = r.ratio_to_floor {
                        c.push_str(&format!(", ÷ {ratio:.2}"));
                    }
                    if r.errors > 0 {
                        c.push_str(&format!(", {} errors", r.errors));
                    }
                    c
                })
                .collect::<Vec<_>>()
        };
        // The floor ran once per round of each backend: show it per backend.
        let mut floor_runs = self.floor.runs.iter();
        for b in &self.backends {
            let mut row = vec!["floor".into(), b.label.clone()];
            let rounds: Vec<RunValues> = floor_runs
                .by_ref()
                .take(b.floor_rps.len())
                .cloned()
                .collect();
            row.extend(
                rounds
                    .iter()
                    .map(|r| format!("{:.0}/s, p99 {} ms", r.rps, opt(r.p99_ms, 2))),
            );
            t.row(row);
            for s in &b.scenarios {
                let mut row = vec![s.scenario.clone(), b.label.clone()];
                row.extend(cells(s));
                t.row(row);
            }
        }
        t
    }

    fn notes(&self) -> String {
        let s = &self.settings;
        let accounts = if s.mode == "endpoint" {
            format!(
                "SearchEditingProject runs at {} connections over the key's account ({} projects \
                 at the start, plus those the Create and Mixed runs add); the other scenarios \
                 address {} projects and {} media created in that account.",
                s.search_connections, s.projects, s.fixture_projects, s.fixture_media
            )
        } else {
            format!(
                "SearchEditingProject runs at {} connections over the {} seeded projects of one \
                 account; the other scenarios address {} projects and {} media of a second \
                 account, so that creates do not change what the search counts.",
                s.search_connections, s.projects, s.fixture_projects, s.fixture_media
            )
        };
        let mut out = format!(
            "Each figure: {} run(s) × {:.1} s after {:.1} s of warm-up, median reported (per-run values below and in `--json`); \
             in each round the floor runs first, then every scenario in turn, so machine noise hits them alike, \
             and each ratio is the median of the per-round ratios. Client: keep-alive HTTP/1.1 connections in one \
             2-thread tokio runtime, every request to openice signed afresh ({:.1} µs of client CPU per signature). \
             {accounts} Mixed: {}.",
            s.runs, s.duration_s, s.warmup_s, self.signing_us, s.mixed,
        );
        for b in &self.backends {
            let seed = &b.seeding;
            out.push_str(&format!(
                " {}: {} projects seeded through {} ({} created in {:.1} s{}); media {}",
                b.label,
                seed.projects,
                if seed.via == "store" {
                    "openice::store"
                } else {
                    "the API"
                },
                seed.created,
                seed.seconds,
                seed.database_mib
                    .map_or(String::new(), |m| format!(", database {m:.0} MiB")),
                b.media
                    .status
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            if let Some(rss) = b.rss_after_rounds_mib {
                out.push_str(&format!("; RSS after the rounds {rss:.1} MiB"));
            }
            if let Some(wal) = b.sqlite_wal_mib {
                out.push_str(&format!(", SQLite WAL {wal:.0} MiB"));
            }
            out.push('.');
        }
        if let Some(o) = &self.other_load_cores {
            out.push_str(&format!(
                " Other processes on the machine used {:.2} cores on average during the measured runs (most in one run: {:.2}).",
                o.mean, o.max
            ));
        }
        out.push('\n');
        out
    }

    /// The whole report as markdown: header lines, the three tables, notes, problems.
    pub fn markdown(&self, aligned: bool) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Date: {} · machine: {} cores ({}), {} RAM · load average before / after: {} / {}\n\n\
             Command: `{}` (timeline row: `cargo bench --bench timeline`)\n\n",
            self.date,
            m.cores,
            m.cpu,
            m.memory_gib
                .map_or("unknown".into(), |g| format!("{g:.1} GiB")),
            m.load_average_before,
            m.load_average_after,
            self.command,
        );
        out.push_str(&self.requests_table().render(aligned));
        if !self.not_run.is_empty() {
            let reasons: Vec<String> = self
                .not_run
                .iter()
                .map(|n| format!("{} ({})", label_of(&n.backend), n.reason))
                .collect();
            out.push_str(&format!("\nNot run: {}.\n", reasons.join("; ")));
        }
        out.push('\n');
        out.push_str(&self.figures_table().render(aligned));
        out.push('\n');
        out.push_str(&self.notes());
        out.push_str("\nPer run:\n\n");
        out.push_str(&self.per_run_table().render(aligned));
        if !self.problems.is_empty() {
            out.push_str("\nProblems during the run:\n\n");
            for p in &self.problems {
                out.push_str(&format!("* {p}\n"));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// docs/benchmarks.md
// ---------------------------------------------------------------------------------------

const BEGIN: &str = "<!-- load-bench:begin (written by openice-bench) -->";
const BEGIN_PREFIX: &str = "<!-- load-bench:begin";
const END: &str = "<!-- load-bench:end -->";

/// Replaces the generated section of docs/benchmarks.md (between the markers) with
/// `section`; returns the file's path.
pub fn write_doc(section: &str) -> std::io::Result<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, replace_section(&text, section))?;
    Ok(path)
}

/// `text` with the generated section replaced (any begin marker's comment, so that older
/// writers' sections are found too), or with one appended when it has none.
fn replace_section(text: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{section}{END}\n");
    match (text.find(BEGIN_PREFIX), text.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let rest = text[e + END.len()..].trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{}{block}{gap}{rest}", &text[..b])
        }
        _ if text.trim().is_empty() => format!("# Benchmarks\n\n{block}"),
        _ => format!("{}\n\n## Latest results\n\n{block}", text.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_generated_section() {
        let doc = "# B\n\nintro\n\n<!-- load-bench:begin (written by cargo bench --bench load) -->\nold table\n<!-- load-bench:end -->\n\nnotes\n";
        let new = replace_section(doc, "new table\n");
        assert_eq!(
            new,
            format!("# B\n\nintro\n\n{BEGIN}\nnew table\n{END}\n\nnotes\n")
        );
        assert_eq!(replace_section(&new, "new table\n"), new, "idempotent");
        assert!(replace_section("# B\n", "t\n").ends_with(&format!("{BEGIN}\nt\n{END}\n")));
    }

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0].into_iter()), Some(2.5));
        assert_eq!(median([f64::NAN].into_iter()), None);
    }
}
