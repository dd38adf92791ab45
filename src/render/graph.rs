//! Emit: a [`Plan`] becomes the ffmpeg arguments and one `-filter_complex_script` graph.
//!
//! Shape (docs/rendering.md): every visual clip is cut to its exact frame count
//! (`setpts`/`fps`/`tpad`/`trim`) and fitted to its box; clips of one track that follow each
//! other form a run (`concat`, or `xfade` across a transition); the bottom track's runs and
//! black gaps are one concatenated base stream when they cover the full frame, otherwise the
//! base is a black canvas; every other run is overlaid at its start frame. The base ends in the
//! frame-exact tail (`tpad` + `trim` to the planned count). Audio: every clip's audio is cut
//! to its sample count, retimed (`atempo` chain), gained, faded and delayed to its start, mixed
//! once with `amix normalize=0` (no halving), padded and cut to the planned length.

use std::fmt::Write as _;

use super::plan::{Backdrop, Fit, Layer, Plan, SAMPLE_RATE, Streams};

/// Vendor transition names (timeline.md §1.7) → ffmpeg `xfade` transitions. ffmpeg's own names
/// are accepted as themselves; the vendor's gl-transitions without an xfade twin map to the
/// closest one; anything else is refused by `check`.
const TRANSITIONS: &[(&str, &str)] = &[
    ("directional", "slideleft"),
    ("directionalwipe", "wipeleft"),
    ("simplezoom", "zoomin"),
    ("windowslice", "hrslice"),
    ("linearblur", "hblur"),
    ("doorway", "horzopen"),
    ("crosswarp", "smoothleft"),
    ("fadecolor", "fadeblack"),
    ("fadegrayscale", "fadegrays"),
    ("circle", "circleopen"),
];

/// xfade transitions of ffmpeg 5.1.
const XFADE: &[&str] = &[
    "fade",
    "wipeleft",
    "wiperight",
    "wipeup",
    "wipedown",
    "slideleft",
    "slideright",
    "slideup",
    "slidedown",
    "circlecrop",
    "rectcrop",
    "distance",
    "fadeblack",
    "fadewhite",
    "radial",
    "smoothleft",
    "smoothright",
    "smoothup",
    "smoothdown",
    "circleopen",
    "circleclose",
    "vertopen",
    "vertclose",
    "horzopen",
    "horzclose",
    "dissolve",
    "pixelize",
    "diagtl",
    "diagtr",
    "diagbl",
    "diagbr",
    "hlslice",
    "hrslice",
    "vuslice",
    "vdslice",
    "hblur",
    "fadegrays",
    "wipetl",
    "wipetr",
    "wipebl",
    "wipebr",
    "squeezeh",
    "squeezev",
    "zoomin",
];

/// The xfade transition for a vendor `Transition` SubType (case-insensitive); `None` when the
/// renderer has none. An empty SubType is a plain fade.
pub fn xfade_name(vendor: &str) -> Option<&'static str> {
    let v = vendor.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Some("fade");
    }
    XFADE
        .iter()
        .find(|x| **x == v)
        .copied()
        .or_else(|| TRANSITIONS.iter().find(|(k, _)| *k == v).map(|(_, x)| *x))
}

/// The vendor names mapped to something other than themselves, for documentation and tests.
pub fn transition_table() -> impl Iterator<Item = (&'static str, &'static str)> {
    TRANSITIONS.iter().copied()
}

/// Script file name ffmpeg reads the graph from (relative to its working directory).
pub(super) const SCRIPT_ARG: &str = "-filter_complex_script";

fn secs(frames: u64, (n, d): (u32, u32)) -> String {
    format!("{:.6}", frames as f64 * d as f64 / n as f64)
}

/// ffmpeg arguments (without the program name) reading the graph from `graph.txt` relative to
/// the working directory and writing `output`.
pub(super) fn args(plan: &Plan, output: &str) -> Vec<String> {
    args_with_script(plan, "graph.txt", output)
}

