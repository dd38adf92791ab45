//! The renderer against real ffmpeg, on sources generated here (solid colours, sine tones,
//! 160x120, about a second each): frame counts equal the plan, colours before and at every
//! cut, picture-in-picture inside and outside its range, audio where planned and silence
//! elsewhere, a 20-clip crossfade chain exact to the frame, Chinese captions, and the project
//! Duration = plan duration = rendered duration.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use openice::domain::timeline::{ClipSource, Timeline};
use openice::render::{self, OutputSpec, Plan, RenderError, SourceFile};

/// A colour clip (with a sine tone when `tone` is given) of `secs` at 30 fps, 160x120.
fn make(dir: &Path, name: &str, color: &str, secs: f64, tone: Option<u32>) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color={color}:s=160x120:r=30:d={secs}"));
    if let Some(f) = tone {
        cmd.args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={f}:sample_rate=48000:d={secs}"))
            .args(["-c:a", "aac", "-shortest"]);
    }
    let ok = cmd
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(ok.success(), "making {name}");
    path
}

/// Runs `ffmpeg -v error -y <args>` (split at whitespace: no spaces in paths), which must
/// succeed.
fn ffmpeg(args: &str) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args.split_whitespace())
        .status()
        .expect("ffmpeg runs");
    assert!(ok.success(), "ffmpeg {args}");
}

