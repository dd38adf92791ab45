//! Media probing with `ffprobe` and cover snapshots with `ffmpeg`.
//!
//! [`probe`] turns a local file or an http(s) URL into the fields of the vendor's
//! `FileBasicInfo` and `VideoStreamInfoList` / `AudioStreamInfoList` /
//! `SubtitleStreamInfoList` items (every value a JSON string, as the vendor sends them).
//! [`snapshot`] writes one JPEG for a cover.
//!
//! Decisions:
//! - Values ffprobe does not give are `None` and are left out of the JSON, never `"0"`:
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
//! - `NumFrames` and `Nb_frames` both carry the container's `nb_frames` (no frame counting).
//! - Rotate: the `rotate` tag if present, else the clockwise angle of the display matrix
//!   (0–359), read from the raw matrix so ffprobe's sign convention does not matter.
//! - Lang: the `language` tag as is (including `und`). `CodecTimeBase`: only when ffprobe
//!   prints it (ffprobe ≥ 5 no longer does).
//! - Width/Height in [`FileProps`] are the main picture stream's stored size (not rotated).
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

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

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

/// What a probe found: the vendor's file and stream fields, all as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub media_type: MediaKind,
    pub file: FileProps,
    pub video_streams: Vec<VideoStreamInfo>,
    pub audio_streams: Vec<AudioStreamInfo>,
    pub subtitle_streams: Vec<SubtitleStreamInfo>,
}

/// The vendor's `MediaType` for probed media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Video,
    Audio,
    Image,
}

/// The probed part of `FileBasicInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_name: Option<String>,
    /// Seconds, decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Kbit/s, decimal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<String>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<String>,
}

/// One `VideoStreamInfoList` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VideoStreamInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_b_frames: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<String>,
    #[serde(rename = "AvgFPS", default, skip_serializing_if = "Option::is_none")]
    pub avg_fps: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_frames: Option<String>,
    #[serde(rename = "Nb_frames", default, skip_serializing_if = "Option::is_none")]
    pub nb_frames: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<String>,
}

/// One `AudioStreamInfoList` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AudioStreamInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_fmt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_frames: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// One `SubtitleStreamInfoList` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubtitleStreamInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_long_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_time_base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag_string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
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
    with_timeout(limits, snapshot_inner(&tools, input, at_secs, out, limits)).await
}

// ---------------------------------------------------------------------------------------
// Running the tools

/// Largest ffprobe JSON accepted.
const STDOUT_CAP: usize = 4 << 20;
/// Stderr kept for error messages (the rest is drained and dropped).
const STDERR_CAP: usize = 64 << 10;
/// Longest error excerpt handed back in [`ProbeError::Failed`].
const EXCERPT_CHARS: usize = 300;
/// Output file size limit for ffmpeg (a JPEG cover is far smaller).
const SNAPSHOT_MAX_BYTES: u64 = 64 << 20;
/// Covers are scaled down to fit this square.
const SNAPSHOT_MAX_SIDE: u32 = 1280;

/// Where the external programs are; `None` = not installed.
#[derive(Debug, Clone, Default)]
struct Tools {
    ffprobe: Option<PathBuf>,
    ffmpeg: Option<PathBuf>,
    prlimit: Option<PathBuf>,
}