pub(super) fn args_with_script(plan: &Plan, script: &str, output: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    let (n, d) = plan.fps;
    for input in &plan.inputs {
        if input.image {
            a.extend([
                "-loop".into(),
                "1".into(),
                "-framerate".into(),
                format!("{n}/{d}"),
            ]);
        } else if input.seek > 0.0 {
            a.extend(["-ss".into(), format!("{:.6}", input.seek)]);
        }
        a.extend(["-t".into(), format!("{:.6}", input.length), "-i".into()]);
        a.push(input.path.to_string_lossy().into_owned());
    }
    a.extend([SCRIPT_ARG.into(), script.into()]);
    if plan.streams != Streams::Audio {
        a.extend(["-map".into(), "[vout]".into()]);
    }
    if plan.streams != Streams::Video {
        a.extend(["-map".into(), "[aout]".into()]);
    }
    if plan.streams != Streams::Audio {
        a.extend(["-c:v", "libx264", "-preset", "veryfast"].map(String::from));
        match plan.bitrate_kbps {
            Some(b) => a.extend([
                "-b:v".into(),
                format!("{b}k"),
                "-maxrate".into(),
                format!("{}k", b * 2),
                "-bufsize".into(),
                format!("{}k", b * 2),
            ]),
            None => a.extend(["-crf".into(), "23".into()]),
        }
        a.extend(["-pix_fmt", "yuv420p", "-r"].map(String::from));
        a.push(format!("{n}/{d}"));
    }
    if plan.streams != Streams::Video {
        a.extend(["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"].map(String::from));
    }
    a.extend(
        [
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-progress",
            "pipe:1",
            "-nostats",
        ]
        .map(String::from),
    );
    a.push(output.to_owned());
    a
}

/// The filter graph. `ass` is the caption file name (used only when the plan has captions).
pub(super) fn script(plan: &Plan, ass: &str) -> String {
    let mut g = String::new();
    if plan.streams != Streams::Audio {
        video(&mut g, plan, ass);
    }
    if plan.streams != Streams::Video {
        audio(&mut g, plan);
    }
    // Statements end in `;`; one after the last would be an empty filter.
    let end = g.trim_end().trim_end_matches(';').len();
    g.truncate(end);
    g.push('\n');
    g
}

