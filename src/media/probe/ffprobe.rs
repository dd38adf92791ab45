//! ffprobe's `-print_format json` output, typed, and the run that produces it.
//!
//! Only the fields openice reads are declared; the rest is ignored. Each field is a
//! [`Field`], since ffprobe prints some values as JSON numbers (`width`, `index`,
//! `level`) and others as text (`duration`, `bit_rate`, `sample_rate`), and a value of
//! an unexpected type counts as "not given" instead of failing the whole probe.

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::process::{
    Tools, failure, fetch_rules, limited_command, not_installed, run_captured, source_arg,
};
use super::{ProbeError, ProbeLimits};

/// The `-show_format -show_streams` sections (or the `-show_entries` subset).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Output {
    pub streams: Vec<Stream>,
    pub format: Format,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Format {
    /// Comma-separated demuxer names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: Field,
    pub duration: Field,
    pub size: Field,
    pub bit_rate: Field,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Stream {
    pub index: Field,
    pub codec_type: Field,
    pub codec_name: Field,
    pub codec_long_name: Field,
    pub profile: Field,
    pub codec_time_base: Field,
    pub codec_tag_string: Field,
    pub codec_tag: Field,
    pub width: Field,
    pub height: Field,
    pub has_b_frames: Field,
    pub sample_aspect_ratio: Field,
    pub display_aspect_ratio: Field,
    pub pix_fmt: Field,
    pub level: Field,
    pub sample_fmt: Field,
    pub sample_rate: Field,
    pub channels: Field,
    pub channel_layout: Field,
    pub r_frame_rate: Field,
    pub avg_frame_rate: Field,
    pub time_base: Field,
    pub start_time: Field,
    pub duration: Field,
    pub bit_rate: Field,
    pub nb_frames: Field,
    /// Filled by `-count_frames` / `-count_packets` (the readability pass).
    pub nb_read_frames: Field,
    pub nb_read_packets: Field,
    pub disposition: Disposition,
    /// In ffprobe's order, which decides between keys that differ only in case.
    pub tags: IndexMap<String, Field>,
    pub side_data_list: Vec<SideData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Disposition {
    pub attached_pic: Field,
}

/// One `side_data_list` item; only the display matrix matters here.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SideData {
    /// Three rows `0000000i: a b c`.
    pub displaymatrix: Field,
    /// Counterclockwise degrees (ffprobe ≥ 5).
    pub rotation: Field,
}

impl Stream {
    /// A tag, whatever the case of its key (Matroska writes `DURATION`, MP4 `language`):
    /// the first key that matches decides, even when its value is not usable.
    pub fn tag(&self, key: &str) -> Option<String> {
        self.tags
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .and_then(|(_, value)| value.text())
    }
}

/// One ffprobe value, as printed; `null` or absent is `None`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub(super) struct Field(Option<Scalar>);

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_json::Number),
    /// Objects, arrays and booleans: never a usable value.
    Other(IgnoredAny),
}

impl Field {
    /// The value as text; empty strings and `N/A` are "not given".
    pub fn text(&self) -> Option<String> {
        match self.0.as_ref()? {
            Scalar::Text(s) if !s.trim().is_empty() && s != "N/A" => Some(s.clone()),
            Scalar::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The value as a finite number, from a JSON number or numeric text.
    pub fn number(&self) -> Option<f64> {
        let value = match self.0.as_ref()? {
            Scalar::Text(s) => s.trim().parse::<f64>().ok()?,
            Scalar::Number(n) => n.as_f64()?,
            Scalar::Other(_) => return None,
        };
        value.is_finite().then_some(value)
    }

    /// A JSON number that is a non-negative integer (stream indexes).
    pub fn index(&self) -> Option<u64> {
        match self.0.as_ref()? {
            Scalar::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// Whether the value is exactly the text `expected`.
    pub fn is(&self, expected: &str) -> bool {
        matches!(self.0.as_ref(), Some(Scalar::Text(s)) if s == expected)
    }
}

/// Runs ffprobe with JSON output and the given section options.
pub(super) async fn run(
    tools: &Tools,
    input: &str,
    limits: &ProbeLimits,
    sections: &[&str],
) -> Result<Output, ProbeError> {
    let ffprobe = tools
        .ffprobe
        .as_deref()
        .ok_or_else(|| not_installed("ffprobe"))?;
    let (arg, _) = source_arg(input);
    let mut cmd = limited_command(tools, ffprobe, limits, None);
    cmd.args(["-v", "error", "-threads", "1"])
        .args(fetch_rules(tools, input).await?)
        .args(["-pattern_type", "none", "-print_format", "json"])
        .args(sections)
        .arg("-i")
        .arg(&arg);
    let captured = run_captured(cmd).await?;
    if !captured.status.success() {
        return Err(failure("ffprobe", input, None, &captured));
    }
    serde_json::from_slice(&captured.stdout)
        .map_err(|_| ProbeError::Failed("ffprobe gave unreadable output".into()))
}
