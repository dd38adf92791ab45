//! Resolve: Timeline + probe facts → an integer-frame plan (pure, no I/O).
//!
//! Placement comes from [`Timeline::layout`] (the rule behind the project `Duration`); this
//! module only quantises it to frames of the output rate F and adds what a renderer needs:
//! inputs, geometry boxes, layers, audio, captions.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::check::{effects, str_of};
use super::probe::SourceInfo;
use super::subtitles::{self, Caption};
use super::{MAX_SIDE, MIN_SIDE, OutputSpec, RenderError, check_short_side, graph, invalid};
use crate::domain::timeline::{ClipSource, Timeline};

/// Audio is mixed and encoded at this rate.
pub const SAMPLE_RATE: u64 = 48_000;
/// Output rate when neither `Video.Fps` nor any video source gives one.
const DEFAULT_FPS: (u32, u32) = (25, 1);
/// Frames read past a clip's end, so `-t` rounding never loses its last frame.
const INPUT_MARGIN_FRAMES: f64 = 3.0;
/// Output size when no source has a picture and none is configured.
const DEFAULT_SIZE: (u32, u32) = (1280, 720);

/// An integer-frame plan: everything the ffmpeg command is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub width: u32,
    pub height: u32,
    /// Output frame rate F as a fraction.
    pub fps: (u32, u32),
    /// `None`: constant quality (CRF 23) since no source gave a bitrate.
    pub bitrate_kbps: Option<u32>,
    pub(super) frames: u64,
    pub(super) inputs: Vec<Input>,
    /// Visual clips, bottom layer first.
    pub(super) layers: Vec<Layer>,
    pub(super) sounds: Vec<Sound>,
    pub(super) captions: Vec<Caption>,
    /// Font family for captions (a CJK font), when captions exist.
    pub(super) font: Option<String>,
    pub(super) streams: Streams,
}

/// Which streams one ffmpeg run of the plan produces (segments are video-only, the audio of a
/// segmented render is one audio-only run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Streams {
    Both,
    Video,
    Audio,
}

/// Above this many inputs the video renders in segments: ffmpeg opens and decodes every input
/// of a run at once.
const SEGMENT_INPUTS: usize = 40;
/// Inputs per segment aimed at when cutting.
const SEGMENT_TARGET: usize = 20;

