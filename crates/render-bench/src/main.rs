//! Render benchmark: three timelines rendered by openice and by a hand-written ffmpeg command
//! for the same edit, on the same generated files, in the same run, alternating. Both end with
//! the same frame-exact tail (`tpad` + `trim`) and use the same encoder settings.
//!
//! openice renders as a producing job by default: an `openice serve` on a temporary data dir
//! holds the sources as registered (probed) media, and the time is SubmitMediaProducingJob →
//! `Success` seen by polling (planning, ffmpeg, verifying the output and registering it
//! included). `--cli` times `openice render` on the plain files instead. Reports medians of
//! `--repeat` runs of wall and CPU seconds (openice with its ffmpeg/ffprobe children; ffmpeg
//! for the hand-written command), frame counts and SSIM between the two outputs
//! (docs/benchmarks.md).
//!
//! `cargo run --release -p render-bench` (builds nothing else: run `cargo build --release`
//! first so `target/release/openice` exists, or pass `--openice`).

mod server;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(about = "openice render vs a hand-written ffmpeg command")]
struct Args {
    /// The openice binary; default: `openice` next to this program.
    #[arg(long)]
    openice: Option<PathBuf>,
    /// Source and output size.
    #[arg(long, default_value_t = 1280)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
    /// Multiplies every clip length (1 = 10 s clips, 4 s for the crossfade chain).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Runs of each command (alternating); the medians are reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Time `openice render` (the CLI, sources probed with ffprobe) instead of a job.
    #[arg(long)]
    cli: bool,
    /// Keep the work directory (sources, timelines, outputs) here instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
}

const FPS: u32 = 30;
const BITRATE: u32 = 4000;

fn main() {
    let args = Args::parse();
    let openice = args.openice.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .expect("own path")
            .with_file_name("openice")
    });
    assert!(
        openice.is_file(),
        "{} not found: build it (cargo build --release) or pass --openice",
        openice.display()
    );
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).expect("--keep directory");
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let bench = Bench {
        dir,
        openice,
        w: args.width,
        h: args.height,
        scale: args.scale,
        repeat: args.repeat.max(1),
    };
    let specs: Vec<Spec> = [Case::Concat, Case::PipSubtitleMusic, Case::Crossfades]
        .into_iter()
        .map(|c| bench.spec(c))
        .collect();
    let library = (!args.cli).then(|| {
        let mut files: Vec<String> = specs.iter().flat_map(|s| s.inputs.clone()).collect();
        files.sort();
        files.dedup();
        let data = bench.dir.join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let server = server::Server::start(&bench.openice, &data, &files);
        let ids = files
            .iter()
            .map(|f| (f.clone(), server.register(f)))
            .collect::<HashMap<_, _>>();
        (server, ids)
    });
    let what = if args.cli {
        "openice render"
    } else {
        "openice job"
    };
    println!(
        "| timeline | {what} (s) | hand-written ffmpeg (s) | speed vs hand-written | CPU s {what} / hand | frames openice / hand / plan | SSIM |"
    );
    println!("|---|---|---|---|---|---|---|");
    for spec in &specs {
        bench.measure(spec, library.as_ref().map(|(s, ids)| (s, ids)));
    }
}

#[derive(Clone, Copy)]
enum Case {
    Concat,
    PipSubtitleMusic,
    Crossfades,
}

struct Bench {
    dir: PathBuf,
    openice: PathBuf,
    w: u32,
    h: u32,
    scale: f64,
    repeat: u32,
}

/// Encoder settings both sides use (what openice emits for `Bitrate` 4000 at 30 fps).
fn encoder() -> Vec<String> {
    let b = BITRATE;
    format!(
        "-c:v libx264 -preset veryfast -b:v {b}k -maxrate {}k -bufsize {}k -pix_fmt yuv420p -r {FPS} \
         -c:a aac -b:a 128k -ar 48000 -ac 2 -movflags +faststart",
        b * 2,
        b * 2
    )
    .split_whitespace()
    .map(String::from)
    .collect()
}

fn run(cmd: &mut Command) -> (f64, String) {
    let t = Instant::now();
    let out = cmd.output().expect("runs");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ffmpeg() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]);
    c
}

