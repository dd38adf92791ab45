//! The renderer: a Timeline becomes an MP4 (H.264 + AAC) through one ffmpeg run.
//!
//! Three steps, each its own entry point so the job worker and `openice render` share them:
//! * [`check`] (pure, at submit): refuses what cannot be rendered, naming it;
//! * [`plan`]: probes the sources and resolves the timeline into an integer-frame [`Plan`]
//!   (placement from [`Timeline::layout`], the same rule as the project `Duration`);
//! * [`execute`]: emits the ffmpeg graph and runs it, writing the output atomically.
//!
//! docs/rendering.md describes the plan, the graph and the effect table.

mod check;
mod graph;
mod plan;
mod probe;
mod run;
mod subtitles;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde_json::Value;

use crate::domain::timeline::{ClipSource, Timeline};
use crate::media::probe::{ProbeResult, Whole};

pub use check::check;
pub use graph::{transition_table, xfade_name};
pub use plan::Plan;

/// The output settings a render honours (from `OutputMediaConfig`); `None` = derive from sources.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputSpec {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second as a fraction (`Video.Fps`).
    pub fps: Option<(u32, u32)>,
    pub bitrate_kbps: Option<u32>,
    /// `OutputMediaConfig.MaxDuration` (the Timeline's own `MaxDuration` also applies).
    pub max_duration: Option<f64>,
}

/// A clip source's readable file, with the media library's probe of it when it is library
/// media: the plan then takes the stored facts and runs no ffprobe for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub probed: Option<ProbeResult>,
}

impl SourceFile {
    /// Library media's file and its stored probe (`MediaInfo.probe`, JSON); a probe that does
    /// not parse only costs an ffprobe run.
    pub fn library(path: PathBuf, stored_probe: Option<&str>) -> Self {
        let probed = stored_probe.and_then(|p| ProbeResult::from_stored(p).ok());
        SourceFile { path, probed }
    }
}

impl From<PathBuf> for SourceFile {
    /// A file the library has not probed (a plain path or URL): ffprobe reads it.
    fn from(path: PathBuf) -> Self {
        SourceFile { path, probed: None }
    }
}

/// ffprobe runs at once while planning.
const PROBES_AT_ONCE: usize = 4;

/// Output size limits (vendor: each side in [128, 4096], the shorter side at most 2160).
pub const MIN_SIDE: u32 = 128;
pub const MAX_SIDE: u32 = 4096;
pub const MAX_SHORT_SIDE: u32 = 2160;

impl OutputSpec {
    /// Reads `Width`, `Height`, `Bitrate`, `MaxDuration` and `Video.Fps` of an
    /// `OutputMediaConfig` object (numbers or numeric strings); other fields are the caller's.
    pub fn from_output_media_config(v: &Value) -> Result<OutputSpec, RenderError> {
        let obj = v
            .as_object()
            .ok_or_else(|| invalid("OutputMediaConfig", "must be a JSON object"))?;
        let side = |key: &str| -> Result<Option<u32>, RenderError> {
            let field = format!("OutputMediaConfig.{key}");
            match number(obj.get(key), &field)? {
                None => Ok(None),
                Some(x) if x.fract() == 0.0 && (MIN_SIDE as f64..=MAX_SIDE as f64).contains(&x) => {
                    Ok(Some(x as u32))
                }
                Some(_) => Err(invalid(
                    &field,
                    &format!("must be an integer between {MIN_SIDE} and {MAX_SIDE}"),
                )),
            }
        };
        let (width, height) = (side("Width")?, side("Height")?);
        if let (Some(w), Some(h)) = (width, height) {
            check_short_side(w, h)?;
        }
        let bitrate_kbps = match number(obj.get("Bitrate"), "OutputMediaConfig.Bitrate")? {
            None => None,
            Some(x) if x.fract() == 0.0 && (1.0..=1_000_000.0).contains(&x) => Some(x as u32),
            Some(_) => {
                return Err(invalid(
                    "OutputMediaConfig.Bitrate",
                    "must be a positive integer (Kbit/s)",
                ));
            }
        };
        let max_duration = match number(obj.get("MaxDuration"), "OutputMediaConfig.MaxDuration")? {
            Some(x) if x < 0.0 => {
                return Err(invalid(
                    "OutputMediaConfig.MaxDuration",
                    "must not be negative",
                ));
            }
            // 0 means "no cap", as for the Timeline's MaxDuration.
            Some(x) if x > 0.0 => Some(x),
            _ => None,
        };
        let fps = match obj.get("Video") {
            None | Some(Value::Null) => None,
            Some(Value::Object(video)) => {
                match number(video.get("Fps"), "OutputMediaConfig.Video.Fps")? {
                    None => None,
                    Some(x) if x > 0.0 && x <= 120.0 => Some(fps_fraction(x)),
                    Some(_) => {
                        return Err(invalid(
                            "OutputMediaConfig.Video.Fps",
                            "must be between 0 and 120",
                        ));
                    }
                }
            }
            Some(_) => {
                return Err(invalid("OutputMediaConfig.Video", "must be a JSON object"));
            }
        };
        Ok(OutputSpec {
            width,
            height,
            fps,
            bitrate_kbps,
            max_duration,
        })
    }
}

