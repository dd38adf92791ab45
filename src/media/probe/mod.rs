//! Media probing with `ffprobe` and cover snapshots with `ffmpeg`.
//!
//! [`probe`] turns a local file or an http(s) URL into the facts the vendor answers in
//! `FileBasicInfo` and the `VideoStreamInfoList` / `AudioStreamInfoList` /
//! `SubtitleStreamInfoList` items, as a [`ProbeResult`] in openice's stored format
//! (`facts`; the response views build the vendor's all-strings wire view from it).
//! [`snapshot`] writes one JPEG for a cover.
//!
//! Layout: `process` runs the tools (limits, capture, read rules, error excerpts),
//! `ffprobe` is ffprobe's typed JSON output, `classify` turns it into a [`ProbeResult`],
//! `snapshot` makes covers, `facts` is the stored format and `legacy` reads its format 1
//! (for the store's upgrade); this file holds the limits, errors and the two probe passes.
//!
//! Decisions:
//! - Values ffprobe does not give are `None` and are left out of the JSON, never `0`:
//!   an image has no Duration/Bitrate, audio has no Width/Height, `level -99`,
//!   `0:1` aspect ratios and `0/0` frame rates count as "not given".
//! - Image: no audio, one picture stream, and either an image demuxer (`image2`, `*_pipe`,
//!   `gif`, `apng`, `webp`) or an image codec with at most one frame and no duration.
//!   Animated GIF/APNG/WebP are images too (the vendor files them as images).
//!   Image streams drop Fps/AvgFPS/Duration/Bitrate (the demuxer's 25 fps is made up).
//! - Cover art (`attached_pic`) is not a video stream: an MP3 with a cover is audio,
//!   though [`snapshot`] uses the cover.
//! - A stream counts only if ffprobe names its codec and, for pictures, a size, for
//!   audio, a sample rate; a file with no such stream is `Failed`. Text files, which
//!   ffmpeg shows as "ANSI art" video (`tty` demuxer), are `Failed` too.
//! - A local input that is missing, not a regular file or empty is `Failed` before any
//!   tool runs.
//! - Truncated files: a second ffprobe pass must read one packet of the main stream, and
//!   for an image decode one frame. So a header-only MP4 (moov, no media data) or a cut
//!   PNG is `Failed`; an MP4 whose header and first packets survive probes with the
//!   header's duration (ffprobe does not decode the whole file, by design: it is cheap).
//! - Duration: ffprobe's text for the format (`"3.000000"`), else the longest stream,
//!   using the Matroska `DURATION` tag where streams have no duration field.
//! - Bitrate (file and streams): Kbit/s, at most 2 decimals (`"121.78"`); file Bitrate
//!   falls back to the sum of stream bitrates, then to size × 8 / duration.
//! - Fps/AvgFPS: `r_frame_rate`/`avg_frame_rate` as decimals with at most 3 places
//!   (`"25"`, `"29.97"`, `"23.976"`).
//! - `frames` (the vendor's `NumFrames` and `Nb_frames`) is the container's `nb_frames`
//!   (no frame counting).
//! - Rotate: the `rotate` tag if present, else the clockwise angle of the display matrix
//!   (0–359), read from the raw matrix so ffprobe's sign convention does not matter.
//! - Lang: the `language` tag as is (including `und`). `CodecTimeBase`: only when ffprobe
//!   prints it (ffprobe ≥ 5 no longer does).
//! - Width/Height in [`FileFacts`] are the main picture stream's stored size (not rotated).
//! - Safety: ffprobe/ffmpeg run under `prlimit` (address space, CPU seconds, 64 open
//!   files; ffmpeg also a 64 MiB output size) when `prlimit` is on PATH; `0` in
//!   [`ProbeLimits`] means "no limit". Children are killed when the timeout fires
//!   (`kill_on_drop`). Local paths are passed as `file:<path>` with only the `file`
//!   protocol allowed, URLs with only http/https/tcp/tls and no redirects
//!   (`-max_redirects 0`), image sequence patterns are off, and demuxers that open
//!   further inputs (HLS, DASH, concat, IMF, SDP/RTP/RTSP, lavfi) are not allowed
//!   (`-format_whitelist`), so the tools read the input itself and nothing else: no other
//!   file or host by protocol, redirect, playlist or `%d` pattern. Error texts replace the
//!   input with `<input>` so paths and signed URLs do not leak.
//! - Decoders run with one thread (`-threads 1`) so the address-space limit holds on
//!   many-core hosts.
//! - The timeout covers the whole call (both probe passes; for [`snapshot`], the probe and
//!   ffmpeg runs together).
//! - Snapshot: `at_secs` (NaN/negative → 0) is clamped to `duration − 1 s`, and if no
//!   frame comes out there it retries at 0. The picture is scaled down to fit 1280×1280
//!   (never up), encoded as JPEG, written to a temporary sibling and renamed onto `out`.

mod classify;
mod facts;
mod ffprobe;
pub mod legacy;
mod process;
mod snapshot;
#[cfg(test)]
mod tests;

pub use facts::{
    AudioStream, FORMAT, FileFacts, MediaKind, ProbeResult, SubtitleStream, Version, VideoStream,
    Whole,
};

use std::path::Path;
use std::time::Duration;

use process::{Tools, source_arg, with_timeout};