impl Bench {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// A `testsrc2` clip with a sine tone (`pattern` picks the look).
    fn source(&self, name: &str, pattern: &str, secs: f64, freq: u32) -> String {
        let path = self.path(name);
        if !Path::new(&path).exists() {
            run(ffmpeg()
                .args(["-f", "lavfi", "-i"])
                .arg(format!(
                    "{pattern}=s={}x{}:r={FPS}:d={secs}",
                    self.w, self.h
                ))
                .args(["-f", "lavfi", "-i"])
                .arg(format!("sine=frequency={freq}:sample_rate=48000:d={secs}"))
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-shortest",
                ])
                .arg(&path));
        }
        path
    }

    /// Makes the case's sources and says what both sides render.
    fn spec(&self, case: Case) -> Spec {
        let s = self.scale;
        let (name, timeline, inputs, graph, frames) = match case {
            Case::Concat => {
                let clip = 10.0 * s;
                let srcs: Vec<String> = (0..3)
                    .map(|i| self.source(&format!("c{i}.mp4"), "testsrc2", clip, 300 + 100 * i))
                    .collect();
                let frames = (3.0 * clip * FPS as f64).round() as u64;
                let clips: Vec<_> = srcs
                    .iter()
                    .map(|p| serde_json::json!({"MediaURL": p}))
                    .collect();
                let timeline = serde_json::json!({"VideoTracks":[{"VideoTrackClips": clips}]});
                let graph = format!(
                    "[0:v][0:a][1:v][1:a][2:v][2:a]concat=n=3:v=1:a=1[cv][a];\
                     [cv]setpts=N/{FPS}/TB,tpad=stop_mode=clone:stop={frames},trim=end_frame={frames}[v]"
                );
                ("3-clip concat", timeline, srcs, graph, frames)
            }
            Case::PipSubtitleMusic => {
                let len = 10.0 * s;
                let inset = 8.0 * s;
                let main = self.source("main.mp4", "testsrc2", len, 440);
                let pip = self.source("pip.mp4", "testsrc", inset, 660);
                let music = self.source("music.mp4", "color", len, 880);
                let (pw, ph) = (self.w * 7 / 20 / 2 * 2, self.h * 7 / 20 / 2 * 2);
                let (px, py) = (self.w * 3 / 5, self.h / 20);
                let text = "开源剪辑 openice";
                let size = self.h / 15;
                // What a person would write for libass: the output size as the canvas, the
                // caption at the top centre in the CJK font.
                std::fs::write(
                    self.path("sub.ass"),
                    format!(
                        "[Script Info]\nScriptType: v4.00+\nPlayResX: {}\nPlayResY: {}\n\n\
                         [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, OutlineColour, Outline, Alignment, MarginV\n\
                         Style: Default,WenQuanYi Zen Hei,{size},&H00FFFFFF,&H00000000,1,8,20\n\n\
                         [Events]\nFormat: Layer, Start, End, Style, Text\n\
                         Dialogue: 0,0:00:00.00,{},Default,{text}\n",
                        self.w,
                        self.h,
                        ass_time(len)
                    ),
                )
                .expect("writing the subtitle");
                let frames = (len * FPS as f64).round() as u64;
                let timeline = serde_json::json!({
                    "VideoTracks":[
                        {"VideoTrackClips":[{"MediaURL": main}]},
                        {"VideoTrackClips":[{"MediaURL": pip, "TimelineIn": 1.0 * s,
                            "X": px, "Y": py, "Width": pw, "Height": ph}]}],
                    "AudioTracks":[{"AudioTrackClips":[{"MediaURL": music}]}],
                    "SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content": text,
                        "Alignment":"TopCenter","FontSize": size}]}]});
                let graph = format!(
                    "[1:v]scale={pw}:{ph},setpts=PTS-STARTPTS+{}/TB[p];\
                     [0:v][p]overlay=x={px}:y={py}:eof_action=pass,\
                     ass=sub.ass,\
                     setpts=N/{FPS}/TB,tpad=stop_mode=clone:stop={frames},trim=end_frame={frames}[v];\
                     [0:a][2:a]amix=inputs=2:normalize=0:duration=first[a]",
                    1.0 * s
                );
                (
                    "picture-in-picture + subtitle + music",
                    timeline,
                    vec![main, pip, music],
                    graph,
                    frames,
                )
            }
            Case::Crossfades => {
                let clip = 4.0 * s;
                let fade = 0.5 * s;
                let srcs: Vec<String> = (0..20)
                    .map(|i| {
                        let pattern = if i % 2 == 0 { "testsrc2" } else { "testsrc" };
                        self.source(
                            &format!("x{}.mp4", i % 4),
                            pattern,
                            clip,
                            300 + 50 * (i % 4),
                        )
                    })
                    .collect();
                let per = (clip * FPS as f64).round() as u64;
                let ov = (fade * FPS as f64).round() as u64;
                let frames = 20 * per - 19 * ov;
                let clips: Vec<_> = srcs
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        if i < 19 {
                            serde_json::json!({"MediaURL": p, "Effects":[
                                {"Type":"Transition","SubType":"fade","Duration": fade}]})
                        } else {
                            serde_json::json!({"MediaURL": p})
                        }
                    })
                    .collect();
                let timeline = serde_json::json!({"VideoTracks":[{"VideoTrackClips": clips}]});
                let mut g = String::new();
                let (mut v, mut a) = ("0:v".to_owned(), "0:a".to_owned());
                for i in 1..20 {
                    let offset = i as f64 * (clip - fade);
                    g.push_str(&format!(
                        "[{v}][{i}:v]xfade=transition=fade:duration={fade}:offset={offset}[v{i}];\
                         [{a}][{i}:a]acrossfade=d={fade}[a{i}];"
                    ));
                    v = format!("v{i}");
                    a = format!("a{i}");
                }
                g.push_str(&format!(
                    "[{v}]setpts=N/{FPS}/TB,tpad=stop_mode=clone:stop={frames},trim=end_frame={frames}[v];[{a}]anull[a]"
                ));
                ("20 clips with crossfades", timeline, srcs, g, frames)
            }
        };
        Spec {
            name,
            tag: case as u8,
            timeline,
            inputs,
            graph,
            frames,
        }
    }

    /// Runs both sides `repeat` times, alternating, and prints the row of medians. With a
    /// server, openice renders `library` media (MediaIds) as a producing job.
    fn measure(&self, spec: &Spec, library: Option<(&server::Server, &HashMap<String, String>)>) {
        let tag = spec.tag;
        let config = serde_json::json!({"Width": self.w, "Height": self.h, "Bitrate": BITRATE,
            "Video": {"Fps": FPS}});
        let theirs = self.path(&format!("hand-{tag}.mp4"));
        let (mut ours, mut hand) = (Vec::new(), Vec::new());
        let (mut out, mut planned) = (PathBuf::new(), 0);
        for i in 0..self.repeat {
            let (secs, cpu) = match library {
                Some((server, ids)) => {
                    let timeline = with_media_ids(&spec.timeline, ids);
                    let before = server.cpu_secs();
                    let (secs, job, file) =
                        server.produce(&timeline, &config, &format!("out/openice-{tag}-{i}.mp4"));
                    let cpu = server.cpu_secs() - before;
                    planned = job["Duration"]
                        .as_f64()
                        .map_or(0, |d| (d * FPS as f64).round() as u64);
                    // The output's own registration probe runs after Success: let it finish
                    // outside both measurements.
                    server.wait_probed(job["MediaId"].as_str().expect("a MediaId"));
                    out = file;
                    (secs, cpu)
                }
                None => {
                    let tl = self.path(&format!("timeline-{tag}.json"));
                    std::fs::write(&tl, spec.timeline.to_string()).expect("writing the timeline");
                    out = self.dir.join(format!("openice-{tag}.mp4"));
                    let before = children_cpu_secs();
                    let (secs, report) = run(Command::new(&self.openice)
                        .args(["render", "--timeline", &tl, "-o"])
                        .arg(&out)
                        .arg("--output-config")
                        .arg(config.to_string()));
                    planned = serde_json::from_str::<serde_json::Value>(&report)
                        .ok()
                        .and_then(|r| r["Frames"].as_u64())
                        .unwrap_or(0);
                    (secs, children_cpu_secs() - before)
                }
            };
            ours.push((secs, cpu));
            let mut cmd = ffmpeg();
            cmd.current_dir(&self.dir);
            for i in &spec.inputs {
                cmd.args(["-i", i]);
            }
            cmd.args(["-filter_complex", &spec.graph, "-map", "[v]", "-map", "[a]"])
                .args(encoder())
                .arg(&theirs);
            let before = children_cpu_secs();
            let secs = run(&mut cmd).0;
            hand.push((secs, children_cpu_secs() - before));
            eprintln!(
                "{} run {}: openice {:.2} s ({:.2} CPU s), hand-written {:.2} s ({:.2} CPU s)",
                spec.name,
                i + 1,
                ours[i as usize].0,
                ours[i as usize].1,
                hand[i as usize].0,
                hand[i as usize].1
            );
        }
        let median = |runs: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
            let mut v: Vec<f64> = runs.iter().map(pick).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        let (t_ours, t_hand) = (median(&ours, |r| r.0), median(&hand, |r| r.0));
        let (c_ours, c_hand) = (median(&ours, |r| r.1), median(&hand, |r| r.1));
        let out = out.to_string_lossy();
        println!(
            "| {} | {t_ours:.2} | {t_hand:.2} | {:.2}× | {c_ours:.1} / {c_hand:.1} | {} / {} / {planned} (expected {}) | {:.4} |",
            spec.name,
            t_hand / t_ours,
            count(&out),
            count(&theirs),
            spec.frames,
            ssim(&out, &theirs)
        );
    }
}