fn make_image(dir: &Path, name: &str, color: &str) -> PathBuf {
    let path = dir.join(name);
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color={color}:s=160x120"))
        .args(["-frames:v", "1"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(ok.success());
    path
}

/// Mean RGB of frame `n` inside `crop` (`w:h:x:y`), decoded exactly (no seeking).
fn rgb(file: &Path, n: u64, crop: &str) -> [u8; 3] {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .arg("-vf")
        .arg(format!(
            "select=eq(n\\,{n}),crop={crop},scale=1:1:flags=area,format=rgb24"
        ))
        .args(["-frames:v", "1", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg runs");
    assert_eq!(out.stdout.len(), 3, "frame {n} of {}", file.display());
    [out.stdout[0], out.stdout[1], out.stdout[2]]
}

/// The colour class of a pixel: r, g, b, y(ellow), k (black), or ? for a blend.
fn class([r, g, b]: [u8; 3]) -> char {
    let hi = |c: u8| c > 90;
    let lo = |c: u8| c < 40;
    match (r, g, b) {
        _ if lo(r) && lo(g) && lo(b) => 'k',
        _ if hi(r) && lo(g) && lo(b) => 'r',
        _ if lo(r) && hi(g) && lo(b) => 'g',
        _ if lo(r) && lo(g) && hi(b) => 'b',
        _ if hi(r) && hi(g) && lo(b) => 'y',
        _ => '?',
    }
}

/// Frames in the video stream, counted by reading every packet.
fn frames(file: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a packet count")
}

/// Peak level (dB) of the audio in `[from, to)` seconds.
fn peak_db(file: &Path, from: f64, to: f64) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "info", "-nostats", "-i"])
        .arg(file)
        .arg("-af")
        .arg(format!("atrim=start={from}:end={to},volumedetect"))
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.split("max_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches("dB").trim().parse().ok())
        .unwrap_or(-120.0)
}

fn timeline(json: &str) -> Timeline {
    Timeline::parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// Every MediaURL of the timeline maps to the file of that name in `dir` (probed while planning).
fn sources(t: &Timeline, dir: &Path) -> HashMap<ClipSource, SourceFile> {
    t.sources()
        .into_iter()
        .map(|s| {
            let ClipSource::MediaUrl(name) = s else {
                panic!("tests use MediaURL")
            };
            (s.clone(), dir.join(name).into())
        })
        .collect()
}

async fn render(dir: &Path, json: &str, out: &OutputSpec) -> (Plan, PathBuf) {
    let t = timeline(json);
    let plan = render::plan(&t, &sources(&t, dir), out)
        .await
        .unwrap_or_else(|e| panic!("plan: {e}"));
    let output = dir.join("out.mp4");
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: u8| seen.lock().unwrap().push(p);
    render::execute(&plan, &output, &progress)
        .await
        .unwrap_or_else(|e| panic!("render: {e}\n{}", plan.describe()));
    let seen = seen.into_inner().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "progress rises: {seen:?}"
    );
    assert!(seen.iter().all(|p| *p <= 99), "{seen:?}");
    assert_eq!(frames(&output), plan.frames(), "{}", plan.describe());
    render::verify(&plan, &output)
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"));
    // Nothing but the output is left behind.
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    (plan, output)
}

const CENTRE: &str = "40:40:60:40";

#[tokio::test]
async fn cuts_gaps_images_speed_and_audio_land_on_planned_frames() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "red.mp4", "red", 2.0, Some(440));
    make(d, "green.mp4", "green", 2.0, None);
    make(d, "blue.mp4", "blue", 1.0, Some(880));
    make_image(d, "yellow.png", "yellow");
    // red 0.5–1.5 → [0,30); green at 2× → [30,60); gap [60,90); image [90,120);
    // blue muted → [120,150); blue → [150,180).
    let json = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaURL":"red.mp4","In":0.5,"Out":1.5},
        {"MediaURL":"green.mp4","Speed":2},
        {"Type":"Image","MediaURL":"yellow.png","Duration":1,"TimelineIn":3},
        {"MediaURL":"blue.mp4","Effects":[{"Type":"Volume","Gain":0}]},
        {"MediaURL":"blue.mp4"}]}]}"#;
    let (plan, out) = render(d, json, &OutputSpec::default()).await;
    assert_eq!(plan.frames(), 180);
    assert_eq!((plan.width, plan.height, plan.fps), (160, 128, (30, 1)));
    for (frame, want) in [
        (0, 'r'),
        (29, 'r'),
        (30, 'g'),
        (59, 'g'),
        (60, 'k'),
        (89, 'k'),
        (90, 'y'),
        (119, 'y'),
        (120, 'b'),
        (179, 'b'),
    ] {
        let c = rgb(&out, frame, CENTRE);
        assert_eq!(class(c), want, "frame {frame}: {c:?}");
    }
    for ((from, to), loud) in [
        ((0.1, 0.9), true),
        ((1.1, 1.9), false),
        ((2.1, 2.9), false),
        ((3.1, 3.9), false),
        ((4.1, 4.9), false),
        ((5.1, 5.9), true),
    ] {
        let db = peak_db(&out, from, to);
        assert_eq!(db > -30.0, loud, "[{from}, {to}): {db} dB");
        if !loud {
            assert!(db < -70.0, "[{from}, {to}): {db} dB");
        }
    }
}

#[tokio::test]
async fn picture_in_picture_music_and_chinese_captions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "blue.mp4", "blue", 2.0, None);
    make(d, "red.mp4", "red", 1.0, None);
    make(d, "tone.m4a", "black", 1.0, Some(440));
    let json = r##"{"VideoTracks":[
          {"VideoTrackClips":[{"MediaURL":"blue.mp4"}]},
          {"VideoTrackClips":[{"MediaURL":"red.mp4","TimelineIn":0.5,
             "X":0.5,"Y":0.5,"Width":0.25,"Height":0.25}]}],
        "AudioTracks":[{"AudioTrackClips":[{"MediaURL":"tone.m4a","TimelineIn":1}]}],
        "SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content":"你好世界",
          "Alignment":"TopCenter","FontSize":40,"FontColor":"#ffffff","TimelineOut":1}]}]}"##;
    let (plan, out) = render(
        d,
        json,
        &OutputSpec {
            width: Some(320),
            height: Some(240),
            ..OutputSpec::default()
        },
    )
    .await;
    assert_eq!(plan.frames(), 60);
    // The PiP box is 80x60 at (160, 120), shown on frames [15, 45).
    let pip = "60:40:170:130";
    for (frame, want) in [(14, 'b'), (15, 'r'), (44, 'r'), (45, 'b')] {
        let c = rgb(&out, frame, pip);
        assert_eq!(class(c), want, "PiP at frame {frame}: {c:?}");
    }
    for frame in [15, 44] {
        let c = rgb(&out, frame, "60:40:20:130");
        assert_eq!(class(c), 'b', "outside the PiP at frame {frame}: {c:?}");
    }
    assert!(peak_db(&out, 0.1, 0.9) < -70.0);
    assert!(peak_db(&out, 1.1, 1.9) > -30.0);
    // The caption: bright glyph pixels at the top while it is shown, none after.
    let top = "160:44:80:4";
    let with = rgb(&out, 10, top);
    let without = rgb(&out, 40, top);
    assert_eq!(class(without), 'b', "{without:?}");
    assert!(
        with[0] > without[0] + 25 && with[1] > without[1] + 25,
        "caption pixels: {with:?} vs {without:?}"
    );
}