impl Tools {
    fn from_path() -> Self {
        Self {
            ffprobe: find_program("ffprobe"),
            ffmpeg: find_program("ffmpeg"),
            prlimit: find_program("prlimit"),
        }
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

async fn with_timeout<T>(
    limits: &ProbeLimits,
    work: impl Future<Output = Result<T, ProbeError>>,
) -> Result<T, ProbeError> {
    // Dropping `work` on timeout drops any running child, which kills it (kill_on_drop).
    tokio::time::timeout(limits.timeout, work)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

/// Builds the command for `program`, under `prlimit` when it is available.
fn limited_command(
    tools: &Tools,
    program: &Path,
    limits: &ProbeLimits,
    max_file_bytes: Option<u64>,
) -> Command {
    let Some(prlimit) = &tools.prlimit else {
        return Command::new(program);
    };
    let mut cmd = Command::new(prlimit);
    if limits.max_memory_bytes > 0 {
        cmd.arg(format!("--as={}", limits.max_memory_bytes));
    }
    if limits.max_cpu_secs > 0 {
        cmd.arg(format!("--cpu={}", limits.max_cpu_secs));
    }
    if let Some(bytes) = max_file_bytes {
        cmd.arg(format!("--fsize={bytes}"));
    }
    cmd.arg("--nofile=64").arg("--").arg(program);
    cmd
}

struct Captured {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` with null stdin and captured, size-capped output.
async fn run_captured(mut cmd: Command) -> Result<Captured, ProbeError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(ProbeError::Spawn)?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ProbeError::Failed("child output pipes missing".into()));
    };
    let read_out = async {
        match read_capped(stdout, STDOUT_CAP).await {
            Ok((bytes, false)) => Ok(bytes),
            Ok((_, true)) => Err(ProbeError::Failed("ffprobe output too large".into())),
            Err(err) => Err(ProbeError::Failed(format!("reading tool output: {err}"))),
        }
    };
    let read_err = async { Ok::<_, ProbeError>(read_keep_head(stderr, STDERR_CAP).await) };
    // On an early error `child` is dropped here, which kills it.
    let (stdout, stderr) = tokio::try_join!(read_out, read_err)?;
    let status = child
        .wait()
        .await
        .map_err(|err| ProbeError::Failed(format!("waiting for the tool: {err}")))?;
    Ok(Captured {
        status,
        stdout,
        stderr,
    })
}

/// Reads up to `cap` bytes; the flag says the stream had more.
async fn read_capped<R: AsyncRead + Unpin>(
    mut reader: R,
    cap: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok((buf, false));
        }
        if buf.len() + n > cap {
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Keeps the first `cap` bytes and drains the rest so the child never blocks on the pipe.
async fn read_keep_head<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8 << 10];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(buf.len()).min(n);
        buf.extend_from_slice(&chunk[..room]);
    }
    buf
}

/// The argument ffprobe/ffmpeg get for `input`, and the protocols it may use.
fn source_arg(input: &str) -> (String, &'static str) {
    if is_url(input) {
        (input.to_owned(), "http,https,tcp,tls")
    } else {
        // `file:` stops a path that looks like an option or a protocol (`a:b`) from being
        // read as one.
        (format!("file:{input}"), "file")
    }
}

fn is_url(input: &str) -> bool {
    let lower = input.get(..8).unwrap_or(input).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Demuxers that open further inputs: playlists and manifests (which name other URLs or
/// files), scripts, network sessions and filter graphs. The tools may read the input and
/// nothing else, so these are never allowed.
const NESTING_DEMUXERS: &[&str] = &[
    "hls", "dash", "concat", "imf", "sdp", "rtp", "rtsp", "sap", "lavfi",
];

/// `-format_whitelist`: every demuxer the installed ffprobe has, minus [`NESTING_DEMUXERS`].
static ALLOWED_DEMUXERS: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

async fn allowed_demuxers(ffprobe: &Path) -> Result<&'static str, ProbeError> {
    let list = ALLOWED_DEMUXERS
        .get_or_try_init(|| async {
            let out = Command::new(ffprobe)
                .args(["-hide_banner", "-v", "error", "-demuxers"])
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output()
                .await
                .map_err(ProbeError::Spawn)?;
            // Lines look like " D  mov,mp4,m4a,3gp,3g2,mj2   QuickTime / MOV".
            let text = String::from_utf8_lossy(&out.stdout);
            let names: Vec<&str> = text
                .lines()
                .filter_map(|line| {
                    let mut fields = line.split_whitespace();
                    let flags = fields.next()?;
                    let names = fields.next()?;
                    (flags.starts_with('D') && flags != "D.").then_some(names)
                })
                .filter(|names| !names.split(',').any(|n| NESTING_DEMUXERS.contains(&n)))
                .collect();
            if names.is_empty() {
                return Err(ProbeError::Failed("ffprobe lists no demuxers".into()));
            }
            Ok(names.join(","))
        })
        .await?;
    Ok(list)
}

/// The options that keep a tool's reads to `input` itself: its protocols, demuxers that
/// open nothing further, and for URLs no redirects (a redirect could leave the
/// allow-listed host; `max_redirects 0` makes it an error).
async fn fetch_rules(tools: &Tools, input: &str) -> Result<Vec<String>, ProbeError> {
    let ffprobe = tools
        .ffprobe
        .as_deref()
        .ok_or_else(|| not_installed("ffprobe"))?;
    let (_, protocols) = source_arg(input);
    let mut rules = vec![
        "-protocol_whitelist".to_owned(),
        protocols.to_owned(),
        "-format_whitelist".to_owned(),
        allowed_demuxers(ffprobe).await?.to_owned(),
    ];
    if is_url(input) {
        rules.extend(["-max_redirects".to_owned(), "0".to_owned()]);
    }
    Ok(rules)
}

/// Turns a failed run into a short, input-free message.
fn failure(tool: &str, input: &str, output: Option<&Path>, captured: &Captured) -> ProbeError {
    use std::os::unix::process::ExitStatusExt;
    let excerpt = stderr_excerpt(&captured.stderr, input, output);
    let status = match (captured.status.code(), captured.status.signal()) {
        (Some(code), _) => format!("{tool} exited with status {code}"),
        (None, Some(signal)) => {
            format!("{tool} was killed by signal {signal} (resource limit reached?)")
        }
        (None, None) => format!("{tool} failed"),
    };
    if excerpt.is_empty() {
        ProbeError::Failed(status)
    } else {
        ProbeError::Failed(excerpt)
    }
}

/// A one-line excerpt of stderr with the input, the output path and pointer addresses
/// removed.
fn stderr_excerpt(stderr: &[u8], input: &str, output: Option<&Path>) -> String {
    let text = String::from_utf8_lossy(stderr);
    let (arg, _) = source_arg(input);
    let output = output.map(|path| path.to_string_lossy().into_owned());
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut line = line.replace(&arg, "<input>");
        if !input.is_empty() {
            line = line.replace(input, "<input>");
        }
        if let Some(output) = output.as_deref().filter(|o| !o.is_empty()) {
            line = line.replace(&format!("file:{output}"), "<output>");
            line = line.replace(output, "<output>");
        }
        let line = strip_addresses(line.trim());
        if !line.is_empty() && !lines.contains(&line) {
            lines.push(line);
        }
    }
    let joined = lines.join("; ");
    match joined.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// `[png @ 0x55d7603f3bc0] chunk too big` → `[png] chunk too big`.
fn strip_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(" @ 0x") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        let hex_len = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        rest = &after[hex_len..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------
// Probing

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
    let json = run_ffprobe(tools, input, limits, &["-show_format", "-show_streams"]).await?;
    let mut probed = interpret(&json)?;
    if probed.result.file.file_size.is_none() {
        probed.result.file.file_size = local_size.map(|size| size.to_string());
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

/// Runs ffprobe with JSON output and the given section options.
async fn run_ffprobe(
    tools: &Tools,
    input: &str,
    limits: &ProbeLimits,
    sections: &[&str],
) -> Result<Value, ProbeError> {
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

fn not_installed(tool: &str) -> ProbeError {
    ProbeError::Spawn(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{tool} not found on PATH (install ffmpeg)"),
    ))
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
            .and_then(|s| s.index.clone()),
        MediaKind::Audio => probed
            .result
            .audio_streams
            .first()
            .and_then(|s| s.index.clone()),
    }
    .ok_or_else(|| ProbeError::Failed("no indexed main stream".into()))?;
    let mut options = vec!["-select_streams", &main_index, "-read_intervals", "%+#1"];
    options.extend(if image {
        ["-count_frames", "-show_entries", "stream=nb_read_frames"]
    } else {
        ["-count_packets", "-show_entries", "stream=nb_read_packets"]
    });
    let json = run_ffprobe(tools, input, limits, &options).await?;
    let key = if image {
        "nb_read_frames"
    } else {
        "nb_read_packets"
    };
    let count = json["streams"]
        .as_array()
        .and_then(|streams| streams.first())
        .and_then(|stream| number(stream, key))
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

/// Demuxers that only read still images (or image animations).
fn is_image_demuxer(format: &str) -> bool {
    matches!(format, "image2" | "gif" | "apng" | "webp" | "ico") || format.ends_with("_pipe")
}

/// Codecs used for still images.
fn is_image_codec(codec: &str) -> bool {
    matches!(
        codec,
        "png"
            | "apng"
            | "mjpeg"
            | "jpegls"
            | "gif"
            | "webp"
            | "bmp"
            | "tiff"
            | "jpeg2000"
            | "jpegxl"
            | "ppm"
            | "pgm"
            | "pbm"
            | "pam"
            | "pgmyuv"
            | "targa"
            | "sgi"
            | "dds"
            | "psd"
            | "qoi"
            | "pcx"
            | "xbm"
            | "xpm"
            | "xwd"
            | "exr"
            | "hdr"
            | "photocd"
            | "sunrast"
            | "pictor"
    )
}

/// Builds the vendor fields from ffprobe's `-show_format -show_streams` JSON.
fn interpret(json: &Value) -> Result<Probed, ProbeError> {
    let empty = Vec::new();
    let streams = json["streams"].as_array().unwrap_or(&empty);
    let format = &json["format"];

    let is_type = |stream: &Value, kind: &str| stream["codec_type"].as_str() == Some(kind);
    let attached = |stream: &Value| number(&stream["disposition"], "attached_pic") == Some(1.0);
    let pictures: Vec<&Value> = streams
        .iter()
        .filter(|s| is_type(s, "video") && !attached(s) && usable_picture(s))
        .collect();
    let covers = streams
        .iter()
        .filter(|s| is_type(s, "video") && attached(s) && usable_picture(s));
    let audios: Vec<&Value> = streams
        .iter()
        .filter(|s| is_type(s, "audio") && text(s, "codec_name").is_some())
        .filter(|s| number(s, "sample_rate").is_some_and(|rate| rate > 0.0))
        .collect();
    let subtitles: Vec<&Value> = streams.iter().filter(|s| is_type(s, "subtitle")).collect();

    let format_names = text(format, "format_name");
    let demuxer = format_names
        .as_deref()
        .and_then(|names| names.split(',').next())
        .map(str::to_owned);

    let kind = match (pictures.as_slice(), audios.is_empty()) {
        ([], true) => {
            return Err(ProbeError::Failed(
                "no decodable audio or video stream".into(),
            ));
        }
        ([], false) => MediaKind::Audio,
        ([only], true) if looks_like_image(only, format, demuxer.as_deref()) => MediaKind::Image,
        _ => MediaKind::Video,
    };

    let mut video_streams: Vec<VideoStreamInfo> = pictures.iter().map(|s| video_info(s)).collect();
    if kind == MediaKind::Image {
        for stream in &mut video_streams {
            stream.fps = None;
            stream.avg_fps = None;
            stream.duration = None;
            stream.bitrate = None;
        }
    }
    let audio_streams: Vec<AudioStreamInfo> = audios.iter().map(|s| audio_info(s)).collect();
    let subtitle_streams = subtitles.iter().map(|s| subtitle_info(s)).collect();

    let duration_secs = match kind {
        MediaKind::Image => None,
        _ => file_duration(format, &video_streams, &audio_streams),
    };
    let file_size = text(format, "size");
    let bitrate = match kind {
        MediaKind::Image => None,
        _ => file_bitrate(format, streams, file_size.as_deref(), duration_secs),
    };
    let main_picture = video_streams.first();
    let file = FileProps {
        format_name: format_names,
        duration: duration_secs.map(|secs| match text(format, "duration") {
            Some(given) if number(format, "duration").is_some() => given,
            _ => format!("{secs:.6}"),
        }),
        bitrate,
        width: main_picture.and_then(|s| s.width.clone()),
        height: main_picture.and_then(|s| s.height.clone()),
        file_size,
    };

    let picture_stream = pictures
        .first()
        .copied()
        .or_else(|| covers.into_iter().next())
        .and_then(|s| s["index"].as_u64());

    Ok(Probed {
        result: ProbeResult {
            media_type: kind,
            file,
            video_streams,
            audio_streams,
            subtitle_streams,
        },
        demuxer,
        duration_secs,
        picture_stream,
    })
}

fn usable_picture(stream: &Value) -> bool {
    // ffmpeg renders text files as "ANSI art" video (`tty` demuxer); that is not media.
    let text_art = |codec: &str| matches!(codec, "ansi" | "bintext" | "xbin" | "idf");
    text(stream, "codec_name").is_some_and(|codec| !text_art(&codec))
        && number(stream, "width").is_some_and(|w| w > 0.0)
        && number(stream, "height").is_some_and(|h| h > 0.0)
}

fn looks_like_image(stream: &Value, format: &Value, demuxer: Option<&str>) -> bool {
    if demuxer.is_some_and(is_image_demuxer) {
        return true;
    }
    let image_codec = text(stream, "codec_name").is_some_and(|c| is_image_codec(&c));
    let few_frames = number(stream, "nb_frames").is_none_or(|n| n <= 1.0);
    let no_duration = number(format, "duration").is_none() && stream_duration(stream).is_none();
    image_codec && few_frames && no_duration
}

fn file_duration(
    format: &Value,
    videos: &[VideoStreamInfo],
    audios: &[AudioStreamInfo],
) -> Option<f64> {
    number(format, "duration").filter(|d| *d > 0.0).or_else(|| {
        videos
            .iter()
            .filter_map(|s| s.duration.as_deref())
            .chain(audios.iter().filter_map(|s| s.duration.as_deref()))
            .filter_map(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
            .reduce(f64::max)
    })
}

fn file_bitrate(
    format: &Value,
    streams: &[Value],
    size: Option<&str>,
    duration: Option<f64>,
) -> Option<String> {
    let bits_per_sec = number(format, "bit_rate")
        .filter(|b| *b > 0.0)
        .or_else(|| {
            let rates: Vec<f64> = streams
                .iter()
                .filter_map(|s| number(s, "bit_rate"))
                .filter(|b| *b > 0.0)
                .collect();
            (!rates.is_empty()).then(|| rates.iter().sum())
        })
        .or_else(|| {
            let bytes = size?.parse::<f64>().ok()?;
            let secs = duration.filter(|d| *d > 0.0)?;
            Some(bytes * 8.0 / secs)
        })?;
    Some(decimal(bits_per_sec / 1000.0, 2))
}

fn video_info(stream: &Value) -> VideoStreamInfo {
    let frames = text(stream, "nb_frames");
    VideoStreamInfo {
        index: text(stream, "index"),
        codec_name: text(stream, "codec_name"),
        codec_long_name: text(stream, "codec_long_name"),
        profile: text(stream, "profile").filter(|p| !p.eq_ignore_ascii_case("unknown")),
        codec_time_base: ratio_text(stream, "codec_time_base"),
        codec_tag_string: text(stream, "codec_tag_string"),
        codec_tag: text(stream, "codec_tag"),
        width: positive_text(stream, "width"),
        height: positive_text(stream, "height"),
        has_b_frames: text(stream, "has_b_frames"),
        sar: ratio_text(stream, "sample_aspect_ratio"),
        dar: ratio_text(stream, "display_aspect_ratio"),
        pix_fmt: text(stream, "pix_fmt"),
        level: text(stream, "level").filter(|l| l != "-99"),
        fps: rate(stream, "r_frame_rate"),
        avg_fps: rate(stream, "avg_frame_rate"),
        timebase: ratio_text(stream, "time_base"),
        start_time: text(stream, "start_time"),
        duration: stream_duration(stream),
        bitrate: stream_bitrate(stream),
        num_frames: frames.clone(),
        nb_frames: frames,
        lang: tag(stream, "language"),
        rotate: rotation(stream),
    }
}

fn audio_info(stream: &Value) -> AudioStreamInfo {
    AudioStreamInfo {
        index: text(stream, "index"),
        codec_name: text(stream, "codec_name"),
        codec_long_name: text(stream, "codec_long_name"),
        codec_time_base: ratio_text(stream, "codec_time_base"),
        codec_tag_string: text(stream, "codec_tag_string"),
        codec_tag: text(stream, "codec_tag"),
        profile: text(stream, "profile").filter(|p| !p.eq_ignore_ascii_case("unknown")),
        sample_fmt: text(stream, "sample_fmt"),
        sample_rate: positive_text(stream, "sample_rate"),
        channels: positive_text(stream, "channels"),
        channel_layout: text(stream, "channel_layout"),
        timebase: ratio_text(stream, "time_base"),
        start_time: text(stream, "start_time"),
        duration: stream_duration(stream),
        bitrate: stream_bitrate(stream),
        fps: rate(stream, "r_frame_rate"),
        num_frames: text(stream, "nb_frames"),
        lang: tag(stream, "language"),
    }
}

fn subtitle_info(stream: &Value) -> SubtitleStreamInfo {
    SubtitleStreamInfo {
        index: text(stream, "index"),
        codec_name: text(stream, "codec_name"),
        codec_long_name: text(stream, "codec_long_name"),
        codec_time_base: ratio_text(stream, "codec_time_base"),
        codec_tag_string: text(stream, "codec_tag_string"),
        codec_tag: text(stream, "codec_tag"),
        timebase: ratio_text(stream, "time_base"),
        start_time: text(stream, "start_time"),
        duration: stream_duration(stream),
        lang: tag(stream, "language"),
    }
}

// ---------------------------------------------------------------------------------------
// Field helpers

/// A string or number field as text; empty strings and `N/A` are "not given".
fn text(obj: &Value, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() && s != "N/A" => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string or number field as a finite number.
fn number(obj: &Value, key: &str) -> Option<f64> {
    let value = match obj.get(key)? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    value.is_finite().then_some(value)
}

fn positive_text(obj: &Value, key: &str) -> Option<String> {
    number(obj, key).filter(|n| *n > 0.0)?;
    text(obj, key)
}

/// A ratio such as `1:1` or `1/25`, left out when it has a zero part (`0:1`, `0/0`).
fn ratio_text(obj: &Value, key: &str) -> Option<String> {
    let value = text(obj, key)?;
    let zero_part = value
        .split([':', '/'])
        .any(|part| part.trim().parse::<f64>().is_ok_and(|n| n == 0.0));
    (!zero_part).then_some(value)
}

/// `"30000/1001"` → `29.97002997…`; `"0/0"` → None.
fn parse_rational(value: &str) -> Option<f64> {
    let result = match value.split_once('/') {
        Some((num, den)) => {
            let den: f64 = den.trim().parse().ok()?;
            if den == 0.0 {
                return None;
            }
            num.trim().parse::<f64>().ok()? / den
        }
        None => value.trim().parse().ok()?,
    };
    (result.is_finite() && result > 0.0).then_some(result)
}

/// A frame rate field as a decimal with at most 3 places.
fn rate(obj: &Value, key: &str) -> Option<String> {
    parse_rational(&text(obj, key)?).map(|fps| decimal(fps, 3))
}

/// `value` with at most `places` decimals and no trailing zeros: `121.784` → `121.78`.
fn decimal(value: f64, places: usize) -> String {
    let fixed = format!("{value:.places$}");
    let trimmed = if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.')
    } else {
        &fixed
    };
    if trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn stream_bitrate(stream: &Value) -> Option<String> {
    number(stream, "bit_rate")
        .filter(|b| *b > 0.0)
        .map(|b| decimal(b / 1000.0, 2))
}

/// A tag, whatever the case of its key (Matroska writes `DURATION`, MP4 `language`).
fn tag(stream: &Value, key: &str) -> Option<String> {
    let tags = stream.get("tags")?.as_object()?;
    tags.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .and_then(|(name, _)| text(&stream["tags"], name))
}

/// The stream's `duration`, else its Matroska `DURATION` tag (`00:00:03.023000000`).
fn stream_duration(stream: &Value) -> Option<String> {
    if number(stream, "duration").is_some_and(|d| d >= 0.0) {
        return text(stream, "duration");
    }
    let secs = parse_clock(&tag(stream, "duration")?)?;
    Some(format!("{secs:.6}"))
}

/// `HH:MM:SS.fraction` → seconds.
fn parse_clock(value: &str) -> Option<f64> {
    let mut parts = value.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let hours: f64 = h.parse().ok()?;
    let minutes: f64 = m.parse().ok()?;
    let seconds: f64 = s.parse().ok()?;
    let total = hours * 3600.0 + minutes * 60.0 + seconds;
    (total.is_finite() && total >= 0.0).then_some(total)
}

/// Clockwise rotation in degrees, from the `rotate` tag or the display matrix.
fn rotation(stream: &Value) -> Option<String> {
    if let Some(degrees) = tag(stream, "rotate").and_then(|r| r.trim().parse::<f64>().ok()) {
        return Some(normalize_degrees(degrees));
    }
    let side_data = stream.get("side_data_list")?.as_array()?;
    side_data.iter().find_map(|item| {
        let matrix = item.get("displaymatrix").and_then(Value::as_str);
        if let Some(degrees) = matrix.and_then(matrix_rotation) {
            return Some(normalize_degrees(degrees));
        }
        // No matrix text: ffprobe's `rotation` is counterclockwise.
        number(item, "rotation").map(|ccw| normalize_degrees(-ccw))
    })
}

fn normalize_degrees(degrees: f64) -> String {
    let whole = degrees.round().rem_euclid(360.0);
    decimal(whole, 0)
}

/// Parses ffprobe's display matrix dump (three rows `0000000i: a b c`) and returns the
/// clockwise rotation it applies when displaying.
fn matrix_rotation(dump: &str) -> Option<f64> {
    let values: Vec<f64> = dump
        .lines()
        .filter_map(|line| line.split_once(':'))
        .flat_map(|(_, row)| row.split_whitespace().map(str::parse::<f64>))
        .collect::<Result<_, _>>()
        .ok()?;
    if values.len() != 9 || (values[0] == 0.0 && values[1] == 0.0) {
        return None;
    }
    // libavutil's av_display_rotation_get is -atan2(m[1], m[0]) (counterclockwise); the
    // clockwise angle players apply, which the old `rotate` tag held, is its negation.
    // An iPhone portrait clip (m[1] = 1.0, m[3] = -1.0) gives 90.
    Some(values[1].atan2(values[0]).to_degrees())
}

// ---------------------------------------------------------------------------------------
// Snapshots

async fn snapshot_inner(
    tools: &Tools,
    input: &str,
    at_secs: f64,
    out: &Path,
    limits: &ProbeLimits,
) -> Result<(), ProbeError> {
    let ffmpeg = tools
        .ffmpeg
        .clone()
        .ok_or_else(|| not_installed("ffmpeg"))?;
    let probed = probe_inner(tools, input, limits).await?;
    let stream = probed.picture_stream.ok_or_else(|| {
        ProbeError::Failed("the media has no picture to take a snapshot of".into())
    })?;
    let seek = match probed.result.media_type {
        MediaKind::Video => clamp_seek(at_secs, probed.duration_secs),
        MediaKind::Audio | MediaKind::Image => 0.0,
    };
    let temp = TempOutput::next_to(out);
    let request = SnapshotRun {
        tools,
        ffmpeg: &ffmpeg,
        input,
        stream,
        image2: probed.demuxer.as_deref() == Some("image2"),
        out: &temp.path,
        limits,
    };
    request.run(seek).await?;
    if seek > 0.0 && !has_content(&temp.path).await {
        // Nothing decodes at or after `seek` (e.g. a sparse last GOP): take the first frame.
        request.run(0.0).await?;
    }
    if !has_content(&temp.path).await {
        return Err(ProbeError::Failed("ffmpeg produced no picture".into()));
    }
    tokio::fs::rename(&temp.path, out)
        .await
        .map_err(|err| ProbeError::Failed(format!("cannot write the snapshot: {err}")))
}

/// `at_secs` inside the file: not negative, at most one second before the end.
fn clamp_seek(at_secs: f64, duration: Option<f64>) -> f64 {
    let at = if at_secs.is_finite() {
        at_secs.max(0.0)
    } else {
        0.0
    };
    match duration {
        Some(total) if total.is_finite() => at.min((total - 1.0).max(0.0)),
        _ => at,
    }
}

async fn has_content(path: &Path) -> bool {
    tokio::fs::metadata(path)
        .await
        .is_ok_and(|meta| meta.is_file() && meta.len() > 0)
}

struct SnapshotRun<'a> {
    tools: &'a Tools,
    ffmpeg: &'a Path,
    input: &'a str,
    stream: u64,
    image2: bool,
    out: &'a Path,
    limits: &'a ProbeLimits,
}

impl SnapshotRun<'_> {
    async fn run(&self, seek: f64) -> Result<(), ProbeError> {
        let (arg, _) = source_arg(self.input);
        let mut cmd = limited_command(
            self.tools,
            self.ffmpeg,
            self.limits,
            Some(SNAPSHOT_MAX_BYTES),
        );
        cmd.args(["-nostdin", "-v", "error", "-threads", "1"])
            .args(fetch_rules(self.tools, self.input).await?);
        if self.image2 {
            cmd.args(["-f", "image2", "-pattern_type", "none"]);
        }
        if seek > 0.0 {
            cmd.arg("-ss").arg(format!("{seek:.3}"));
        }
        let side = SNAPSHOT_MAX_SIDE;
        let scale = format!(
            "scale=w='min({side},iw)':h='min({side},ih)':force_original_aspect_ratio=decrease"
        );
        cmd.arg("-i")
            .arg(&arg)
            .arg("-map")
            .arg(format!("0:{}", self.stream))
            .args(["-frames:v", "1", "-an", "-sn", "-dn", "-vf", &scale])
            .args([
                "-f", "image2", "-update", "1", "-c:v", "mjpeg", "-q:v", "3", "-y",
            ])
            .arg(file_arg(self.out));
        let captured = run_captured(cmd).await?;
        if captured.status.success() {
            Ok(())
        } else {
            Err(failure("ffmpeg", self.input, Some(self.out), &captured))
        }
    }
}

fn file_arg(path: &Path) -> OsString {
    let mut arg = OsString::from("file:");
    arg.push(path.as_os_str());
    arg
}

/// A temporary file beside the target, removed on drop unless renamed away.
struct TempOutput {
    path: PathBuf,
}

impl TempOutput {
    fn next_to(out: &Path) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = out
            .file_name()
            .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
        let path = out.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
        Self { path }
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        // Gone already after a successful rename.
        let _ = std::fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command as StdCommand;
    use tempfile::TempDir;

    /// Runs ffmpeg to make test media; panics with a clear message when it is missing.
    fn ffmpeg(args: &[&str]) {
        let program = find_program("ffmpeg").expect(
            "ffmpeg/ffprobe are required for the media probe tests: install them \
             (apt-get install ffmpeg) and make sure they are on PATH",
        );
        assert!(
            find_program("ffprobe").is_some(),
            "ffprobe is required for the media probe tests (apt-get install ffmpeg)"
        );
        let output = StdCommand::new(program)
            .args(["-nostdin", "-v", "error", "-y"])
            .args(args)
            .output()
            .expect("run ffmpeg");
        assert!(
            output.status.success(),
            "ffmpeg {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn path_str(path: &Path) -> &str {
        path.to_str().expect("utf-8 temp path")
    }

    /// 3 s of testsrc 320x240@25 (h264) + sine (aac).
    fn make_mp4(dir: &TempDir, name: &str, extra: &[&str]) -> PathBuf {
        let path = dir.path().join(name);
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=3",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ];
        args.extend_from_slice(extra);
        args.push(path_str(&path));
        ffmpeg(&args);
        path
    }

    fn make_m4a(dir: &TempDir) -> PathBuf {
        let path = dir.path().join("tone.m4a");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:a",
            "aac",
            path_str(&path),
        ]);
        path
    }

    fn make_png(dir: &TempDir, name: &str, size: &str) -> PathBuf {
        // Made under a plain name, then renamed: ffmpeg would read `%d` in it as a pattern.
        let made = dir.path().join("made.png");
        let source = format!("testsrc=size={size}");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &source,
            "-frames:v",
            "1",
            path_str(&made),
        ]);
        let path = dir.path().join(name);
        std::fs::rename(&made, &path).expect("rename test image");
        path
    }

    fn write_prefix(from: &Path, to: &Path, len: usize) {
        let bytes = std::fs::read(from).expect("read media");
        std::fs::write(to, &bytes[..len.min(bytes.len())]).expect("write prefix");
    }

    async fn probe_ok(path: &Path) -> ProbeResult {
        match probe(path_str(path), &ProbeLimits::default()).await {
            Ok(result) => result,
            Err(err) => panic!("probe of {} failed: {err}", path.display()),
        }
    }

    async fn assert_failed(path: &Path) -> String {
        match probe(path_str(path), &ProbeLimits::default()).await {
            Err(ProbeError::Failed(message)) => message,
            other => panic!("expected Failed for {}, got {other:?}", path.display()),
        }
    }

    fn secs(value: &Option<String>) -> f64 {
        value
            .as_deref()
            .expect("duration present")
            .parse()
            .expect("numeric duration")
    }

    fn jpeg_size(path: &Path) -> (String, String) {
        let bytes = std::fs::read(path).expect("snapshot written");
        assert!(
            bytes.len() > 100,
            "snapshot too small: {} bytes",
            bytes.len()
        );
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "not a JPEG");
        let output = StdCommand::new(find_program("ffprobe").expect("ffprobe"))
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,width,height",
                "-of",
                "json",
            ])
            .arg(path)
            .output()
            .expect("run ffprobe");
        let json: Value = serde_json::from_slice(&output.stdout).expect("json");
        let stream = &json["streams"][0];
        assert_eq!(stream["codec_name"], "mjpeg");
        (stream["width"].to_string(), stream["height"].to_string())
    }

    #[tokio::test]
    async fn probes_a_video_with_audio() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "clip.mp4", &[]);
        let result = probe_ok(&mp4).await;

        assert_eq!(result.media_type, MediaKind::Video);
        let file = &result.file;
        assert!(
            file.format_name
                .as_deref()
                .is_some_and(|f| f.contains("mp4"))
        );
        assert!(
            (secs(&file.duration) - 3.0).abs() < 0.1,
            "{:?}",
            file.duration
        );
        let kbps: f64 = file
            .bitrate
            .as_deref()
            .expect("bitrate")
            .parse()
            .expect("number");
        assert!(kbps > 1.0, "{kbps}");
        assert!(
            file.bitrate
                .as_deref()
                .unwrap_or("")
                .split('.')
                .nth(1)
                .is_none_or(|d| d.len() <= 2)
        );
        assert_eq!(file.width.as_deref(), Some("320"));
        assert_eq!(file.height.as_deref(), Some("240"));
        let size = std::fs::metadata(&mp4).expect("stat").len().to_string();
        assert_eq!(file.file_size.as_deref(), Some(size.as_str()));

        assert_eq!(result.video_streams.len(), 1);
        let video = &result.video_streams[0];
        assert_eq!(video.index.as_deref(), Some("0"));
        assert_eq!(video.codec_name.as_deref(), Some("h264"));
        assert_eq!(video.width.as_deref(), Some("320"));
        assert_eq!(video.height.as_deref(), Some("240"));
        assert_eq!(video.fps.as_deref(), Some("25"));
        assert_eq!(video.avg_fps.as_deref(), Some("25"));
        assert_eq!(video.pix_fmt.as_deref(), Some("yuv420p"));
        assert_eq!(video.nb_frames.as_deref(), Some("75"));
        assert_eq!(video.num_frames.as_deref(), Some("75"));
        assert_eq!(video.codec_tag_string.as_deref(), Some("avc1"));
        assert!(video.timebase.is_some() && video.bitrate.is_some());
        assert_eq!(video.rotate, None);

        assert_eq!(result.audio_streams.len(), 1);
        let audio = &result.audio_streams[0];
        assert_eq!(audio.index.as_deref(), Some("1"));
        assert_eq!(audio.codec_name.as_deref(), Some("aac"));
        assert_eq!(audio.sample_rate.as_deref(), Some("44100"));
        assert_eq!(audio.channels.as_deref(), Some("1"));
        assert_eq!(audio.fps, None, "audio has no frame rate");
        assert!(result.subtitle_streams.is_empty());
    }

    #[tokio::test]
    async fn probes_audio_only_without_picture_fields() {
        let dir = TempDir::new().expect("tempdir");
        let m4a = make_m4a(&dir);
        let result = probe_ok(&m4a).await;
        assert_eq!(result.media_type, MediaKind::Audio);
        assert!(result.video_streams.is_empty());
        assert_eq!(result.file.width, None);
        assert_eq!(result.file.height, None);
        assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);
        assert!(result.file.bitrate.is_some());
        assert_eq!(result.audio_streams[0].codec_name.as_deref(), Some("aac"));

        let json = serde_json::to_value(&result.file).expect("json");
        assert!(
            json.get("Width").is_none() && json.get("Height").is_none(),
            "{json}"
        );
    }

    #[tokio::test]
    async fn mp3_with_cover_art_is_audio_and_snapshots_the_cover() {
        let dir = TempDir::new().expect("tempdir");
        let cover = make_png(&dir, "cover.png", "64x48");
        let mp3 = dir.path().join("song.mp3");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-i",
            path_str(&cover),
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "png",
            "-disposition:v",
            "attached_pic",
            "-id3v2_version",
            "3",
            path_str(&mp3),
        ]);
        let result = probe_ok(&mp3).await;
        assert_eq!(result.media_type, MediaKind::Audio);
        assert!(
            result.video_streams.is_empty(),
            "cover art is not a video stream"
        );
        assert_eq!(result.file.width, None);
        assert_eq!(result.audio_streams[0].codec_name.as_deref(), Some("mp3"));

        let out = dir.path().join("cover.jpg");
        snapshot(path_str(&mp3), 1.0, &out, &ProbeLimits::default())
            .await
            .expect("snapshot of cover art");
        assert_eq!(jpeg_size(&out), ("64".into(), "48".into()));
    }

    #[tokio::test]
    async fn probes_a_png_as_image_without_duration() {
        let dir = TempDir::new().expect("tempdir");
        let png = make_png(&dir, "still.png", "64x48");
        let result = probe_ok(&png).await;
        assert_eq!(result.media_type, MediaKind::Image);
        assert_eq!(result.file.duration, None);
        assert_eq!(result.file.bitrate, None);
        assert_eq!(result.file.width.as_deref(), Some("64"));
        assert_eq!(result.file.height.as_deref(), Some("48"));
        assert!(result.file.file_size.is_some());
        let stream = &result.video_streams[0];
        assert_eq!(stream.codec_name.as_deref(), Some("png"));
        assert_eq!(stream.fps, None);
        assert_eq!(stream.duration, None);
        assert!(result.audio_streams.is_empty());
    }

    #[tokio::test]
    async fn jpeg_and_animated_gif_are_images() {
        let dir = TempDir::new().expect("tempdir");
        let jpg = dir.path().join("photo.jpg");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=80x60",
            "-frames:v",
            "1",
            path_str(&jpg),
        ]);
        let gif = dir.path().join("anim.gif");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=80x60:rate=5:duration=1",
            path_str(&gif),
        ]);
        for path in [&jpg, &gif] {
            let result = probe_ok(path).await;
            assert_eq!(result.media_type, MediaKind::Image, "{}", path.display());
            assert_eq!(result.file.duration, None);
            assert_eq!(result.file.width.as_deref(), Some("80"));
        }
    }

    #[tokio::test]
    async fn reads_language_rotation_and_matroska_durations() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "plain.mp4", &[]);
        let rotated = dir.path().join("rotated.mp4");
        ffmpeg(&[
            "-i",
            path_str(&mp4),
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
            path_str(&rotated),
        ]);
        let result = probe_ok(&rotated).await;
        // ffmpeg 5.x turns the `rotate` tag into a display matrix whose direction differs
        // between versions, so only a quarter turn is asserted here; the direction is
        // pinned by `rotation_from_tag_or_matrix`.
        let rotate = result.video_streams[0].rotate.as_deref();
        assert!(matches!(rotate, Some("90" | "270")), "{rotate:?}");
        assert_eq!(
            result.file.width.as_deref(),
            Some("320"),
            "stored size, not rotated"
        );
        let out = dir.path().join("upright.jpg");
        snapshot(path_str(&rotated), 1.0, &out, &ProbeLimits::default())
            .await
            .expect("snapshot of rotated video");
        assert_eq!(
            jpeg_size(&out),
            ("240".into(), "320".into()),
            "cover is shown upright"
        );

        let mkv = dir.path().join("tagged.mkv");
        ffmpeg(&[
            "-i",
            path_str(&mp4),
            "-c",
            "copy",
            "-metadata:s:a:0",
            "language=eng",
            path_str(&mkv),
        ]);
        let result = probe_ok(&mkv).await;
        assert_eq!(result.audio_streams[0].lang.as_deref(), Some("eng"));
        assert!((secs(&result.video_streams[0].duration) - 3.0).abs() < 0.1);
        assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);
    }

    #[tokio::test]
    async fn truncated_mp4_fails() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "clip.mp4", &[]);
        let cut = dir.path().join("cut.mp4");
        write_prefix(&mp4, &cut, 2048);
        let message = assert_failed(&cut).await;
        assert!(
            !message.contains(path_str(&cut)),
            "input leaked into {message:?}"
        );
        assert!(!message.contains(" @ 0x"), "{message:?}");
    }

    #[tokio::test]
    async fn header_only_faststart_mp4_fails() {
        // The moov atom is intact (so the header claims 3 s) but no media data follows.
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "fast.mp4", &["-movflags", "+faststart"]);
        let cut = dir.path().join("cut.mp4");
        write_prefix(&mp4, &cut, 2048);
        assert_failed(&cut).await;
    }

    #[tokio::test]
    async fn truncated_png_fails() {
        let dir = TempDir::new().expect("tempdir");
        let png = make_png(&dir, "still.png", "64x48");
        let len = std::fs::metadata(&png).expect("stat").len() as usize;
        for keep in [100, len - 8] {
            let cut = dir.path().join(format!("cut{keep}.png"));
            write_prefix(&png, &cut, keep);
            assert_failed(&cut).await;
        }
    }

    #[tokio::test]
    async fn empty_text_and_missing_files_fail() {
        let dir = TempDir::new().expect("tempdir");
        let empty = dir.path().join("empty.mp4");
        std::fs::write(&empty, b"").expect("write");
        assert_failed(&empty).await;

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "just some words\nand another line\n".repeat(50)).expect("write");
        assert_failed(&text).await;
        let disguised = dir.path().join("notes.mp4");
        std::fs::write(&disguised, "not a movie at all").expect("write");
        assert_failed(&disguised).await;

        let missing = dir.path().join("missing.mp4");
        let message = assert_failed(&missing).await;
        assert!(message.contains("<input>"), "{message:?}");
    }

    #[tokio::test]
    async fn timeout_kills_the_probe() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "clip.mp4", &[]);
        let limits = ProbeLimits {
            timeout: Duration::from_millis(1),
            ..ProbeLimits::default()
        };
        let started = std::time::Instant::now();
        let result = probe(path_str(&mp4), &limits).await;
        assert!(matches!(result, Err(ProbeError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let out = dir.path().join("cover.jpg");
        let result = snapshot(path_str(&mp4), 1.0, &out, &limits).await;
        assert!(matches!(result, Err(ProbeError::Timeout)), "{result:?}");
        assert!(!out.exists());
    }

    #[tokio::test]
    async fn memory_limit_is_enforced_under_prlimit() {
        if find_program("prlimit").is_none() {
            eprintln!("prlimit not installed: limits cannot be enforced, nothing to check");
            return;
        }
        let dir = TempDir::new().expect("tempdir");
        let png = make_png(&dir, "still.png", "64x48");
        let limits = ProbeLimits {
            max_memory_bytes: 8 << 20,
            ..ProbeLimits::default()
        };
        let result = probe(path_str(&png), &limits).await;
        assert!(matches!(result, Err(ProbeError::Failed(_))), "{result:?}");
    }

    #[tokio::test]
    async fn works_without_prlimit_and_reports_missing_ffprobe() {
        let dir = TempDir::new().expect("tempdir");
        let png = make_png(&dir, "still.png", "64x48");
        let limits = ProbeLimits::default();
        let plain = Tools {
            prlimit: None,
            ..Tools::from_path()
        };
        let probed = probe_inner(&plain, path_str(&png), &limits)
            .await
            .expect("plain probe");
        assert_eq!(probed.result.media_type, MediaKind::Image);

        let missing = Tools {
            ffprobe: None,
            ..Tools::from_path()
        };
        let result = probe_inner(&missing, path_str(&png), &limits).await;
        assert!(matches!(result, Err(ProbeError::Spawn(_))), "{result:?}");

        let unstartable = Tools {
            ffprobe: Some(dir.path().join("no-such-ffprobe")),
            prlimit: None,
            ..Tools::from_path()
        };
        let result = probe_inner(&unstartable, path_str(&png), &limits).await;
        assert!(matches!(result, Err(ProbeError::Spawn(_))), "{result:?}");
    }

    #[tokio::test]
    async fn snapshot_of_a_video_is_a_jpeg_frame() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "clip.mp4", &[]);
        let limits = ProbeLimits::default();
        for (at, name) in [
            (1.5, "mid.jpg"),
            (100.0, "late.jpg"),
            (f64::NAN, "nan.jpg"),
            (-3.0, "neg.jpg"),
        ] {
            let out = dir.path().join(name);
            snapshot(path_str(&mp4), at, &out, &limits)
                .await
                .unwrap_or_else(|err| panic!("snapshot at {at}: {err}"));
            assert_eq!(jpeg_size(&out), ("320".into(), "240".into()));
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[tokio::test]
    async fn snapshot_of_an_image_is_scaled_down() {
        let dir = TempDir::new().expect("tempdir");
        let big = make_png(&dir, "wide%d.png", "2000x1000");
        let out = dir.path().join("cover.jpg");
        snapshot(path_str(&big), 0.0, &out, &ProbeLimits::default())
            .await
            .expect("snapshot of image");
        assert_eq!(jpeg_size(&out), ("1280".into(), "640".into()));

        let small = make_png(&dir, "small.png", "64x48");
        snapshot(path_str(&small), 5.0, &out, &ProbeLimits::default())
            .await
            .expect("snapshot of small image");
        assert_eq!(
            jpeg_size(&out),
            ("64".into(), "48".into()),
            "never scaled up"
        );
    }

    /// Serves `body` at `/clip.mp4` on 127.0.0.1 (anything else: 404), from a plain thread.
    fn serve(body: Vec<u8>) -> std::net::SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let body = std::sync::Arc::new(body);
        std::thread::spawn(move || {
            for mut socket in listener.incoming().filter_map(Result::ok) {
                let body = body.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let found = request.starts_with(b"GET /clip.mp4");
                    let (status, payload): (&str, &[u8]) = if found {
                        ("200 OK", &body)
                    } else {
                        ("404 Not Found", b"")
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        payload.len()
                    );
                    let _ = socket.write_all(head.as_bytes());
                    let _ = socket.write_all(payload);
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn probes_an_http_url() {
        let dir = TempDir::new().expect("tempdir");
        let mp4 = make_mp4(&dir, "fast.mp4", &["-movflags", "+faststart"]);
        let addr = serve(std::fs::read(&mp4).expect("read"));
        let limits = ProbeLimits {
            timeout: Duration::from_secs(30),
            ..ProbeLimits::default()
        };
        let url = format!("http://{addr}/clip.mp4?Expires=1&Signature=secret");
        let result = probe(&url, &limits).await.expect("probe over http");
        assert_eq!(result.media_type, MediaKind::Video);
        assert_eq!(result.file.width.as_deref(), Some("320"));
        assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);

        let out = dir.path().join("cover.jpg");
        snapshot(&url, 1.0, &out, &limits)
            .await
            .expect("snapshot over http");
        assert_eq!(jpeg_size(&out), ("320".into(), "240".into()));

        let missing = format!("http://{addr}/gone.mp4?Signature=secret");
        match probe(&missing, &limits).await {
            Err(ProbeError::Failed(message)) => {
                assert!(!message.contains("secret"), "URL leaked into {message:?}");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn directories_fail() {
        let dir = TempDir::new().expect("tempdir");
        let message = assert_failed(dir.path()).await;
        assert!(message.contains("not a regular file"), "{message:?}");
    }

    #[tokio::test]
    async fn output_reading_is_capped() {
        let data = vec![7u8; 100_000];
        let (head, more) = read_capped(&data[..], 1000).await.expect("read");
        assert_eq!((head.len(), more), (1000, true));
        let (all, more) = read_capped(&data[..], 100_000).await.expect("read");
        assert_eq!((all.len(), more), (100_000, false));
        assert_eq!(read_keep_head(&data[..], 10).await.len(), 10);
    }

    #[tokio::test]
    async fn snapshot_into_a_missing_directory_fails_without_naming_it() {
        let dir = TempDir::new().expect("tempdir");
        let png = make_png(&dir, "still.png", "64x48");
        let out = dir.path().join("no-such-dir").join("cover.jpg");
        match snapshot(path_str(&png), 0.0, &out, &ProbeLimits::default()).await {
            Err(ProbeError::Failed(message)) => {
                assert!(!message.contains("no-such-dir"), "{message:?}");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn snapshot_of_plain_audio_fails() {
        let dir = TempDir::new().expect("tempdir");
        let m4a = make_m4a(&dir);
        let out = dir.path().join("cover.jpg");
        let result = snapshot(path_str(&m4a), 0.0, &out, &ProbeLimits::default()).await;
        assert!(matches!(result, Err(ProbeError::Failed(_))), "{result:?}");
        assert!(!out.exists());
    }

    #[test]
    fn json_uses_the_sdk_keys_and_string_values() {
        let video = VideoStreamInfo {
            index: Some("0".into()),
            codec_name: Some("h264".into()),
            codec_long_name: Some("H.264".into()),
            profile: Some("High".into()),
            codec_time_base: Some("1/50".into()),
            codec_tag_string: Some("avc1".into()),
            codec_tag: Some("0x31637661".into()),
            width: Some("320".into()),
            height: Some("240".into()),
            has_b_frames: Some("2".into()),
            sar: Some("1:1".into()),
            dar: Some("4:3".into()),
            pix_fmt: Some("yuv420p".into()),
            level: Some("13".into()),
            fps: Some("25".into()),
            avg_fps: Some("25".into()),
            timebase: Some("1/12800".into()),
            start_time: Some("0.000000".into()),
            duration: Some("3.000000".into()),
            bitrate: Some("41.21".into()),
            num_frames: Some("75".into()),
            nb_frames: Some("75".into()),
            lang: Some("und".into()),
            rotate: Some("90".into()),
        };
        let json = serde_json::to_value(&video).expect("json");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "Index",
            "CodecName",
            "CodecLongName",
            "Profile",
            "CodecTimeBase",
            "CodecTagString",
            "CodecTag",
            "Width",
            "Height",
            "HasBFrames",
            "Sar",
            "Dar",
            "PixFmt",
            "Level",
            "Fps",
            "AvgFPS",
            "Timebase",
            "StartTime",
            "Duration",
            "Bitrate",
            "NumFrames",
            "Nb_frames",
            "Lang",
            "Rotate",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert!(
            json.as_object()
                .expect("object")
                .values()
                .all(Value::is_string)
        );

        let audio = AudioStreamInfo {
            index: Some("1".into()),
            codec_name: Some("aac".into()),
            codec_long_name: Some("AAC".into()),
            codec_time_base: Some("1/44100".into()),
            codec_tag_string: Some("mp4a".into()),
            codec_tag: Some("0x6134706d".into()),
            profile: Some("LC".into()),
            sample_fmt: Some("fltp".into()),
            sample_rate: Some("44100".into()),
            channels: Some("1".into()),
            channel_layout: Some("mono".into()),
            timebase: Some("1/44100".into()),
            start_time: Some("0.000000".into()),
            duration: Some("3.000000".into()),
            bitrate: Some("69.58".into()),
            fps: Some("43.07".into()),
            num_frames: Some("131".into()),
            lang: Some("eng".into()),
        };
        let json = serde_json::to_value(&audio).expect("json");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "Index",
            "CodecName",
            "CodecLongName",
            "CodecTimeBase",
            "CodecTagString",
            "CodecTag",
            "Profile",
            "SampleFmt",
            "SampleRate",
            "Channels",
            "ChannelLayout",
            "Timebase",
            "StartTime",
            "Duration",
            "Bitrate",
            "Fps",
            "NumFrames",
            "Lang",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);

        let subtitle = SubtitleStreamInfo {
            index: Some("2".into()),
            codec_name: Some("mov_text".into()),
            codec_long_name: Some("3GPP Timed Text subtitle".into()),
            codec_time_base: Some("1/1000".into()),
            codec_tag_string: Some("tx3g".into()),
            codec_tag: Some("0x67337874".into()),
            timebase: Some("1/1000".into()),
            start_time: Some("0.000000".into()),
            duration: Some("3.000000".into()),
            lang: Some("eng".into()),
        };
        let json = serde_json::to_value(&subtitle).expect("json");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "Index",
            "CodecName",
            "CodecLongName",
            "CodecTimeBase",
            "CodecTagString",
            "CodecTag",
            "Timebase",
            "StartTime",
            "Duration",
            "Lang",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);

        let file = FileProps {
            format_name: Some("png_pipe".into()),
            width: Some("64".into()),
            height: Some("48".into()),
            file_size: Some("469".into()),
            ..FileProps::default()
        };
        assert_eq!(
            serde_json::to_value(&file).expect("json"),
            serde_json::json!({"FormatName": "png_pipe", "Width": "64", "Height": "48", "FileSize": "469"})
        );
        assert_eq!(
            serde_json::to_value(MediaKind::Image).expect("json"),
            "image"
        );
        assert_eq!(
            serde_json::to_value(MediaKind::Video).expect("json"),
            "video"
        );
        assert_eq!(
            serde_json::to_value(MediaKind::Audio).expect("json"),
            "audio"
        );

        let result = ProbeResult {
            media_type: MediaKind::Video,
            file,
            video_streams: vec![video],
            audio_streams: vec![audio],
            subtitle_streams: vec![subtitle],
        };
        let text = serde_json::to_string(&result).expect("json");
        assert_eq!(
            serde_json::from_str::<ProbeResult>(&text).expect("parse"),
            result
        );
        assert_eq!(
            serde_json::to_value(VideoStreamInfo::default()).expect("json"),
            serde_json::json!({})
        );
    }

    #[test]
    fn number_formats() {
        assert_eq!(decimal(121.784, 2), "121.78");
        assert_eq!(decimal(1_132.675_1, 2), "1132.68");
        assert_eq!(decimal(128.0, 2), "128");
        assert_eq!(decimal(-0.0001, 2), "0");
        assert_eq!(
            parse_rational("30000/1001")
                .map(|f| decimal(f, 3))
                .as_deref(),
            Some("29.97")
        );
        assert_eq!(
            parse_rational("24000/1001")
                .map(|f| decimal(f, 3))
                .as_deref(),
            Some("23.976")
        );
        assert_eq!(
            parse_rational("25/1").map(|f| decimal(f, 3)).as_deref(),
            Some("25")
        );
        assert_eq!(parse_rational("0/0"), None);
        assert_eq!(parse_rational("1/0"), None);
        assert_eq!(parse_clock("00:00:03.023000000"), Some(3.023));
        assert_eq!(parse_clock("01:02:03.5"), Some(3723.5));
        assert_eq!(parse_clock("nonsense"), None);
    }

    #[test]
    fn field_helpers_drop_unknown_values() {
        let stream = serde_json::json!({
            "level": -99, "sample_aspect_ratio": "0:1", "display_aspect_ratio": "16:9",
            "r_frame_rate": "0/0", "profile": "unknown", "width": 0, "codec_name": "",
            "start_time": "N/A", "tags": {"LANGUAGE": "fre", "DURATION": "00:00:01.500000000"},
        });
        let info = video_info(&stream);
        assert_eq!(info.level, None);
        assert_eq!(info.sar, None);
        assert_eq!(info.dar.as_deref(), Some("16:9"));
        assert_eq!(info.fps, None);
        assert_eq!(info.profile, None);
        assert_eq!(info.width, None);
        assert_eq!(info.codec_name, None);
        assert_eq!(info.start_time, None);
        assert_eq!(info.lang.as_deref(), Some("fre"));
        assert_eq!(info.duration.as_deref(), Some("1.500000"));
    }

    #[test]
    fn rotation_from_tag_or_matrix() {
        let tagged = serde_json::json!({"tags": {"rotate": "-90"}});
        assert_eq!(rotation(&tagged).as_deref(), Some("270"));
        // An iPhone portrait clip: ffprobe says rotation -90 (counterclockwise), players
        // turn it 90° clockwise, old ffprobe showed the tag rotate=90.
        let portrait = "\n00000000:            0       65536           0\n00000001:       -65536           0           0\n00000002:            0           0  1073741824\n";
        let with_matrix =
            serde_json::json!({"side_data_list": [{"displaymatrix": portrait, "rotation": -90}]});
        assert_eq!(rotation(&with_matrix).as_deref(), Some("90"));
        let other_way = "\n00000000:            0      -65536           0\n00000001:        65536           0           0\n00000002:            0           0  1073741824\n";
        let with_matrix =
            serde_json::json!({"side_data_list": [{"displaymatrix": other_way, "rotation": 90}]});
        assert_eq!(rotation(&with_matrix).as_deref(), Some("270"));
        let rotation_only = serde_json::json!({"side_data_list": [{"rotation": -90}]});
        assert_eq!(rotation(&rotation_only).as_deref(), Some("90"));
        let upside_down = "\n00000000:       -65536           0           0\n00000001:            0      -65536           0\n00000002:            0           0  1073741824\n";
        let flipped = serde_json::json!({"side_data_list": [{"displaymatrix": upside_down}]});
        assert_eq!(rotation(&flipped).as_deref(), Some("180"));
        assert_eq!(rotation(&serde_json::json!({})), None);
    }

    #[test]
    fn classification_from_ffprobe_json() {
        let raw_h264 = serde_json::json!({
            "streams": [{"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240}],
            "format": {"format_name": "h264"}
        });
        assert_eq!(
            interpret(&raw_h264).expect("ok").result.media_type,
            MediaKind::Video
        );
        let avif_like = serde_json::json!({
            "streams": [{"index": 0, "codec_type": "video", "codec_name": "png", "width": 3, "height": 2, "nb_frames": "1"}],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}
        });
        assert_eq!(
            interpret(&avif_like).expect("ok").result.media_type,
            MediaKind::Image
        );
        let data_only = serde_json::json!({
            "streams": [{"index": 0, "codec_type": "data"}, {"index": 1, "codec_type": "video", "width": 0}],
            "format": {"format_name": "mpegts"}
        });
        assert!(matches!(interpret(&data_only), Err(ProbeError::Failed(_))));
        let nothing = serde_json::json!({});
        assert!(matches!(interpret(&nothing), Err(ProbeError::Failed(_))));
    }

    #[test]
    fn stderr_is_shortened_and_scrubbed() {
        let input = "/data/buckets/b/secret/key.mp4";
        let stderr = format!(
            "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55f3] moov atom not found\nfile:{input}: Invalid data found when processing input\n{}",
            "x".repeat(1000)
        );
        let excerpt = stderr_excerpt(stderr.as_bytes(), input, None);
        assert!(
            excerpt.starts_with(
                "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found; <input>: Invalid data"
            ),
            "{excerpt}"
        );
        assert!(!excerpt.contains("secret"));
        assert!(excerpt.chars().count() <= EXCERPT_CHARS + 1);
    }

    #[test]
    fn seek_is_clamped_into_the_file() {
        assert_eq!(clamp_seek(1.5, Some(3.0)), 1.5);
        assert_eq!(clamp_seek(100.0, Some(3.0)), 2.0);
        assert_eq!(clamp_seek(100.0, Some(0.4)), 0.0);
        assert_eq!(clamp_seek(-1.0, Some(3.0)), 0.0);
        assert_eq!(clamp_seek(f64::NAN, None), 0.0);
        assert_eq!(clamp_seek(7.0, None), 7.0);
    }
}
