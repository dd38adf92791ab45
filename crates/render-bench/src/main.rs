//! Render benchmark: three timelines rendered by `openice render` and by a hand-written ffmpeg
//! command for the same edit, on the same generated files, in the same run. Both commands end
//! with the same frame-exact tail (`tpad` + `trim`) and use the same encoder settings. Reports
//! the wall-time ratio, frame counts and SSIM between the two outputs (docs/benchmarks.md).
//!
//! `cargo run --release -p render-bench` (builds nothing else: run `cargo build --release`
//! first so `target/release/openice` exists, or pass `--openice`).

use std::path::{Path, PathBuf};
use std::process::Command;
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
    /// Runs of each command (alternating); the fastest of each counts, since the machine may
    /// be shared.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
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
    println!(
        "| timeline | openice render (s) | hand-written ffmpeg (s) | speed vs hand-written | frames openice / hand / plan | SSIM |"
    );
    println!("|---|---|---|---|---|---|");
    for case in [Case::Concat, Case::PipSubtitleMusic, Case::Crossfades] {
        bench.run(case);
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

    fn run(&self, case: Case) {
        let s = self.scale;
        let (name, timeline, hand_inputs, graph, frames) = match case {
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
        let tag = case as u8;
        let tl = self.path(&format!("timeline-{tag}.json"));
        std::fs::write(&tl, timeline.to_string()).expect("writing the timeline");
        let ours = self.path(&format!("openice-{tag}.mp4"));
        let theirs = self.path(&format!("hand-{tag}.mp4"));
        let (mut t_ours, mut t_hand) = (f64::INFINITY, f64::INFINITY);
        let mut planned = 0;
        for _ in 0..self.repeat {
            let (t, report) = run(Command::new(&self.openice)
                .args(["render", "--timeline", &tl, "-o", &ours, "--output-config"])
                .arg(
                    serde_json::json!({"Width": self.w, "Height": self.h, "Bitrate": BITRATE,
                        "Video": {"Fps": FPS}})
                    .to_string(),
                ));
            t_ours = t_ours.min(t);
            planned = serde_json::from_str::<serde_json::Value>(&report)
                .ok()
                .and_then(|r| r["Frames"].as_u64())
                .unwrap_or(0);
            let mut hand = ffmpeg();
            hand.current_dir(&self.dir);
            for i in &hand_inputs {
                hand.args(["-i", i]);
            }
            hand.args(["-filter_complex", &graph, "-map", "[v]", "-map", "[a]"])
                .args(encoder())
                .arg(&theirs);
            t_hand = t_hand.min(run(&mut hand).0);
        }
        println!(
            "| {name} | {t_ours:.2} | {t_hand:.2} | {:.2}× | {} / {} / {planned} (expected {frames}) | {:.4} |",
            t_hand / t_ours,
            count(&ours),
            count(&theirs),
            ssim(&ours, &theirs)
        );
    }
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