/// One `-i` of the ffmpeg command.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Input {
    pub path: PathBuf,
    pub image: bool,
    /// Input seek (`-ss`) and read length (`-t`), seconds.
    pub seek: f64,
    pub length: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fit {
    /// Stretch to the box.
    Fill,
    /// Keep aspect, letterbox inside the box.
    Contain,
    /// Keep aspect, crop to the box.
    Cover,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Backdrop {
    /// Letterbox bars in a colour (`0xRRGGBB` or a name ffmpeg knows).
    Color(String),
    /// The clip itself, scaled to cover and blurred (sigma in pixels).
    Blur(f64),
}

/// A visual clip on the output: frames `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layer {
    pub name: String,
    /// Visual track number, bottom = 0.
    pub track: usize,
    pub input: usize,
    pub start: u64,
    pub end: u64,
    pub speed: f64,
    pub rect: Rect,
    pub fit: Fit,
    pub opacity: f64,
    pub backdrop: Backdrop,
    /// The source's displayed size: a clip already at its box's size is not scaled.
    pub source_size: Option<(u32, u32)>,
    /// An xfade into the next layer of the same track: (xfade name, overlap frames).
    pub transition: Option<(&'static str, u64)>,
}

/// An audio stream of a clip on the output: samples `[start, start + len)` at [`SAMPLE_RATE`].
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sound {
    pub input: usize,
    pub start: u64,
    pub len: u64,
    pub speed: f64,
    pub gain: f64,
    /// Fade lengths in seconds.
    pub fade_in: f64,
    pub fade_out: f64,
}

impl Plan {
    /// Output frame count.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Output duration in seconds: frames / F.
    pub fn duration_secs(&self) -> f64 {
        self.frames as f64 * self.fps.1 as f64 / self.fps.0 as f64
    }

    /// Segments for a long timeline: `(first frame, video-only plan)` cut at frames no clip or
    /// transition spans, each with about [`SEGMENT_TARGET`] inputs; empty when the plan has
    /// at most [`SEGMENT_INPUTS`] inputs or no clean cut. Captions are split at the cuts.
    pub(super) fn segments(&self) -> Vec<(u64, Plan)> {
        if self.inputs.len() <= SEGMENT_INPUTS {
            return Vec::new();
        }
        let clean = |c: u64| !self.layers.iter().any(|l| l.start < c && c < l.end);
        let mut order: Vec<&Layer> = self.layers.iter().collect();
        order.sort_by_key(|l| l.start);
        let mut cuts = vec![0];
        let mut count = 0;
        for l in order {
            if count >= SEGMENT_TARGET && l.start > *cuts.last().unwrap_or(&0) && clean(l.start) {
                cuts.push(l.start);
                count = 0;
            }
            count += 1;
        }
        if cuts.len() < 2 {
            return Vec::new();
        }
        cuts.push(self.frames);
        cuts.windows(2)
            .map(|w| {
                let (a, b) = (w[0], w[1]);
                let layers = self
                    .layers
                    .iter()
                    .filter(|l| l.start >= a && l.start < b)
                    .map(|l| Layer {
                        start: l.start - a,
                        end: l.end - a,
                        ..l.clone()
                    })
                    .collect();
                let captions = self
                    .captions
                    .iter()
                    .filter(|c| c.start < b && c.end > a)
                    .map(|c| Caption {
                        start: c.start.max(a) - a,
                        end: c.end.min(b) - a,
                        ..c.clone()
                    })
                    .collect();
                (
                    a,
                    self.subset(b - a, layers, Vec::new(), captions, Streams::Video),
                )
            })
            .collect()
    }

    /// The audio alone, for a segmented render.
    pub(super) fn audio_only(&self) -> Plan {
        self.subset(
            self.frames,
            Vec::new(),
            self.sounds.clone(),
            Vec::new(),
            Streams::Audio,
        )
    }

    /// A plan over some of this plan's layers and sounds, with only their inputs.
    fn subset(
        &self,
        frames: u64,
        mut layers: Vec<Layer>,
        mut sounds: Vec<Sound>,
        captions: Vec<Caption>,
        streams: Streams,
    ) -> Plan {
        let mut inputs = Vec::new();
        let mut map = HashMap::new();
        let mut take = |i: usize| {
            *map.entry(i).or_insert_with(|| {
                inputs.push(self.inputs[i].clone());
                inputs.len() - 1
            })
        };
        for l in &mut layers {
            l.input = take(l.input);
        }
        for s in &mut sounds {
            s.input = take(s.input);
        }
        Plan {
            frames,
            inputs,
            layers,
            sounds,
            captions,
            streams,
            ..self.clone()
        }
    }

    /// Total audio samples (the audio is padded or cut to the video's length).
    pub(super) fn samples(&self) -> u64 {
        frames_to_samples(self.frames, self.fps)
    }

    /// The plan and the ffmpeg command with its graph: what `openice render --plan` prints.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let (n, d) = self.fps;
        let _ = writeln!(
            s,
            "output: {}x{} at {n}/{d} fps, {} frames ({:.4} s), {}",
            self.width,
            self.height,
            self.frames,
            self.duration_secs(),
            match self.bitrate_kbps {
                Some(b) => format!("{b} kbit/s"),
                None => "CRF 23".to_owned(),
            }
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "video track {} {}: frames [{}, {}) from input {} speed {} box {}x{}+{}+{} {:?} opacity {}{}",
                l.track,
                l.name,
                l.start,
                l.end,
                l.input,
                l.speed,
                l.rect.w,
                l.rect.h,
                l.rect.x,
                l.rect.y,
                l.fit,
                l.opacity,
                l.transition
                    .map(|(t, f)| format!(", {t} into the next over {f} frames"))
                    .unwrap_or_default()
            );
        }
        for a in &self.sounds {
            let _ = writeln!(
                s,
                "audio: samples [{}, {}) from input {} speed {} gain {}",
                a.start,
                a.start + a.len,
                a.input,
                a.speed,
                a.gain
            );
        }
        for c in &self.captions {
            let _ = writeln!(s, "text: frames [{}, {}) {:?}", c.start, c.end, c.text);
        }
        let segments = self.segments();
        if !segments.is_empty() {
            let _ = writeln!(
                s,
                "rendered in {} video segments (first frames {}), audio once, joined with the concat demuxer",
                segments.len(),
                segments
                    .iter()
                    .map(|(a, _)| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(s, "\nffmpeg {}", graph::args(self, "OUTPUT.mp4").join(" "));
        let _ = writeln!(
            s,
            "\nfilter script:\n{}",
            graph::script(self, "captions.ass")
        );
        if !self.captions.is_empty() {
            let _ = writeln!(s, "captions.ass:\n{}", subtitles::ass(self));
        }
        s
    }
}

pub(super) fn frames_to_samples(frames: u64, (n, d): (u32, u32)) -> u64 {
    ((frames as u128 * SAMPLE_RATE as u128 * d as u128 + n as u128 / 2) / n as u128) as u64
}

fn to_frame(t: f64, (n, d): (u32, u32)) -> u64 {
    (t * n as f64 / d as f64).round().max(0.0) as u64
}

/// Builds the plan from probe facts (path and [`SourceInfo`] per source).
pub(super) fn resolve(
    timeline: &Timeline,
    facts: &HashMap<ClipSource, (PathBuf, SourceInfo)>,
    out: &OutputSpec,
    font: Option<String>,
) -> Result<Plan, RenderError> {
    let info = |s: &ClipSource| facts.get(s).map(|(_, i)| i);
    let layout = timeline.layout(|s| info(s).and_then(|i| i.duration));
    let mut total = layout.total;
    if let Some(m) = out.max_duration {
        total = total.min(m);
    }
    let visual_sources = || {
        layout
            .tracks
            .iter()
            .filter(|t| t.key != "AudioTracks")
            .flat_map(|t| &t.clips)
            .filter_map(|c| c.source.as_ref().and_then(info))
            .filter(|i| i.has_video)
    };
    let fps = out.fps.unwrap_or_else(|| {
        visual_sources()
            .filter_map(|i| i.fps)
            .max_by(|a, b| (a.0 as u64 * b.1 as u64).cmp(&(b.0 as u64 * a.1 as u64)))
            .unwrap_or(DEFAULT_FPS)
    });
    let even_clamped = |x: u32| (x.div_ceil(2) * 2).clamp(MIN_SIDE, MAX_SIDE);
    let width = out.width.unwrap_or_else(|| {
        visual_sources()
            .filter_map(|i| i.width)
            .max()
            .map_or(DEFAULT_SIZE.0, even_clamped)
    });
    let height = out.height.unwrap_or_else(|| {
        visual_sources()
            .filter_map(|i| i.height)
            .max()
            .map_or(DEFAULT_SIZE.1, even_clamped)
    });
    check_short_side(width, height)?;
    let bitrate_kbps = out.bitrate_kbps.or_else(|| {
        layout
            .tracks
            .iter()
            .flat_map(|t| &t.clips)
            .filter_map(|c| c.source.as_ref().and_then(info))
            .filter_map(|i| i.bitrate_kbps)
            .max()
    });
    let frames = to_frame(total, fps);
    if frames == 0 {
        return Err(invalid(
            "Timeline",
            "renders to no frames: its total duration is shorter than one frame",
        ));
    }
    let canvas = Rect {
        x: 0,
        y: 0,
        w: width,
        h: height,
    };
    let root = timeline.value();
    let mut plan = Plan {
        width,
        height,
        fps,
        bitrate_kbps,
        frames,
        inputs: Vec::new(),
        layers: Vec::new(),
        sounds: Vec::new(),
        captions: Vec::new(),
        font: None,
        streams: Streams::Both,
    };
    let mut visual_track = 0;
    for track in layout.tracks.iter().filter(|t| !t.other) {
        let audio_track = track.key == "AudioTracks";
        let clip_values: Vec<&Map<String, Value>> = root
            .get(track.key)
            .and_then(|t| t.get(track.index))
            .and_then(|t| t.get(track.clips_key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        let first_layer = plan.layers.len();
        for (c, (placed, value)) in track.clips.iter().zip(&clip_values).enumerate() {
            let name = format!("{}[{}].{}[{c}]", track.key, track.index, track.clips_key);
            let Some(source) = &placed.source else {
                continue;
            };
            let Some((path, src)) = facts.get(source) else {
                continue;
            };
            let start = to_frame(placed.start, fps);
            let end = to_frame(placed.end, fps).min(frames);
            if end <= start {
                continue;
            }
            let span_secs = (end - start) as f64 * fps.1 as f64 / fps.0 as f64;
            let speed = placed.speed;
            let gain = volume(value, &name)?;
            let wants_video = !audio_track && src.has_video;
            let wants_audio = src.has_audio && gain > 0.0 && !placed.image;
            if !wants_video && !wants_audio {
                continue;
            }
            if let Some(d) = src
                .duration
                .filter(|d| !placed.image && placed.source_in >= *d)
            {
                // Nothing to show or hold: the clip would have no first frame.
                return Err(invalid(
                    &format!("{name}.In"),
                    &format!("is not before the end of its source ({d:.3} s)"),
                ));
            }
            let input = plan.inputs.len();
            plan.inputs.push(Input {
                path: std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                image: placed.image || src.image,
                seek: placed.source_in,
                // A few frames more than needed (never decode much more): the graph cuts to
                // the exact frame and sample, and holds the last frame if the source is short.
                length: span_secs * speed + INPUT_MARGIN_FRAMES * fps.1 as f64 / fps.0 as f64,
            });
            if wants_video {
                let (rect, fit) = geometry(value, src, canvas, &name)?;
                plan.layers.push(Layer {
                    name: name.clone(),
                    track: visual_track,
                    input,
                    start,
                    end,
                    speed,
                    rect,
                    fit,
                    opacity: opacity(value, &name)?,
                    backdrop: backdrop(value, rect, &name)?,
                    source_size: src.width.zip(src.height),
                    transition: placed.transition.map(|_| (transition_name(value), 0)),
                });
                for caption in subtitles::text_effects(value, start, end, fps, &name)? {
                    plan.captions.push(caption);
                }
            }
            if wants_audio {
                let (fade_in, fade_out) = afades(value, &name)?;
                plan.sounds.push(Sound {
                    input,
                    start: frames_to_samples(start, fps),
                    len: frames_to_samples(end, fps) - frames_to_samples(start, fps),
                    speed,
                    gain,
                    fade_in,
                    fade_out,
                });
            }
        }
        if !audio_track {
            link_transitions(&mut plan, first_layer);
            visual_track += 1;
        }
    }
    for (t, track) in super::check::tracks(root, "SubtitleTracks") {
        for (c, clip) in super::check::clips(track, "SubtitleTracks").enumerate() {
            let name = format!("SubtitleTracks[{t}].SubtitleTrackClips[{c}]");
            if let Some(caption) = subtitles::caption(clip, 0, frames, fps, &name)? {
                plan.captions.push(caption);
            }
        }
    }
    if !plan.captions.is_empty() {
        plan.font = Some(font.ok_or_else(|| {
            RenderError::MissingTool(
                "a CJK font for subtitles (apt-get install fonts-wqy-zenhei)".to_owned(),
            )
        })?);
    }
    Ok(plan)
}

/// Checks a clip's fields the plan reads (geometry, opacity, backdrop, gains, fades, text
/// styling) without any source facts, so a submit refuses them at once, naming the field.
pub(super) fn validate_clip(
    clip: &Map<String, Value>,
    at: &str,
    visual: bool,
) -> Result<(), RenderError> {
    volume(clip, at)?;
    afades(clip, at)?;
    if visual {
        let canvas = Rect {
            x: 0,
            y: 0,
            w: 1920,
            h: 1080,
        };
        let (rect, _) = geometry(clip, &SourceInfo::default(), canvas, at)?;
        opacity(clip, at)?;
        backdrop(clip, rect, at)?;
        subtitles::text_effects(clip, 0, 1, DEFAULT_FPS, at)?;
    }
    Ok(())
}

/// Sets each transition's overlap from the frames actually planned: the next layer of the
/// track starts `overlap` frames before this one ends. A transition whose clips do not
/// overlap (the next clip was cut away) is dropped with the clip it led to.
fn link_transitions(plan: &mut Plan, first: usize) {
    let layers = &mut plan.layers[first..];
    for i in 0..layers.len() {
        let Some((name, _)) = layers[i].transition else {
            continue;
        };
        layers[i].transition = layers.get(i + 1).and_then(|next| {
            let overlap = layers[i].end.checked_sub(next.start)?;
            (overlap > 0
                && overlap < layers[i].end - layers[i].start
                && overlap < next.end - next.start)
                .then_some((name, overlap))
        });
    }
    // Audio of the two clips crossfades over the same frames.
    let fades: Vec<(usize, usize, f64)> = layers
        .windows(2)
        .filter_map(|w| {
            w[0].transition.map(|(_, f)| {
                (
                    w[0].input,
                    w[1].input,
                    f as f64 * plan.fps.1 as f64 / plan.fps.0 as f64,
                )
            })
        })
        .collect();
    for (a, b, secs) in fades {
        for s in plan.sounds.iter_mut() {
            if s.input == a {
                s.fade_out = s.fade_out.max(secs);
            }
            if s.input == b {
                s.fade_in = s.fade_in.max(secs);
            }
        }
    }
}

fn number(clip: &Map<String, Value>, key: &str, at: &str) -> Result<Option<f64>, RenderError> {
    super::number(clip.get(key), &format!("{at}.{key}"))
}

/// The product of the clip's `Volume` gains (1 without one).
fn volume(clip: &Map<String, Value>, at: &str) -> Result<f64, RenderError> {
    let mut gain = 1.0;
    for (e, effect) in effects(clip).enumerate() {
        if let Some(effect) = effect.as_object()
            && str_of(effect.get("Type")).is_some_and(|t| t.eq_ignore_ascii_case("Volume"))
        {
            gain *= number(effect, "Gain", &format!("{at}.Effects[{e}]"))?.unwrap_or(1.0);
        }
    }
    Ok(gain)
}

fn afades(clip: &Map<String, Value>, at: &str) -> Result<(f64, f64), RenderError> {
    let (mut fade_in, mut fade_out) = (0.0, 0.0);
    for (e, effect) in effects(clip).enumerate() {
        let Some(effect) = effect.as_object() else {
            continue;
        };
        if !str_of(effect.get("Type")).is_some_and(|t| t.eq_ignore_ascii_case("AFade")) {
            continue;
        }
        let d = number(effect, "Duration", &format!("{at}.Effects[{e}]"))?
            .unwrap_or(1.0)
            .max(0.0);
        match str_of(effect.get("SubType")) {
            Some(s) if s.eq_ignore_ascii_case("Out") => fade_out = d,
            _ => fade_in = d,
        }
    }
    Ok((fade_in, fade_out))
}

fn transition_name(clip: &Map<String, Value>) -> &'static str {
    effects(clip)
        .filter_map(Value::as_object)
        .find(|e| str_of(e.get("Type")).is_some_and(|t| t.eq_ignore_ascii_case("Transition")))
        .and_then(|e| graph::xfade_name(str_of(e.get("SubType")).unwrap_or("")))
        .unwrap_or("fade")
}

fn opacity(clip: &Map<String, Value>, at: &str) -> Result<f64, RenderError> {
    match number(clip, "Opacity", at)? {
        None => Ok(1.0),
        Some(o) if (0.0..=1.0).contains(&o) => Ok(o),
        Some(_) => Err(invalid(&format!("{at}.Opacity"), "must be between 0 and 1")),
    }
}

/// A position or size: a ratio of `dim` in [0, 1] or pixels from 2 on (timeline.md §1.3).
fn length(v: f64, dim: u32, field: &str) -> Result<f64, RenderError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v * dim as f64)
    } else if v >= 2.0 {
        Ok(v)
    } else {
        Err(invalid(
            field,
            "must be a ratio in [0, 1] or a pixel count of at least 2",
        ))
    }
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// The clip's box on the output and how the picture fits it (timeline.md §1.3): `Width` and
/// `Height` both set define the box and `AdaptMode` applies (default Fill); one of them keeps
/// the source's aspect; neither fits the picture into the whole output (Contain), offset by
/// `X`/`Y`.
fn geometry(
    clip: &Map<String, Value>,
    src: &SourceInfo,
    canvas: Rect,
    at: &str,
) -> Result<(Rect, Fit), RenderError> {
    let get = |key: &str, dim: u32| -> Result<Option<f64>, RenderError> {
        let field = format!("{at}.{key}");
        number(clip, key, at)?
            .map(|v| length(v, dim, &field))
            .transpose()
    };
    let x = get("X", canvas.w)?.unwrap_or(0.0).round() as i64;
    let y = get("Y", canvas.h)?.unwrap_or(0.0).round() as i64;
    let aspect = match (src.width, src.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => w as f64 / h as f64,
        _ => canvas.w as f64 / canvas.h as f64,
    };
    let (w, h, fit) = match (get("Width", canvas.w)?, get("Height", canvas.h)?) {
        (Some(w), Some(h)) => {
            let mode = str_of(clip.get("AdaptMode")).unwrap_or("Fill");
            let fit = match mode.to_ascii_lowercase().as_str() {
                "fill" => Fit::Fill,
                "contain" => Fit::Contain,
                "cover" => Fit::Cover,
                _ => {
                    return Err(invalid(
                        &format!("{at}.AdaptMode"),
                        "must be Contain, Cover or Fill",
                    ));
                }
            };
            (even(w), even(h), fit)
        }
        (Some(w), None) => (even(w), even(w / aspect), Fit::Fill),
        (None, Some(h)) => (even(h * aspect), even(h), Fit::Fill),
        (None, None) => (canvas.w, canvas.h, Fit::Contain),
    };
    Ok((Rect { x, y, w, h }, fit))
}

fn backdrop(clip: &Map<String, Value>, rect: Rect, at: &str) -> Result<Backdrop, RenderError> {
    for (e, effect) in effects(clip).enumerate() {
        let Some(effect) = effect.as_object() else {
            continue;
        };
        if !str_of(effect.get("Type")).is_some_and(|t| t.eq_ignore_ascii_case("Background")) {
            continue;
        }
        let at = format!("{at}.Effects[{e}]");
        return match str_of(effect.get("SubType")) {
            Some(s) if s.eq_ignore_ascii_case("Blur") => {
                let radius = number(effect, "Radius", &at)?
                    .unwrap_or(0.1)
                    .clamp(0.0, 1.0);
                // Radius is a fraction of the box's shorter side (0.1 → a soft blur).
                Ok(Backdrop::Blur(
                    (radius * rect.w.min(rect.h) as f64 / 2.0).max(1.0),
                ))
            }
            _ => {
                let color = str_of(effect.get("Color"))
                    .or(str_of(effect.get("BgColor")))
                    .unwrap_or("#000000");
                Ok(Backdrop::Color(parse_color(color).ok_or_else(|| {
                    invalid(&format!("{at}.Color"), "must be a colour like #RRGGBB")
                })?))
            }
        };
    }
    Ok(Backdrop::Color("black".to_owned()))
}

/// `#RRGGBB` → `0xRRGGBB` for ffmpeg.
pub(super) fn parse_color(s: &str) -> Option<String> {
    let hex = s.trim().trim_start_matches('#');
    (hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| format!("0x{hex}"))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