#[tokio::test]
async fn twenty_clip_crossfade_chain_is_exact_and_durations_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let colors = ["red", "green", "blue"];
    for c in colors {
        make(d, &format!("{c}.mp4"), c, 1.0, None);
    }
    let clips: Vec<String> = (0..20)
        .map(|i| {
            let fx = if i < 19 {
                r#","Effects":[{"Type":"Transition","SubType":"fade","Duration":0.2}]"#
            } else {
                ""
            };
            format!(r#"{{"MediaURL":"{}.mp4"{fx}}}"#, colors[i % 3])
        })
        .collect();
    let json = format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
        clips.join(",")
    );
    // 20 × 30 frames, 19 overlaps of 6.
    let t = timeline(&json);
    let project = t.duration(|_| Some(1.0));
    let (plan, out) = render(d, &json, &OutputSpec::default()).await;
    assert_eq!(plan.frames(), 20 * 30 - 19 * 6);
    assert_eq!(project, 16.2);
    assert_eq!(plan.duration_secs(), project);
    assert_eq!(frames(&out) as f64 / 30.0, project);
    let letter = |i: usize| ['r', 'g', 'b'][i % 3];
    for i in 1..20u64 {
        let cut = 24 * i;
        let (before, after) = (rgb(&out, cut, CENTRE), rgb(&out, cut + 6, CENTRE));
        assert_eq!(
            class(before),
            letter(i as usize - 1),
            "clip {i} starts: {before:?}"
        );
        assert_eq!(
            class(after),
            letter(i as usize),
            "clip {i} alone: {after:?}"
        );
        assert_eq!(class(rgb(&out, cut + 3, CENTRE)), '?', "blend at clip {i}");
    }
}

#[tokio::test]
async fn missing_sources_and_bad_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let t = timeline(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"none.mp4"}]}]}"#);
    match render::plan(&t, &sources(&t, dir.path()), &OutputSpec::default()).await {
        Err(RenderError::Source { source, message }) => {
            assert_eq!(source, "MediaURL none.mp4");
            assert!(message.contains("not a readable media file"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A file that does not hold the planned frames fails verification, saying so.
    make(dir.path(), "second.mp4", "red", 1.0, None);
    let t =
        timeline(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"second.mp4","Out":0.5}]}]}"#);
    let plan = render::plan(&t, &sources(&t, dir.path()), &OutputSpec::default())
        .await
        .unwrap();
    let err = render::verify(&plan, &dir.path().join("second.mp4"))
        .await
        .unwrap_err();
    assert_eq!(err, "The output has 30 video frames; the plan has 15.");
    let t = timeline(r#"{"AudioTracks":[{"AudioTrackClips":[]}]}"#);
    assert!(matches!(
        render::check(&t),
        Err(RenderError::Invalid { field, .. }) if field == "Timeline"
    ));
}

