//! Where clips sit on the output: the one placement rule behind [`Timeline::duration`],
//! [`Timeline::layout`] and the WebSDK conversion.

use super::*;

impl Timeline {
    /// Total duration in seconds (timeline.md §2.1/§2.2, decisions.md "Duration"), rounded to
    /// 4 decimal places.
    ///
    /// The first video/audio track with `MainTrack: true` defines the total; otherwise the
    /// latest clip end over video and image tracks, else over audio tracks, else over
    /// `GlobalImage` clips. Subtitle and effect tracks never extend it; `MaxDuration` caps it.
    /// A clip whose length is unknown counts as 0. `source_duration` results that are
    /// negative or not finite count as unknown.
    pub fn duration(&self, source_duration: impl Fn(&ClipSource) -> Option<f64>) -> f64 {
        round4(self.total(&known_length(&source_duration)))
    }

    /// Every video, image and audio clip placed on the output by the same rule as
    /// [`Timeline::duration`] (`GlobalImage` and untimed image-track clips span the total).
    pub fn layout(&self, source_duration: impl Fn(&ClipSource) -> Option<f64>) -> Layout {
        let probe = known_length(&source_duration);
        let total = self.total(&probe);
        let mut counters = [0usize; 5];
        let tracks = self
            .tracks
            .iter()
            .map(|track| {
                let fam = FAMILIES
                    .iter()
                    .position(|f| f.family == track.family)
                    .unwrap_or(0);
                let index = counters[fam];
                counters[fam] += 1;
                let other = track.role == Role::Other;
                let clips = if other {
                    Vec::new()
                } else {
                    place_clips(track, &probe)
                        .map(|(clip, p)| {
                            let (start, end) = match clip.kind {
                                ClipKind::Global => {
                                    let s = clip.timeline_in.unwrap_or(0.0);
                                    (s, clip.timeline_out.unwrap_or(total).max(s))
                                }
                                _ => (p.start, p.end),
                            };
                            PlacedClip {
                                source: clip.source.clone(),
                                image: clip.kind != ClipKind::Media,
                                global: clip.kind == ClipKind::Global,
                                start,
                                end,
                                source_in: match clip.kind {
                                    ClipKind::Media => clip.in_.unwrap_or(0.0),
                                    _ => 0.0,
                                },
                                speed: clip.speed.unwrap_or(1.0),
                                transition: clip.transition,
                            }
                        })
                        .collect()
                };
                PlacedTrack {
                    key: FAMILIES[fam].key,
                    clips_key: FAMILIES[fam].clips_key,
                    index,
                    other,
                    clips,
                }
            })
            .collect();
        Layout { total, tracks }
    }

    /// [`Timeline::duration`] before rounding.
    pub(super) fn total(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> f64 {
        let total = if let Some(main) = self.tracks.iter().find(|t| t.main) {
            let ends = track_ends(main, probe);
            ends.content.or(ends.global).unwrap_or(0.0)
        } else {
            let (mut visual, mut audio, mut global) = (None, None, None);
            for track in &self.tracks {
                let slot = match track.role {
                    Role::Visual => &mut visual,
                    Role::Audio => &mut audio,
                    Role::Other => continue,
                };
                let ends = track_ends(track, probe);
                *slot = max_opt(*slot, ends.content);
                global = max_opt(global, ends.global);
            }
            visual.or(audio).or(global).unwrap_or(0.0)
        };
        // MaxDuration 0 means "no cap", like other vendor limits where 0 is unset.
        match self.max_duration {
            Some(m) if m > 0.0 => total.min(m),
            _ => total,
        }
    }
}

/// Rounds seconds to the documented precision of 4 decimal places.
pub(super) fn round4(x: f64) -> f64 {
    // `+ 0.0` turns a -0.0 into 0.0.
    (x * 10_000.0).round() / 10_000.0 + 0.0
}

/// The caller's source lengths, with negative or non-finite answers taken as unknown.
pub(super) fn known_length<F: Fn(&ClipSource) -> Option<f64>>(
    source_duration: &F,
) -> impl Fn(&Clip) -> Option<f64> + '_ {
    move |c: &Clip| {
        c.source
            .as_ref()
            .and_then(source_duration)
            .filter(|d| d.is_finite() && *d >= 0.0)
    }
}

struct TrackEnds {
    /// Latest end of a non-global clip; `None` when the track has none.
    content: Option<f64>,
    global: Option<f64>,
}

fn track_ends(track: &Track, probe: &impl Fn(&Clip) -> Option<f64>) -> TrackEnds {
    let mut ends = TrackEnds {
        content: None,
        global: None,
    };
    for (clip, p) in place_clips(track, probe) {
        let slot = match clip.kind {
            ClipKind::Global => &mut ends.global,
            _ => &mut ends.content,
        };
        *slot = max_opt(*slot, Some(p.end));
    }
    ends
}

/// Where a clip sits on the output (seconds, unrounded), per timeline.md §2.1.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placement {
    start: f64,
    end: f64,
}

/// A clip's span as written out: rounded, never inverted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: f64,
    pub(super) end: f64,
}

