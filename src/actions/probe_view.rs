//! The vendor's wire view of probe facts: the `VideoStreamInfoList` /
//! `AudioStreamInfoList` / `SubtitleStreamInfoList` items, PascalCase keys and every value
//! a JSON string, built from the stored [`ProbeResult`] (the store keeps a format of its
//! own; see media/probe/facts.rs).

use serde::Serialize;

use crate::media::probe::{AudioStream, ProbeResult, SubtitleStream, VideoStream, Whole};

fn text(value: &Option<Whole>) -> Option<String> {
    value.as_ref().map(Whole::to_string)
}

/// One `VideoStreamInfoList` item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VideoStreamInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_b_frames: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pix_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fps: Option<String>,
    #[serde(rename = "AvgFPS", skip_serializing_if = "Option::is_none")]
    avg_fps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_frames: Option<String>,
    #[serde(rename = "Nb_frames", skip_serializing_if = "Option::is_none")]
    nb_frames: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotate: Option<String>,
}

impl From<&VideoStream> for VideoStreamInfo {
    fn from(s: &VideoStream) -> Self {
        VideoStreamInfo {
            index: text(&s.index),
            codec_name: s.codec_name.clone(),
            codec_long_name: s.codec_long_name.clone(),
            profile: s.profile.clone(),
            codec_time_base: s.codec_time_base.clone(),
            codec_tag_string: s.codec_tag_string.clone(),
            codec_tag: s.codec_tag.clone(),
            width: text(&s.width),
            height: text(&s.height),
            has_b_frames: text(&s.has_b_frames),
            sar: s.sar.clone(),
            dar: s.dar.clone(),
            pix_fmt: s.pix_fmt.clone(),
            level: text(&s.level),
            fps: s.fps.clone(),
            avg_fps: s.avg_fps.clone(),
            timebase: s.timebase.clone(),
            start_time: s.start_time.clone(),
            duration: s.duration.clone(),
            bitrate: s.bitrate.clone(),
            num_frames: text(&s.frames),
            nb_frames: text(&s.frames),
            lang: s.lang.clone(),
            rotate: text(&s.rotate),
        }
    }
}

/// One `AudioStreamInfoList` item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AudioStreamInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel_layout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_frames: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
}

impl From<&AudioStream> for AudioStreamInfo {
    fn from(s: &AudioStream) -> Self {
        AudioStreamInfo {
            index: text(&s.index),
            codec_name: s.codec_name.clone(),
            codec_long_name: s.codec_long_name.clone(),
            codec_time_base: s.codec_time_base.clone(),
            codec_tag_string: s.codec_tag_string.clone(),
            codec_tag: s.codec_tag.clone(),
            profile: s.profile.clone(),
            sample_fmt: s.sample_fmt.clone(),
            sample_rate: text(&s.sample_rate),
            channels: text(&s.channels),
            channel_layout: s.channel_layout.clone(),
            timebase: s.timebase.clone(),
            start_time: s.start_time.clone(),
            duration: s.duration.clone(),
            bitrate: s.bitrate.clone(),
            fps: s.fps.clone(),
            num_frames: text(&s.frames),
            lang: s.lang.clone(),
        }
    }
}

/// One `SubtitleStreamInfoList` item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubtitleStreamInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
}

impl From<&SubtitleStream> for SubtitleStreamInfo {
    fn from(s: &SubtitleStream) -> Self {
        SubtitleStreamInfo {
            index: text(&s.index),
            codec_name: s.codec_name.clone(),
            codec_long_name: s.codec_long_name.clone(),
            codec_time_base: s.codec_time_base.clone(),
            codec_tag_string: s.codec_tag_string.clone(),
            codec_tag: s.codec_tag.clone(),
            timebase: s.timebase.clone(),
            start_time: s.start_time.clone(),
            duration: s.duration.clone(),
            lang: s.lang.clone(),
        }
    }
}

/// The probe's part of `FileBasicInfo`, as the vendor's text.
#[derive(Debug, Default)]
pub(super) struct FileWire {
    pub format_name: Option<String>,
    pub duration: Option<String>,
    pub bitrate: Option<String>,
    pub width: Option<String>,
    pub height: Option<String>,
}

/// The wire view of one stored probe.
#[derive(Debug, Default)]
pub(super) struct ProbeWire {
    pub file: FileWire,
    pub video_streams: Vec<VideoStreamInfo>,
    pub audio_streams: Vec<AudioStreamInfo>,
    pub subtitle_streams: Vec<SubtitleStreamInfo>,
}

impl From<&ProbeResult> for ProbeWire {
    fn from(p: &ProbeResult) -> Self {
        ProbeWire {
            file: FileWire {
                format_name: p.file.format_name.clone(),
                duration: p.file.duration.clone(),
                bitrate: p.file.bitrate.clone(),
                width: text(&p.file.width),
                height: text(&p.file.height),
            },
            video_streams: p.video_streams.iter().map(Into::into).collect(),
            audio_streams: p.audio_streams.iter().map(Into::into).collect(),
            subtitle_streams: p.subtitle_streams.iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
#[path = "probe_view_tests.rs"]
mod tests;
