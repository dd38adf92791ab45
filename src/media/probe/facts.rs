//! What a probe found, in openice's own stored format (the `media.probe` column).
//!
//! Keys are snake_case; values that are integers by nature (indexes, sizes, counts, sample
//! rates, levels, rotation) are JSON integers ([`Whole`]); values whose exact text the vendor
//! answers (decimal durations `"3.000000"`, bitrates `"121.78"`, rates `"23.976"`, ratios
//! `"1/25"`, `"16:9"`) stay text, so the API's output is the same byte for byte. `"v": 2`
//! comes first and marks the format; the vendor's wire view (PascalCase keys, every value a
//! string) is built from these facts by the response views (actions/probe_view.rs).
//! Rows of the older format (the wire view itself) are converted at store open
//! ([`legacy`](super::legacy), store/probe_upgrade.rs).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The stored format's version: `2`. Format 1 was the vendor's wire view.
pub const FORMAT: u64 = 2;

/// The `"v"` marker: always [`FORMAT`]; text of any other version does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version;

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(FORMAT)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            FORMAT => Ok(Version),
            other => Err(serde::de::Error::custom(format!(
                "probe format {other}, expected {FORMAT}"
            ))),
        }
    }
}

/// What a probe found: the file's and each stream's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeResult {
    pub v: Version,
    pub media_type: MediaKind,
    pub file: FileFacts,
    pub video_streams: Vec<VideoStream>,
    pub audio_streams: Vec<AudioStream>,
    pub subtitle_streams: Vec<SubtitleStream>,
}

impl ProbeResult {
    /// Stored text of this format; `Err` for any other text (another version included).
    pub fn from_stored(text: &str) -> serde_json::Result<ProbeResult> {
        serde_json::from_str(text)
    }

    /// The stored text (compact JSON, `"v"` first).
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("probe facts always serialize")
    }
}

/// What the probe found a file to be (the vendor's `MediaType` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Video,
    Audio,
    Image,
}

/// An integer fact. ffprobe prints these in canonical form, stored as a JSON integer; text
/// that is not one (never seen) is kept as text, so no value is lost or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Whole {
    Int(i64),
    Text(String),
}

impl Whole {
    /// `"1280"` → `Int(1280)`; `"0128"`, `"1e3"`, `"1.0"` stay text.
    pub fn from_text(text: String) -> Whole {
        match text.parse::<i64>() {
            Ok(n) if n.to_string() == text => Whole::Int(n),
            _ => Whole::Text(text),
        }
    }

    /// The integer, when the fact is one.
    pub fn value(&self) -> Option<i64> {
        match self {
            Whole::Int(n) => Some(*n),
            Whole::Text(_) => None,
        }
    }
}

/// The text ffprobe printed (the vendor's value).
impl fmt::Display for Whole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Whole::Int(n) => write!(f, "{n}"),
            Whole::Text(t) => f.write_str(t),
        }
    }
}

/// Integers, or text made canonical as [`Whole::from_text`] does (format 1 held text).
impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Int(i64),
            Text(String),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Int(n) => Whole::Int(n),
            Repr::Text(t) => Whole::from_text(t),
        })
    }
}

/// The file as a whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileFacts {
    /// ffprobe's comma-separated demuxer names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_name: Option<String>,
    /// Seconds, decimal text as ffprobe printed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Kbit/s, decimal text (at most 2 places).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    /// The main picture stream's stored size (not rotated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<Whole>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<Whole>,
}

/// One picture stream. Ratios (`sar` `"1:1"`, `timebase` `"1/12800"`) and decimals
/// (`fps` `"29.97"`, `start_time`, `duration`, `bitrate` in Kbit/s) are ffprobe's text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    /// Hex text, e.g. `0x31637661`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_b_frames: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_fps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    /// The container's `nb_frames` (the vendor answers it twice: NumFrames, Nb_frames).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Clockwise degrees, 0–359.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate: Option<Whole>,
}

/// One audio stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_fmt: Option<String>,
    /// Hz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// One subtitle stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubtitleStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}