/// Library media plan from their stored probe (no ffprobe run), to the same plan as probing
/// the files: audio and mute video, a still image, an NTSC-rate rotated video that sets the
/// output rate and size, and an audio-only source.
#[tokio::test]
async fn a_plan_from_stored_probes_equals_the_plan_from_ffprobe() {
    use openice::media::probe::{ProbeLimits, probe};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "tone.mp4", "red", 1.0, Some(440));
    make(d, "mute.mp4", "green", 1.0, None);
    make_image(d, "still.png", "blue");
    let d_ = d.display();
    ffmpeg(&format!(
        "-f lavfi -i color=yellow:s=160x120:r=60000/1001:d=1 \
         -f lavfi -i sine=frequency=220:sample_rate=44100:d=1 \
         -c:v libx264 -preset ultrafast -c:a aac -shortest {d_}/upright.mp4"
    ));
    // ffmpeg 5.1 keeps the rotate tag (as a display matrix) only when copying.
    ffmpeg(&format!(
        "-i {d_}/upright.mp4 -c copy -metadata:s:v:0 rotate=90 {d_}/rotated.mp4"
    ));
    ffmpeg(&format!(
        "-f lavfi -i sine=frequency=330:sample_rate=48000:d=2 -c:a aac {d_}/music.m4a"
    ));
    let t = timeline(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"tone.mp4"},{"MediaURL":"mute.mp4","In":0.2},
            {"MediaURL":"still.png","Type":"Image","Duration":0.5},{"MediaURL":"rotated.mp4"}]}],
            "AudioTracks":[{"AudioTrackClips":[{"MediaURL":"music.m4a"}]}]}"#,
    );
    let probed = render::plan(&t, &sources(&t, d), &OutputSpec::default())
        .await
        .unwrap();
    assert_eq!(probed.fps, (60000, 1001), "{}", probed.describe());
    assert_eq!(
        (probed.width, probed.height),
        (160, 160),
        "rotation applied"
    );
    let mut library = HashMap::new();
    for (source, file) in sources(&t, d) {
        let stored = probe(&file.path.to_string_lossy(), &ProbeLimits::default())
            .await
            .unwrap();
        let json = serde_json::to_string(&stored).unwrap();
        library.insert(source, SourceFile::library(file.path, Some(&json)));
    }
    // Same-sized garbage in place of every file: only the stored facts can plan them now.
    for file in library.values() {
        let len = std::fs::metadata(&file.path).unwrap().len();
        std::fs::write(&file.path, vec![0u8; len as usize]).unwrap();
    }
    let stored = render::plan(&t, &library, &OutputSpec::default())
        .await
        .unwrap_or_else(|e| panic!("planning from stored probes ran ffprobe: {e}"));
    assert_eq!(
        stored,
        probed,
        "{}\n{}",
        stored.describe(),
        probed.describe()
    );
    // A file changed since its probe (another size) is probed again, which names it.
    std::fs::write(d.join("mute.mp4"), b"not a video").unwrap();
    match render::plan(&t, &library, &OutputSpec::default()).await {
        Err(RenderError::Source { source, .. }) => assert_eq!(source, "MediaURL mute.mp4"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cli_renders_oss_objects_and_prints_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let objects = d.join("buckets/my-bucket/in");
    std::fs::create_dir_all(&objects).unwrap();
    make(&objects, "red.mp4", "red", 1.0, Some(440));
    make(d, "green.mp4", "green", 1.0, None);
    let timeline = d.join("t.json");
    std::fs::write(
        &timeline,
        format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaURL":"oss://my-bucket/in/red.mp4"}},{{"MediaURL":"{}"}}]}}]}}"#,
            d.join("green.mp4").display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_openice");
    let plan = Command::new(bin)
        .args(["render", "--plan", "--timeline"])
        .arg(&timeline)
        .arg("--data-dir")
        .arg(d)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(text.contains("60 frames"), "{text}");
    assert!(text.contains("-filter_complex_script"), "{text}");
    let out = d.join("out.mp4");
    let run = Command::new(bin)
        .args(["render", "--timeline"])
        .arg(&timeline)
        .arg("--data-dir")
        .arg(d)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["Frames"], 60);
    assert_eq!(frames(&out), 60);
    assert_eq!(class(rgb(&out, 29, CENTRE)), 'r');
    assert_eq!(class(rgb(&out, 30, CENTRE)), 'g');
    // A refused effect fails before any work, naming it.
    std::fs::write(
        &timeline,
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"x.mp4","Effects":[{"Type":"Filter","SubType":"m1"}]}]}]}"#,
    )
    .unwrap();
    let refused = Command::new(bin)
        .args(["render", "--timeline"])
        .arg(&timeline)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("effect Filter m1 is not supported"), "{err}");
}