fn check_short_side(w: u32, h: u32) -> Result<(), RenderError> {
    if w.min(h) > MAX_SHORT_SIDE {
        let field = if w <= h {
            "OutputMediaConfig.Width"
        } else {
            "OutputMediaConfig.Height"
        };
        return Err(invalid(
            field,
            &format!("the shorter side of the output must be at most {MAX_SHORT_SIDE}"),
        ));
    }
    Ok(())
}

/// A frame rate as a fraction: NTSC rates (29.97, 23.976, 59.94) become n×1000/1001.
fn fps_fraction(x: f64) -> (u32, u32) {
    let ntsc = x * 1001.0 / 1000.0;
    if (ntsc - ntsc.round()).abs() < 0.01 && (x - x.round()).abs() > 0.001 {
        return (ntsc.round() as u32 * 1000, 1001);
    }
    let (n, d) = ((x * 1000.0).round() as u32, 1000);
    let g = gcd(n, d);
    (n / g, d / g)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// A number or a numeric string (`"1280"`); absent, `null` and `""` are `None`.
fn number(v: Option<&Value>, field: &str) -> Result<Option<f64>, RenderError> {
    let parsed = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(invalid(field, "must be a number")),
    }
}

fn invalid(field: &str, message: &str) -> RenderError {
    RenderError::Invalid {
        field: field.to_owned(),
        message: format!("{field} {message}"),
    }
}

/// Why a render cannot be planned or did not complete.
#[derive(Debug)]
pub enum RenderError {
    /// The timeline or output settings cannot be rendered (answer `InvalidParameter`).
    /// `message` names the field and is fit for the client.
    Invalid { field: String, message: String },
    /// A source could not be read or probed.
    Source { source: String, message: String },
    /// ffmpeg, ffprobe or a CJK font is not installed.
    MissingTool(String),
    /// ffmpeg failed, stalled or timed out.
    Failed(String),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Invalid { message, .. } => f.write_str(message),
            RenderError::Source { source, message } => write!(f, "source {source}: {message}"),
            RenderError::MissingTool(m) => write!(f, "missing prerequisite: {m}"),
            RenderError::Failed(m) => write!(f, "render failed: {m}"),
        }
    }
}

// Written out rather than derived: thiserror would take the `source` field for an error cause.
impl std::error::Error for RenderError {}

/// Builds the integer-frame plan. `sources` maps each clip source of the timeline (MediaId or
/// MediaURL) to a readable file; sources without stored probe facts are probed with ffprobe.
pub async fn plan(
    timeline: &Timeline,
    sources: &HashMap<ClipSource, SourceFile>,
    out: &OutputSpec,
) -> Result<Plan, RenderError> {
    check(timeline)?;
    let mut facts = HashMap::new();
    let mut unprobed = Vec::new();
    for source in timeline.sources() {
        let file = sources.get(source).ok_or_else(|| RenderError::Source {
            source: source_name(source),
            message: "no local file for this source".to_owned(),
        })?;
        let stored = file.probed.as_ref().filter(|p| unchanged(&file.path, p));
        match stored.and_then(probe::from_stored) {
            Some(info) => {
                facts.insert(source.clone(), (file.path.clone(), info));
            }
            None => unprobed.push((source.clone(), file.path.clone())),
        }
    }
    if !unprobed.is_empty() && run::which("ffprobe").is_none() {
        return Err(RenderError::MissingTool(
            "ffprobe is not installed (apt-get install ffmpeg)".to_owned(),
        ));
    }
    // Distinct sources are probed a few at a time: on a long timeline the probes add up.
    let probes = unprobed.into_iter().map(|(source, path)| async move {
        match probe::probe(&path).await {
            Ok(info) => Ok((source, (path, info))),
            Err(message) => Err(RenderError::Source {
                source: source_name(&source),
                message,
            }),
        }
    });
    let probed: Vec<_> = futures_util::stream::iter(probes)
        .buffer_unordered(PROBES_AT_ONCE)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    facts.extend(probed);
    let font = subtitles::cjk_font();
    plan::resolve(timeline, &facts, out, font)
}

