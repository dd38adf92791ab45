//! The facts the plan needs about a source, from one `ffprobe -of json` run. (The media
//! library's probe keeps the vendor's text fields; the plan needs the exact frame rate as a
//! fraction and whether the file is a still image.)

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

/// What the plan knows about one source file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceInfo {
    /// Seconds; `None` for still images.
    pub duration: Option<f64>,
    /// Picture size as displayed (rotation applied).
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<(u32, u32)>,
    pub bitrate_kbps: Option<u32>,
    pub has_video: bool,
    pub has_audio: bool,
    pub image: bool,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    r_frame_rate: Option<String>,
    avg_frame_rate: Option<String>,
    bit_rate: Option<String>,
    nb_frames: Option<String>,
    #[serde(default)]
    disposition: Disposition,
    #[serde(default)]
    side_data_list: Vec<serde_json::Value>,
    #[serde(default)]
    tags: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn probe(path: &Path) -> Result<SourceInfo, String> {
    let mut cmd = Command::new("ffprobe");
    cmd.args([
        "-v",
        "error",
        "-of",
        "json",
        "-show_format",
        "-show_streams",
    ])
    .arg("-i")
    .arg(path)
    .kill_on_drop(true)
    .stdin(std::process::Stdio::null());
    let out = match tokio::time::timeout(PROBE_TIMEOUT, cmd.output()).await {
        Err(_) => return Err("ffprobe timed out".to_owned()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("ffprobe is not installed".to_owned());
        }
        Ok(Err(e)) => return Err(format!("cannot run ffprobe: {e}")),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "not a readable media file: {}",
            line.replace(&*path.to_string_lossy(), "<input>")
        ));
    }
    let p: Probe = serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe: {e}"))?;
    Ok(interpret(&p))
}

fn interpret(p: &Probe) -> SourceInfo {
    let format = p.format.as_ref();
    let format_name = format.and_then(|f| f.format_name.as_deref()).unwrap_or("");
    let video = p
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    let has_audio = p
        .streams
        .iter()
        .any(|s| s.codec_type.as_deref() == Some("audio"));
    let image = video.is_some_and(|v| {
        format_name == "image2"
            || format_name.ends_with("_pipe")
            || (matches!(
                v.codec_name.as_deref(),
                Some("png" | "mjpeg" | "bmp" | "webp")
            ) && v.nb_frames.as_deref().is_none_or(|n| n == "1"))
    }) && !has_audio;
    let duration = format
        .and_then(|f| f.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0 && !image);
    let bitrate_kbps = format
        .and_then(|f| f.bit_rate.as_deref())
        .or(video.and_then(|v| v.bit_rate.as_deref()))
        .and_then(|b| b.parse::<f64>().ok())
        .map(|b| (b / 1000.0).round() as u32)
        .filter(|b| *b > 0 && !image);
    let fps = video.filter(|_| !image).and_then(|v| {
        [&v.r_frame_rate, &v.avg_frame_rate]
            .into_iter()
            .filter_map(|r| r.as_deref().and_then(parse_rate))
            .next()
    });
    let rotated = video.is_some_and(|v| rotation(v) % 180 == 90);
    let (mut width, mut height) = (video.and_then(|v| v.width), video.and_then(|v| v.height));
    if rotated {
        std::mem::swap(&mut width, &mut height);
    }
    SourceInfo {
        duration,
        width,
        height,
        fps,
        bitrate_kbps,
        has_video: video.is_some(),
        has_audio,
        image,
    }
}

/// `"30000/1001"` → (30000, 1001), only for plausible rates (up to 120 fps).
fn parse_rate(r: &str) -> Option<(u32, u32)> {
    let (n, d) = r.split_once('/')?;
    let (n, d): (u32, u32) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (n > 0 && d > 0 && n <= 120 * d).then_some((n, d))
}

/// Clockwise rotation in degrees (the `rotate` tag or the display matrix side data).
fn rotation(s: &Stream) -> i64 {
    let tag = s
        .tags
        .get("rotate")
        .and_then(|v| v.as_str())
        .and_then(|r| r.parse::<i64>().ok());
    let side = s
        .side_data_list
        .iter()
        .find_map(|d| d.get("rotation").and_then(|r| r.as_f64()));
    tag.or(side.map(|r| r.round() as i64))
        .unwrap_or(0)
        .rem_euclid(360)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_fractions_within_range() {
        assert_eq!(parse_rate("30000/1001"), Some((30000, 1001)));
        assert_eq!(parse_rate("25/1"), Some((25, 1)));
        assert_eq!(parse_rate("90000/1"), None);
        assert_eq!(parse_rate("0/0"), None);
    }
}