#[tokio::test]
async fn long_timelines_render_in_segments_with_audio_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let colors = ["red", "green", "blue"];
    for c in colors {
        make(d, &format!("{c}.mp4"), c, 0.2, None);
    }
    make(d, "tone.m4a", "black", 10.0, Some(440));
    // 45 clips of 6 frames (more inputs than one ffmpeg run takes), a crossfade within the
    // first segment, and a tone under all of it.
    let clips: Vec<String> = (0..45)
        .map(|i| {
            let fx = if i == 2 {
                r#","Effects":[{"Type":"Transition","Duration":0.1}]"#
            } else {
                ""
            };
            format!(r#"{{"MediaURL":"{}.mp4"{fx}}}"#, colors[i % 3])
        })
        .collect();
    let json = format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}],
            "AudioTracks":[{{"AudioTrackClips":[{{"MediaURL":"tone.m4a"}}]}}]}}"#,
        clips.join(",")
    );
    let (plan, out) = render(d, &json, &OutputSpec::default()).await;
    assert!(
        plan.describe().contains("video segments"),
        "{}",
        plan.describe()
    );
    assert_eq!(plan.frames(), 45 * 6 - 3);
    let start = |i: u64| if i <= 2 { 6 * i } else { 6 * i - 3 };
    for i in 3..45u64 {
        // Clip 3 fades in over frames [15, 18): it stands alone from 18.
        if i == 3 {
            assert_eq!(class(rgb(&out, 14, CENTRE)), 'b');
            assert_eq!(class(rgb(&out, 16, CENTRE)), '?');
            assert_eq!(class(rgb(&out, 18, CENTRE)), 'r');
            continue;
        }
        let at = start(i);
        assert_eq!(
            class(rgb(&out, at - 1, CENTRE)),
            ['r', 'g', 'b'][(i as usize - 1) % 3],
            "before clip {i}"
        );
        assert_eq!(
            class(rgb(&out, at, CENTRE)),
            ['r', 'g', 'b'][i as usize % 3],
            "clip {i}"
        );
    }
    // One continuous tone: no gap at the segment joins.
    let detect = Command::new("ffmpeg")
        .args(["-v", "info", "-nostats", "-i"])
        .arg(&out)
        .args(["-af", "silencedetect=noise=-40dB:d=0.03", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&detect.stderr);
    assert!(
        detect.status.success() && log.contains("Output #0"),
        "{log}"
    );
    assert!(!log.contains("silence_start"), "{log}");
    assert!(peak_db(&out, 0.0, plan.duration_secs()) > -30.0);
}