fn video(g: &mut String, plan: &Plan, ass: &str) {
    let (n, d) = plan.fps;
    let total = plan.frames;
    for (i, l) in plan.layers.iter().enumerate() {
        clip_chain(g, plan, i, l);
    }
    // Runs: consecutive layers of one track that follow each other with the same box.
    let mut runs: Vec<Run> = Vec::new();
    for (i, l) in plan.layers.iter().enumerate() {
        let joins = runs.last().is_some_and(|r: &Run| {
            let prev = &plan.layers[r.last];
            prev.track == l.track
                && prev.rect == l.rect
                && prev.opacity == l.opacity
                && match prev.transition {
                    Some((_, ov)) => l.start + ov == prev.end,
                    None => l.start == prev.end,
                }
        });
        if joins {
            let r = runs.last_mut().expect("joins implies a run");
            r.last = i;
            r.end = l.end;
        } else {
            runs.push(Run {
                first: i,
                last: i,
                start: l.start,
                end: l.end,
            });
        }
    }
    for (k, r) in runs.iter().enumerate() {
        run_chain(g, plan, k, r);
    }
    // Base: the bottom track's runs with black gaps when they all cover the full frame.
    let full = |r: &Run| {
        (r.first..=r.last).all(|i| {
            let l = &plan.layers[i];
            l.track == 0
                && l.opacity >= 1.0
                && l.rect.x == 0
                && l.rect.y == 0
                && l.rect.w == plan.width
                && l.rect.h == plan.height
        })
    };
    let bottom: Vec<usize> = (0..runs.len())
        .filter(|k| plan.layers[runs[*k].first].track == 0)
        .collect();
    let base_runs: Vec<usize> = if !bottom.is_empty()
        && bottom.iter().all(|k| full(&runs[*k]))
        && bottom
            .windows(2)
            .all(|w| runs[w[0]].end <= runs[w[1]].start)
    {
        bottom
    } else {
        Vec::new()
    };
    let black = |g: &mut String, frames: u64, label: &str| {
        let _ = writeln!(
            g,
            "color=c=black:s={}x{}:r={n}/{d},trim=end_frame={frames},setsar=1,format=yuv420p[{label}];",
            plan.width, plan.height
        );
    };
    if base_runs.is_empty() {
        black(g, total, "base");
    } else {
        let mut pieces = Vec::new();
        let mut cursor = 0;
        for k in &base_runs {
            let r = &runs[*k];
            if r.start > cursor {
                let label = format!("gap{k}");
                black(g, r.start - cursor, &label);
                pieces.push(label);
            }
            pieces.push(format!("run{k}"));
            cursor = r.end;
        }
        for p in &pieces {
            let _ = write!(g, "[{p}]");
        }
        let _ = writeln!(
            g,
            "concat=n={}:v=1:a=0,tpad=stop_mode=add:stop={total}:color=black,trim=end_frame={total}[base];",
            pieces.len()
        );
    }
    let mut last = "base".to_owned();
    for (k, r) in runs.iter().enumerate() {
        if base_runs.contains(&k) {
            continue;
        }
        let l = &plan.layers[r.first];
        let _ = writeln!(
            g,
            "[run{k}]setpts=PTS-STARTPTS+{}/{n}/TB[at{k}];[{last}][at{k}]overlay=x={}:y={}:eof_action=pass[ov{k}];",
            r.start * d as u64,
            l.rect.x,
            l.rect.y
        );
        last = format!("ov{k}");
    }
    let captions = if plan.captions.is_empty() {
        String::new()
    } else {
        format!("ass=filename={ass},")
    };
    let _ = writeln!(g, "[{last}]{captions}format=yuv420p[vout];");
}

struct Run {
    first: usize,
    last: usize,
    start: u64,
    end: u64,
}

/// `[c{i}]`: the clip's exact frames, fitted to its box.
fn clip_chain(g: &mut String, plan: &Plan, i: usize, l: &Layer) {
    let (n, d) = plan.fps;
    let frames = l.end - l.start;
    let speed = if l.speed == 1.0 {
        "PTS-STARTPTS".to_owned()
    } else {
        format!("(PTS-STARTPTS)/{}", l.speed)
    };
    // A source shorter than its span holds its last frame.
    let _ = write!(
        g,
        "[{}:v]setpts={speed},fps={n}/{d},tpad=stop_mode=clone:stop={frames},trim=end_frame={frames},setpts=PTS-STARTPTS,",
        l.input
    );
    let (w, h) = (l.rect.w, l.rect.h);
    let alpha = if l.opacity < 1.0 {
        format!(",format=yuva420p,colorchannelmixer=aa={}", l.opacity)
    } else {
        ",format=yuv420p".to_owned()
    };
    match (l.fit, &l.backdrop) {
        _ if l.source_size == Some((w, h)) => {
            let _ = writeln!(g, "setsar=1{alpha}[c{i}];");
        }
        (Fit::Fill, _) => {
            let _ = writeln!(g, "scale={w}:{h},setsar=1{alpha}[c{i}];");
        }
        (Fit::Cover, _) => {
            let _ = writeln!(
                g,
                "scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1{alpha}[c{i}];"
            );
        }
        (Fit::Contain, Backdrop::Color(c)) => {
            let _ = writeln!(
                g,
                "scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color={c},setsar=1{alpha}[c{i}];"
            );
        }
        (Fit::Contain, Backdrop::Blur(sigma)) => {
            let _ = writeln!(
                g,
                "split[cf{i}][cb{i}];[cb{i}]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},gblur=sigma={sigma:.2}[cbb{i}];\
                 [cf{i}]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2[cff{i}];\
                 [cbb{i}][cff{i}]overlay=(W-w)/2:(H-h)/2,setsar=1{alpha}[c{i}];"
            );
        }
    }
}