/// Resource limits for one ffprobe/ffmpeg run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeLimits {
    /// Wall-clock limit for the whole call.
    pub timeout: Duration,
    /// Address-space limit of the child (`prlimit --as`); 0 = none.
    pub max_memory_bytes: u64,
    /// CPU-time limit of the child (`prlimit --cpu`); 0 = none.
    pub max_cpu_secs: u64,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_memory_bytes: 1 << 30,
            max_cpu_secs: 60,
        }
    }
}

/// Why a probe or snapshot gave no result.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// ffprobe/ffmpeg could not be started (usually: not installed).
    #[error("cannot run the media tools: {0}")]
    Spawn(#[source] std::io::Error),
    /// The call took longer than [`ProbeLimits::timeout`]; the child was killed.
    #[error("media probe timed out")]
    Timeout,
    /// The input is unreadable, corrupt, empty or has no usable stream.
    #[error("media could not be read: {0}")]
    Failed(String),
}

/// Probes `input`, a local file path or an http(s) URL (the caller decides what is allowed).
///
/// # Errors
/// [`ProbeError::Spawn`] when ffprobe cannot be started, [`ProbeError::Timeout`] after
/// `limits.timeout`, [`ProbeError::Failed`] for missing, empty, unreadable, truncated or
/// corrupt input and for input without a usable audio, video or image stream.
pub async fn probe(input: &str, limits: &ProbeLimits) -> Result<ProbeResult, ProbeError> {
    let tools = Tools::from_path();
    with_timeout(limits, probe_inner(&tools, input, limits))
        .await
        .map(|probed| probed.result)
}

/// Writes one JPEG frame of a video (at `at_secs`, clamped into the file), the cover art
/// of an audio file, or a scaled copy of an image to `out`, for covers. Same limits.
///
/// # Errors
/// As [`probe`]; also [`ProbeError::Failed`] when the input has no picture (plain audio)
/// or ffmpeg produces none, and [`ProbeError::Spawn`] when ffmpeg cannot be started.
pub async fn snapshot(
    input: &str,
    at_secs: f64,
    out: &Path,
    limits: &ProbeLimits,
) -> Result<(), ProbeError> {
    let tools = Tools::from_path();
    with_timeout(limits, snapshot::take(&tools, input, at_secs, out, limits)).await
}

/// A probe result plus what a snapshot needs to know.
#[derive(Debug)]
struct Probed {
    result: ProbeResult,
    /// ffprobe's format name (first of the list), e.g. `image2`.
    demuxer: Option<String>,
    duration_secs: Option<f64>,
    /// Stream to take a picture from: the main picture stream, else cover art.
    picture_stream: Option<u64>,
}

async fn probe_inner(
    tools: &Tools,
    input: &str,
    limits: &ProbeLimits,
) -> Result<Probed, ProbeError> {
    let local_size = if source_arg(input).1 == "file" {
        Some(check_local_file(input).await?)
    } else {
        None
    };
    let output = ffprobe::run(tools, input, limits, &["-show_format", "-show_streams"]).await?;
    let mut probed = classify::interpret(&output)?;
    if probed.result.file.file_size.is_none() {
        probed.result.file.file_size =
            local_size.and_then(|size| size.try_into().ok().map(Whole::Int));
    }
    verify_readable(tools, input, limits, &probed).await?;
    Ok(probed)
}

/// A local input must be a non-empty regular file; returns its size.
async fn check_local_file(path: &str) -> Result<u64, ProbeError> {
    let meta = tokio::fs::metadata(path).await.map_err(|err| {
        let reason = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            _ => err.to_string(),
        };
        ProbeError::Failed(format!("<input>: {reason}"))
    })?;
    if !meta.is_file() {
        return Err(ProbeError::Failed("<input>: not a regular file".into()));
    }
    if meta.len() == 0 {
        return Err(ProbeError::Failed("<input>: the file is empty".into()));
    }
    Ok(meta.len())
}

/// Second pass: one packet of the main stream must be readable, and an image's frame
/// must decode. Catches files whose header survived but whose data did not.
async fn verify_readable(
    tools: &Tools,
    input: &str,
    limits: &ProbeLimits,
    probed: &Probed,
) -> Result<(), ProbeError> {
    let image = probed.result.media_type == MediaKind::Image;
    let main_index = match probed.result.media_type {
        MediaKind::Video | MediaKind::Image => probed
            .result
            .video_streams
            .first()
            .and_then(|s| s.index.as_ref()),
        MediaKind::Audio => probed
            .result
            .audio_streams
            .first()
            .and_then(|s| s.index.as_ref()),
    }
    .map(Whole::to_string)
    .ok_or_else(|| ProbeError::Failed("no indexed main stream".into()))?;
    let mut options = vec!["-select_streams", &main_index, "-read_intervals", "%+#1"];
    options.extend(if image {
        ["-count_frames", "-show_entries", "stream=nb_read_frames"]
    } else {
        ["-count_packets", "-show_entries", "stream=nb_read_packets"]
    });
    let output = ffprobe::run(tools, input, limits, &options).await?;
    let count = output
        .streams
        .first()
        .and_then(|stream| {
            let read = if image {
                &stream.nb_read_frames
            } else {
                &stream.nb_read_packets
            };
            read.number()
        })
        .unwrap_or(0.0);
    if count >= 1.0 {
        Ok(())
    } else if image {
        Err(ProbeError::Failed(
            "the image does not decode (truncated or corrupt)".into(),
        ))
    } else {
        Err(ProbeError::Failed(
            "no media data could be read (truncated or corrupt)".into(),
        ))
    }
}