#[tokio::test]
async fn backgrounds_adapt_modes_afade_and_max_duration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "red.mp4", "red", 1.0, None);
    make(d, "blue.mp4", "blue", 1.0, None);
    make(d, "tone.m4a", "black", 2.0, Some(440));
    // A 320x128 canvas: a 4:3 source leaves 75 px bars left and right.
    let json = r##"{"VideoTracks":[
          {"VideoTrackClips":[
            {"MediaURL":"red.mp4","Effects":[{"Type":"Background","SubType":"Color","Color":"#00FF00"}]},
            {"MediaURL":"red.mp4","Effects":[{"Type":"Background","SubType":"Blur","Radius":0.1}]},
            {"MediaURL":"blue.mp4"}]},
          {"VideoTrackClips":[
            {"MediaURL":"blue.mp4","X":240,"Y":20,"Width":40,"Height":80,"AdaptMode":"Cover"},
            {"MediaURL":"blue.mp4","X":240,"Y":20,"Width":40,"Height":80,"AdaptMode":"Contain"}]}],
        "AudioTracks":[{"AudioTrackClips":[{"MediaURL":"tone.m4a",
          "Effects":[{"Type":"AFade","SubType":"In","Duration":1}]}]}]}"##;
    let out_spec = OutputSpec::from_output_media_config(
        &serde_json::json!({"Width":320,"Height":128,"MaxDuration":2}),
    )
    .unwrap();
    let (plan, out) = render(d, json, &out_spec).await;
    assert_eq!(plan.frames(), 60, "MaxDuration cuts the third clip");
    let bar = "40:40:20:40";
    assert_eq!(class(rgb(&out, 10, bar)), 'g', "Color background");
    assert_eq!(class(rgb(&out, 10, "40:40:140:40")), 'r');
    let blurred = rgb(&out, 40, bar);
    assert_eq!(
        class(blurred),
        'r',
        "Blur background shows the clip: {blurred:?}"
    );
    // Cover fills the 40x80 box; Contain letterboxes a 40x30 picture inside it.
    let box_top = "30:16:245:22";
    assert_eq!(class(rgb(&out, 10, box_top)), 'b', "Cover");
    assert_eq!(
        class(rgb(&out, 40, box_top)),
        'k',
        "Contain letterboxes in black"
    );
    assert_eq!(class(rgb(&out, 40, "30:20:245:50")), 'b', "Contain picture");
    // The fade-in: quiet at the start, full after a second.
    let (early, late) = (peak_db(&out, 0.0, 0.1), peak_db(&out, 1.2, 1.9));
    assert!(early < late - 12.0, "{early} dB vs {late} dB");
}

/// Dropping a running render kills ffmpeg and leaves no temporary file.
#[tokio::test]
async fn a_dropped_render_kills_ffmpeg_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "red.mp4", "red", 1.0, None);
    let json = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"red.mp4","Speed":0.1}]}]}"#;
    let t = timeline(json);
    let plan = render::plan(
        &t,
        &sources(&t, d),
        &OutputSpec {
            width: Some(1280),
            height: Some(720),
            ..OutputSpec::default()
        },
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = move |p: u8| {
        let _ = tx.send(p);
    };
    let output = d.join("out.mp4");
    tokio::select! {
        r = render::execute(&plan, &output, &progress) => panic!("finished too soon: {r:?}"),
        _ = rx.recv() => {}
    }
    // The future is dropped: its ffmpeg (working in `d`) is gone within moments.
    let ffmpeg_in_dir = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .any(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == d))
    };
    let mut gone = false;
    for _ in 0..50 {
        if !ffmpeg_in_dir() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "ffmpeg still runs");
    assert!(!output.exists());
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// ffmpeg dies with the process that started it, even when that is killed with SIGKILL (its
/// parent-death signal; a closed progress pipe would also end it).
#[test]
fn ffmpeg_never_outlives_a_killed_renderer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make(d, "red.mp4", "red", 1.0, None);
    let timeline = d.join("t.json");
    std::fs::write(
        &timeline,
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"red.mp4","Speed":0.1}]}]}"#,
    )
    .unwrap();
    let mut cli = Command::new(env!("CARGO_BIN_EXE_openice"))
        .args([
            "render",
            "--output-config",
            r#"{"Width":1920,"Height":1080}"#,
        ])
        .arg("--timeline")
        .arg(&timeline)
        .arg("-o")
        .arg(d.join("out.mp4"))
        .current_dir(d)
        .spawn()
        .unwrap();
    let ffmpeg_in_dir = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c == d))
            .any(|e| {
                std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                    c.starts_with(b"ffmpeg") || c.windows(7).any(|w| w == b"/ffmpeg")
                })
            })
    };
    let started = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        ffmpeg_in_dir()
    });
    assert!(started, "ffmpeg did not start");
    cli.kill().unwrap();
    cli.wait().unwrap();
    let gone = (0..50).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        !ffmpeg_in_dir()
    });
    assert!(gone, "ffmpeg outlived the renderer");
}