/// `[run{k}]`: the run's clips joined by `concat` or, across a transition, `xfade`.
fn run_chain(g: &mut String, plan: &Plan, k: usize, r: &Run) {
    let mut acc = format!("c{}", r.first);
    let mut len = plan.layers[r.first].end - plan.layers[r.first].start;
    let mut xfades = false;
    for i in r.first + 1..=r.last {
        let (prev, l) = (&plan.layers[i - 1], &plan.layers[i]);
        let next = format!("j{i}");
        match prev.transition {
            Some((name, ov)) => {
                xfades = true;
                let _ = writeln!(
                    g,
                    "[{acc}][c{i}]xfade=transition={name}:duration={}:offset={}[{next}];",
                    secs(ov, plan.fps),
                    secs(len - ov, plan.fps)
                );
                len += (l.end - l.start) - ov;
            }
            None => {
                // concat answers in microseconds; xfade needs both inputs in 1/F.
                let _ = writeln!(
                    g,
                    "[{acc}][c{i}]concat=n=2:v=1:a=0,settb={}/{}[{next}];",
                    plan.fps.1, plan.fps.0
                );
                len += l.end - l.start;
            }
        }
        acc = next;
    }
    // Chained xfade may be a frame short or long: the same exact tail as the output.
    let tail = if xfades {
        format!("tpad=stop_mode=clone:stop=2,trim=end_frame={len},")
    } else {
        String::new()
    };
    let _ = writeln!(g, "[{acc}]{tail}setpts=PTS-STARTPTS[run{k}];");
}

fn audio(g: &mut String, plan: &Plan) {
    let total = plan.samples();
    for (k, s) in plan.sounds.iter().enumerate() {
        let mut chain = format!("[{}:a]asetpts=PTS-STARTPTS,", s.input);
        let mut rest = s.speed;
        // atempo takes [0.5, 100] in ffmpeg 5.1: slower speeds are a chain of halvings.
        while rest < 0.5 {
            chain.push_str("atempo=0.5,");
            rest /= 0.5;
        }
        if rest != 1.0 {
            let _ = write!(chain, "atempo={rest:.6},");
        }
        let len = s.len;
        let _ = write!(
            chain,
            "aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,apad=whole_len={len},atrim=end_sample={len}"
        );
        if s.gain != 1.0 {
            let _ = write!(chain, ",volume={}", s.gain);
        }
        let secs_len = len as f64 / SAMPLE_RATE as f64;
        if s.fade_in > 0.0 {
            let _ = write!(chain, ",afade=t=in:st=0:d={:.6}", s.fade_in.min(secs_len));
        }
        if s.fade_out > 0.0 {
            let d = s.fade_out.min(secs_len);
            let _ = write!(chain, ",afade=t=out:st={:.6}:d={d:.6}", secs_len - d);
        }
        if s.start > 0 {
            let _ = write!(chain, ",adelay={}S:all=1", s.start);
        }
        let _ = writeln!(g, "{chain}[s{k}];");
    }
    let tail = format!("apad=whole_len={total},atrim=end_sample={total}[aout]");
    match plan.sounds.len() {
        0 => {
            let _ = writeln!(g, "anullsrc=r={SAMPLE_RATE}:cl=stereo,{tail}");
        }
        1 => {
            let _ = writeln!(g, "[s0]{tail}");
        }
        k => {
            for i in 0..k {
                let _ = write!(g, "[s{i}]");
            }
            let _ = writeln!(g, "amix=inputs={k}:normalize=0:duration=longest,{tail}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_names() {
        assert_eq!(xfade_name("Fade"), Some("fade"));
        assert_eq!(xfade_name("directional"), Some("slideleft"));
        assert_eq!(xfade_name("wiperight"), Some("wiperight"));
        assert_eq!(xfade_name("cube"), None);
        for (_, x) in transition_table() {
            assert!(XFADE.contains(&x), "{x}");
        }
    }
}