/// Whether a local file is still there with the size the stored probe saw: an object
/// overwritten since its probe, or gone, is probed again (which names what is wrong with it).
/// URLs and probes without a size count as unchanged.
fn unchanged(path: &Path, probed: &ProbeResult) -> bool {
    let stored = probed
        .file
        .file_size
        .as_ref()
        .and_then(Whole::value)
        .and_then(|s| u64::try_from(s).ok());
    match std::fs::metadata(path) {
        Ok(meta) => stored.is_none_or(|size| meta.len() == size),
        Err(_) => path.to_string_lossy().contains("://"),
    }
}

/// Runs ffmpeg for the plan and writes `output` atomically (temporary file in the same
/// directory, fsync, rename), calling `progress` with 0..=99 as ffmpeg reports; 100 is the
/// caller's, once it has verified the output.
pub async fn execute(
    plan: &Plan,
    output: &Path,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    run::execute(plan, output, &crate::domain::new_id(), progress).await
}

/// Checks a written output against the plan: it must hold exactly the planned video frames
/// (or, without video, last the planned duration to within a frame at 25 fps). One ffprobe
/// run; the message is fit for a job's `Message`.
pub async fn verify(plan: &Plan, output: &Path) -> Result<(), String> {
    let written = probe::written(output)
        .await
        .map_err(|e| format!("The output could not be verified: {e}"))?;
    if written.has_video {
        if written.frames != Some(plan.frames()) {
            return Err(format!(
                "The output has {} video frames; the plan has {}.",
                written
                    .frames
                    .map_or("an unknown number of".to_string(), |f| f.to_string()),
                plan.frames()
            ));
        }
    } else if written
        .duration
        .is_none_or(|d| (d - plan.duration_secs()).abs() > 0.04)
    {
        return Err(format!(
            "The output lasts {:?} s; the plan lasts {} s.",
            written.duration,
            plan.duration_secs()
        ));
    }
    Ok(())
}

/// [`execute`] for `owner` (a job ID): the temporary files next to `output` carry its name, so
/// [`remove_scratch`] finds what a killed run for the same owner left behind.
pub async fn execute_for(
    plan: &Plan,
    output: &Path,
    owner: &str,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    let id = format!("{owner}-{}", crate::domain::new_id());
    run::execute(plan, output, &id, progress).await
}

/// Removes every temporary file a run of [`execute_for`] `owner` left next to `output` (its
/// partial output, graph, captions, segments, segment list, audio), whatever its age: the
/// caller holds the owner's job, so no live render of it writes them. Answers how many.
pub async fn remove_scratch(output: &Path, owner: &str) -> usize {
    let (Some(dir), Some(name)) = (output.parent(), output.file_name()) else {
        return 0;
    };
    let part = format!(".{}.{owner}-", name.to_string_lossy());
    let scratch = format!(".render-{owner}-");
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return 0;
    };
    let mut removed = 0;
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file = entry.file_name().to_string_lossy().into_owned();
        let ours =
            (file.starts_with(&part) && file.ends_with(".part")) || file.starts_with(&scratch);
        if ours && tokio::fs::remove_file(entry.path()).await.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The renderer's prerequisites that are not installed (ffmpeg, ffprobe, a CJK font for
/// captions), each with the package that provides it; empty when all are there. For a warning
/// when the server starts.
pub fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    for tool in ["ffmpeg", "ffprobe"] {
        if run::which(tool).is_none() {
            missing.push(format!("{tool} (apt-get install ffmpeg)"));
        }
    }
    if subtitles::cjk_font().is_none() {
        missing.push("a CJK font for captions (apt-get install fonts-wqy-zenhei)".to_owned());
    }
    missing
}

/// How a source is named in messages.
fn source_name(s: &ClipSource) -> String {
    match s {
        ClipSource::MediaId(id) => format!("MediaId {id}"),
        ClipSource::MediaUrl(url) => format!("MediaURL {url}"),
    }
}