impl Placement {
    pub(super) fn span(self, clip: &Clip) -> Span {
        // Explicit times are written back as given, so compare with those: a TimelineOut before
        // the automatic start (an empty clip) pulls the start back to it, and an explicit
        // TimelineIn with more than 4 decimals never lies after the rounded end.
        let start = clip.timeline_in.unwrap_or_else(|| {
            let s = round4(self.start);
            clip.timeline_out.map_or(s, |out| s.min(out))
        });
        let end = clip
            .timeline_out
            .unwrap_or_else(|| round4(self.end).max(start));
        Span { start, end }
    }
}

/// The one placement rule for video, image and audio tracks (timeline.md §2.1): clips follow
/// one another in array order unless placed explicitly; global clips do not advance the
/// automatic placement. A clip whose length is unknown has length 0.
///
/// Transitions (decisions.md "Transitions overlap"): a `Transition` effect on a clip makes the
/// next clip of the track, when it is placed automatically, start that many seconds before the
/// clip ends, so the two overlap and the track shortens by the transition. The overlap is
/// capped by both clips' lengths. An explicitly placed next clip keeps its `TimelineIn`.
pub(super) fn place_clips<'a, P: Fn(&Clip) -> Option<f64>>(
    track: &'a Track,
    probe: &'a P,
) -> impl Iterator<Item = (&'a Clip, Placement)> + 'a {
    // (end of the previous clip, its length, its transition)
    track
        .clips
        .iter()
        .scan((0.0, 0.0, None::<f64>), move |prev, clip| {
            let p = if clip.kind == ClipKind::Global {
                clip.place(clip.timeline_in.unwrap_or(0.0), probe)
            } else {
                let (prev_end, prev_len, transition) = *prev;
                let start = match (clip.timeline_in, transition) {
                    (Some(t), _) => t,
                    (None, Some(d)) => {
                        let own = clip.place(prev_end, probe);
                        prev_end - d.min(prev_len).min(own.end - own.start)
                    }
                    (None, None) => prev_end,
                };
                let p = clip.place(start, probe);
                *prev = (p.end, p.end - p.start, clip.transition);
                p
            };
            Some((clip, p))
        })
}

/// Where every video, image and audio clip sits (seconds, unrounded): the placement that
/// [`Timeline::duration`] totals, for a renderer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The unrounded total ([`Timeline::duration`] rounds it to 4 decimals).
    pub total: f64,
    pub tracks: Vec<PlacedTrack>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedTrack {
    /// `"VideoTracks"`, `"ImageTracks"` or `"AudioTracks"`.
    pub key: &'static str,
    /// `"VideoTrackClips"`, …: where the clips sit in [`Timeline::value`].
    pub clips_key: &'static str,
    /// Position in its track list.
    pub index: usize,
    /// A `Type: Effect`/`Subtitle` video track: not placed here.
    pub other: bool,
    pub clips: Vec<PlacedClip>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedClip {
    pub source: Option<ClipSource>,
    /// `Type: Image` (or an image-track clip), `GlobalImage`.
    pub image: bool,
    pub global: bool,
    pub start: f64,
    pub end: f64,
    /// In-point in the source (0 for images).
    pub source_in: f64,
    pub speed: f64,
    /// The `Transition` effect's duration, when the clip has one.
    pub transition: Option<f64>,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Clip {
    fn place(&self, start: f64, probe: &impl Fn(&Clip) -> Option<f64>) -> Placement {
        let end = match self.timeline_out {
            // A TimelineOut before the automatic start gives an empty clip, not a negative one.
            Some(out) => out.max(start),
            None => start + self.play_len(probe),
        };
        Placement { start, end }
    }

    /// The span of a clip that covers the output unless timed (timeline.md §2.1: subtitles,
    /// effect items, GlobalImage): from `TimelineIn` or 0 to `TimelineOut`, else
    /// `TimelineIn + Duration`, else `total`.
    pub(super) fn span_over(&self, total: f64) -> Span {
        let start = self.timeline_in.unwrap_or(0.0);
        let end = self.timeline_out.unwrap_or_else(|| match self.duration {
            Some(d) if self.kind != ClipKind::Global => round4(start + d).max(start),
            _ => total.max(start),
        });
        Span { start, end }
    }

    fn play_len(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> f64 {
        let src_len = match self.kind {
            // Animated images may have a probed length; stills have none and count 0.
            ClipKind::Image | ClipKind::Global => self.duration.or_else(|| probe(self)),
            ClipKind::Media => self
                .source_out(probe)
                .map(|o| (o - self.in_.unwrap_or(0.0)).max(0.0)),
        };
        src_len.unwrap_or(0.0) / self.speed.unwrap_or(1.0)
    }

    /// The effective out-point of a video/audio clip in its source, when known.
    pub(super) fn source_out(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> Option<f64> {
        // Duration acts as an explicit Out; MaxOut only caps the probed length, and an unknown
        // source stays unknown even with MaxOut (0 is the safe lower bound).
        let in_ = self.in_.unwrap_or(0.0);
        self.out
            .or(self.duration.map(|d| in_ + d))
            .or_else(|| probe(self).map(|src| self.max_out.map_or(src, |m| src.min(m))))
    }
}