/// What one timeline case renders on both sides.
struct Spec {
    name: &'static str,
    tag: u8,
    /// The Timeline, clips naming their files by MediaURL (local paths).
    timeline: serde_json::Value,
    /// The hand-written command's inputs, in its graph's order.
    inputs: Vec<String>,
    graph: String,
    frames: u64,
}

/// The timeline with every `MediaURL` of a registered file replaced by its `MediaId`.
fn with_media_ids(v: &serde_json::Value, ids: &HashMap<String, String>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(
                    |(k, v)| match (k.as_str(), v.as_str().and_then(|u| ids.get(u))) {
                        ("MediaURL", Some(id)) => ("MediaId".to_owned(), Value::from(id.clone())),
                        _ => (k.clone(), with_media_ids(v, ids)),
                    },
                )
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| with_media_ids(i, ids)).collect()),
        other => other.clone(),
    }
}

/// CPU seconds of this process's waited-for children so far (their children included).
fn children_cpu_secs() -> f64 {
    stat_cpu_secs("/proc/self/stat", false)
}

/// CPU seconds from a `/proc/<pid>/stat`: user + system of the waited-for children, and of the
/// process itself when `own`.
fn stat_cpu_secs(stat: &str, own: bool) -> f64 {
    static CLOCK_TICKS: OnceLock<f64> = OnceLock::new();
    let per_sec = *CLOCK_TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // After the parenthesised command name come state (field 3) … utime, stime, cutime,
    // cstime (fields 14–17).
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let skip = if own { 0 } else { 2 };
    fields.iter().skip(skip).sum::<u64>() as f64 / per_sec
}

fn ass_time(secs: f64) -> String {
    let cs = (secs * 100.0).round() as u64;
    format!(
        "{}:{:02}:{:02}.{:02}",
        cs / 360_000,
        cs / 6000 % 60,
        cs / 100 % 60,
        cs % 100
    )
}

fn count(file: &str) -> u64 {
    let (_, out) = run(Command::new("ffprobe").args([
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-count_packets",
        "-show_entries",
        "stream=nb_read_packets",
        "-of",
        "csv=p=0",
        file,
    ]));
    out.trim().parse().unwrap_or(0)
}

/// Mean SSIM (all planes) of `a` against `b`.
fn ssim(a: &str, b: &str) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i", a, "-i", b, "-lavfi"])
        .arg("[0:v][1:v]ssim")
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.split(" All:").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
