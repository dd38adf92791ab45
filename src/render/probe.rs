//! The facts the plan needs about a source: from the media library's stored probe when the
//! source is library media ([`from_stored`], no process started), else from one
//! `ffprobe -of json` run ([`probe`]). Both give the same [`SourceInfo`] for the same file;
//! where the stored text cannot say what ffprobe would, [`from_stored`] declines and the
//! file is probed.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::media::probe::{MediaKind, ProbeResult, Whole};

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
    Ok(interpret(&ffprobe(path).await?))
}

/// What verifying a written output reads: whether it has video, the container's frame count
/// of that video, and the duration.
pub struct Written {
    pub has_video: bool,
    pub frames: Option<u64>,
    pub duration: Option<f64>,
}

/// One ffprobe run over a file the renderer wrote (the media library probes it again, fully,
/// once it is registered).
pub async fn written(path: &Path) -> Result<Written, String> {
    let p = ffprobe(path).await?;
    let video = p
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0);
    Ok(Written {
        has_video: video.is_some(),
        frames: video
            .and_then(|v| v.nb_frames.as_deref())
            .and_then(|n| n.parse().ok()),
        duration: p
            .format
            .and_then(|f| f.duration)
            .and_then(|d| d.parse().ok()),
    })
}

async fn ffprobe(path: &Path) -> Result<Probe, String> {
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
    serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe: {e}"))
}

/// Codecs whose single-frame files are still images (with the `image2`/`*_pipe` demuxers).
const IMAGE_CODECS: [&str; 4] = ["png", "mjpeg", "bmp", "webp"];

/// Whether the plan treats a file as a still image: a picture from an image demuxer, or
/// one frame of an image codec, and no audio.
fn is_still(format_name: &str, codec: Option<&str>, nb_frames: Option<&str>, audio: bool) -> bool {
    let image_demuxer = format_name == "image2" || format_name.ends_with("_pipe");
    let one_picture =
        codec.is_some_and(|c| IMAGE_CODECS.contains(&c)) && nb_frames.is_none_or(|n| n == "1");
    (image_demuxer || one_picture) && !audio
}

/// The plan's facts from the media library's probe of the file (the stored [`ProbeResult`]).
/// `None` when the stored text cannot tell what ffprobe would: a file the library calls an
/// image but the plan would play as video (an animated GIF or APNG: the library keeps no
/// duration or rate for images).
///
/// The library keeps rates as decimals (`"29.97"`); they become fractions as
/// `Video.Fps` does (NTSC rates n×1000/1001, others exact to 1/1000), and bitrates as
/// Kbit/s with 2 decimals, rounded here to whole Kbit/s as [`probe`] rounds ffprobe's bit/s.
pub fn from_stored(p: &ProbeResult) -> Option<SourceInfo> {
    let video = p.video_streams.first();
    let has_audio = !p.audio_streams.is_empty();
    let image = video.is_some_and(|v| {
        is_still(
            p.file.format_name.as_deref().unwrap_or(""),
            v.codec_name.as_deref(),
            v.frames.as_ref().map(Whole::to_string).as_deref(),
            has_audio,
        )
    });
    if p.media_type == MediaKind::Image && !image {
        return None;
    }
    let decimal = |t: &Option<String>| t.as_deref().and_then(|t| t.trim().parse::<f64>().ok());
    let duration = decimal(&p.file.duration).filter(|d| d.is_finite() && *d > 0.0 && !image);
    let bitrate_kbps = decimal(&p.file.bitrate)
        .or(video.and_then(|v| decimal(&v.bitrate)))
        .map(|b| b.round() as u32)
        .filter(|b| *b > 0 && !image);
    let fps = video.filter(|_| !image).and_then(|v| {
        [&v.fps, &v.avg_fps]
            .into_iter()
            .filter_map(decimal)
            .find(|r| *r > 0.0 && *r <= 120.0)
            .map(super::fps_fraction)
    });
    let whole = |w: &Option<Whole>| w.as_ref()?.value()?.try_into().ok();
    let rotate = video
        .and_then(|v| v.rotate.as_ref())
        .and_then(Whole::value)
        .unwrap_or(0);
    let (width, height) = displayed(
        video.and_then(|v| whole(&v.width)),
        video.and_then(|v| whole(&v.height)),
        rotate,
    );
    Some(SourceInfo {
        duration,
        width,
        height,
        fps,
        bitrate_kbps,
        has_video: video.is_some(),
        has_audio,
        image,
    })
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
        is_still(
            format_name,
            v.codec_name.as_deref(),
            v.nb_frames.as_deref(),
            has_audio,
        )
    });
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
    let (width, height) = displayed(
        video.and_then(|v| v.width),
        video.and_then(|v| v.height),
        video.map_or(0, rotation),
    );
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

/// The picture size as displayed: a quarter turn (`rotation` in degrees) swaps the sides.
fn displayed(width: Option<u32>, height: Option<u32>, rotation: i64) -> (Option<u32>, Option<u32>) {
    if rotation.rem_euclid(180) == 90 {
        (height, width)
    } else {
        (width, height)
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

    fn stored(json: serde_json::Value) -> Option<SourceInfo> {
        from_stored(&ProbeResult::from_stored(&json.to_string()).unwrap())
    }

    #[test]
    fn stored_rates_become_fractions_and_images_the_plan_would_play_are_probed() {
        let video = |fps: &str| {
            stored(serde_json::json!({
                "v": 2, "media_type": "video",
                "file": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "2.5", "bitrate": "812.5"},
                "video_streams": [{"codec_name": "h264", "width": 640, "height": 360,
                    "fps": fps, "avg_fps": "25", "rotate": 270}],
                "audio_streams": [], "subtitle_streams": []}))
            .unwrap()
        };
        let v = video("29.97");
        assert_eq!(v.fps, Some((30000, 1001)));
        assert_eq!((v.width, v.height), (Some(360), Some(640)));
        assert_eq!((v.duration, v.bitrate_kbps), (Some(2.5), Some(813)));
        assert!(v.has_video && !v.has_audio && !v.image);
        assert_eq!(video("12.5").fps, Some((25, 2)));
        // ffprobe's 1000/1 of some WebM files is no rate: the average stands in.
        assert_eq!(video("1000").fps, Some((25, 1)));
        // An animated GIF is an image to the library (no duration kept) but video to the plan.
        let gif = serde_json::json!({
            "v": 2, "media_type": "image", "file": {"format_name": "gif"},
            "video_streams": [{"codec_name": "gif", "width": 64, "height": 64}],
            "audio_streams": [], "subtitle_streams": []});
        assert_eq!(stored(gif), None);
    }
}
