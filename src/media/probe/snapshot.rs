//! Cover snapshots: one JPEG frame (or the cover art, or a scaled image) via ffmpeg.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::process::{
    Tools, failure, fetch_rules, limited_command, not_installed, run_captured, source_arg,
};
use super::{MediaKind, ProbeError, ProbeLimits, probe_inner};

/// Output file size limit for ffmpeg (a JPEG cover is far smaller).
const SNAPSHOT_MAX_BYTES: u64 = 64 << 20;
/// Covers are scaled down to fit this square.
const SNAPSHOT_MAX_SIDE: u32 = 1280;

/// [`super::snapshot`] with the tools given.
pub(super) async fn take(
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
pub(super) fn clamp_seek(at_secs: f64, duration: Option<f64>) -> f64 {
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
