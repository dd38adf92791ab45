//! Run: ffmpeg as a child process with `-progress pipe:1`, output written atomically.
//!
//! * ffmpeg runs in its own process group, is killed when the future is dropped
//!   (`kill_on_drop`), and gets SIGKILL when the thread that started it dies, even after
//!   `kill -9` of the server: it is started through `setpriv --pdeathsig KILL` (util-linux),
//!   which keeps the crate free of `unsafe` (no `pre_exec`). Without `setpriv` only the first
//!   two hold.
//! * A stall watchdog (no progress report for [`STALL`]) and an overall timeout (10 minutes
//!   plus 20× the output duration) kill it and fail with a clear message.
//! * Output: a hidden temporary file next to `output`, fsynced, renamed over it, then the
//!   directory fsynced; a reader never sees half a file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use super::plan::{Plan, Streams};
use super::{RenderError, graph, subtitles};

/// Longest silence on ffmpeg's progress pipe before the render counts as stalled.
const STALL: Duration = Duration::from_secs(60);
/// Bytes of ffmpeg's stderr kept for the failure message.
const STDERR_KEEP: usize = 64 * 1024;

/// Removes the listed files when dropped (temporary graph, captions, partial output).
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Renders `plan` into `output`; `id` names this run's temporary files ([`scratch_names`]).
pub(super) async fn execute(
    plan: &Plan,
    output: &Path,
    id: &str,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::path::absolute(&dir).map_err(|e| io("output directory", e))?;
    let name = output
        .file_name()
        .ok_or_else(|| RenderError::Failed("the output path has no file name".to_owned()))?
        .to_string_lossy()
        .into_owned();
    if which("ffmpeg").is_none() {
        return Err(RenderError::MissingTool(
            "ffmpeg is not installed (apt-get install ffmpeg)".to_owned(),
        ));
    }
    let part = format!(".{name}.{id}.part");
    let mut cleanup = Cleanup(vec![dir.join(&part)]);
    let segments = plan.segments();
    if segments.is_empty() {
        run_plan(plan, &dir, id, &part, &mut cleanup, progress).await?;
    } else {
        // Video in segments, audio once for the whole timeline, then one stream copy: the
        // share of each step in the progress is its share of the frames (audio ~5 %).
        let total = plan.frames().max(1) as f64;
        let reported = AtomicU8::new(0);
        let report = |from: f64, share: f64| {
            let reported = &reported;
            move |p: u8| {
                let overall = (from + share * f64::from(p) / 100.0).min(99.0) as u8;
                if reported.fetch_max(overall, Ordering::Relaxed) < overall {
                    progress(overall);
                }
            }
        };
        let mut list = String::new();
        for (k, (first, seg)) in segments.iter().enumerate() {
            let seg_file = format!(".render-{id}-{k}.mp4");
            cleanup.0.push(dir.join(&seg_file));
            let from = *first as f64 / total * 95.0;
            let share = seg.frames() as f64 / total * 95.0;
            run_plan(
                seg,
                &dir,
                &format!("{id}-{k}"),
                &seg_file,
                &mut cleanup,
                &report(from, share),
            )
            .await?;
            list.push_str(&format!("file '{seg_file}'\n"));
        }
        let audio_file = format!(".render-{id}-audio.m4a");
        cleanup.0.push(dir.join(&audio_file));
        run_plan(
            &plan.audio_only(),
            &dir,
            &format!("{id}-audio"),
            &audio_file,
            &mut cleanup,
            &report(95.0, 4.0),
        )
        .await?;
        let list_file = format!(".render-{id}.concat");
        cleanup.0.push(dir.join(&list_file));
        tokio::fs::write(dir.join(&list_file), list)
            .await
            .map_err(|e| io("writing the segment list", e))?;
        let args: Vec<String> = [
            "-hide_banner",
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            &list_file,
            "-i",
            &audio_file,
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            "-progress",
            "pipe:1",
            "-nostats",
            &part,
        ]
        .map(String::from)
        .to_vec();
        ffmpeg(
            "joining the segments",
            &dir,
            &args,
            plan.duration_secs(),
            &|_| {},
        )
        .await?;
    }
    let part_path = dir.join(&part);
    let file = std::fs::File::open(&part_path).map_err(|e| io("opening the output", e))?;
    file.sync_all().map_err(|e| io("syncing the output", e))?;
    std::fs::rename(&part_path, output).map_err(|e| io("renaming the output into place", e))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    drop(cleanup);
    Ok(())
}

fn io(what: &str, e: std::io::Error) -> RenderError {
    RenderError::Failed(format!("{what}: {e}"))
}

/// Writes the plan's graph (and captions) next to the output and runs ffmpeg into `out`.
async fn run_plan(
    plan: &Plan,
    dir: &Path,
    id: &str,
    out: &str,
    cleanup: &mut Cleanup,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    let (script, ass) = (format!(".render-{id}.graph"), format!(".render-{id}.ass"));
    cleanup.0.extend([dir.join(&script), dir.join(&ass)]);
    tokio::fs::write(dir.join(&script), graph::script(plan, &ass))
        .await
        .map_err(|e| io("writing the filter script", e))?;
    if !plan.captions.is_empty() {
        tokio::fs::write(dir.join(&ass), subtitles::ass(plan))
            .await
            .map_err(|e| io("writing the captions", e))?;
    }
    let args = graph::args_with_script(plan, &script, out);
    let step = match plan.streams {
        Streams::Both => "render".to_owned(),
        Streams::Video => format!("video segment {id}"),
        Streams::Audio => "audio".to_owned(),
    };
    ffmpeg(&step, dir, &args, plan.duration_secs(), progress).await
}

/// Runs ffmpeg in `dir` with `-progress pipe:1` among `args`, reporting 0..=99 against
/// `duration` seconds of output, under the stall watchdog and the overall timeout.
async fn ffmpeg(
    step: &str,
    dir: &Path,
    args: &[String],
    duration: f64,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    let mut cmd = match which("setpriv") {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--", "ffmpeg"]);
            c
        }
        None => Command::new("ffmpeg"),
    };
    cmd.args(args)
        .current_dir(dir)
        .process_group(0)
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| io("starting ffmpeg", e))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_task = tokio::spawn(async move {
        let mut keep = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            keep.extend_from_slice(&buf[..n]);
            if keep.len() > STDERR_KEEP {
                keep.drain(..keep.len() - STDERR_KEEP);
            }
        }
        String::from_utf8_lossy(&keep).into_owned()
    });
    let total_us = (duration * 1e6).max(1.0);
    let limit = Duration::from_secs(600) + Duration::from_secs_f64(duration * 20.0);
    let watch = async {
        let mut lines = BufReader::new(stdout).lines();
        let mut last = 0u8;
        loop {
            match tokio::time::timeout(STALL, lines.next_line()).await {
                Err(_) => {
                    return Err(RenderError::Failed(format!(
                        "ffmpeg stalled: no progress for {} s",
                        STALL.as_secs()
                    )));
                }
                Ok(Ok(Some(line))) => {
                    if let Some(us) = line.strip_prefix("out_time_us=")
                        && let Ok(us) = us.trim().parse::<f64>()
                    {
                        let pct = ((us / total_us) * 100.0).clamp(0.0, 99.0) as u8;
                        if pct > last {
                            last = pct;
                            progress(pct);
                        }
                    }
                }
                Ok(_) => return Ok(()),
            }
        }
    };
    let outcome = match tokio::time::timeout(limit, watch).await {
        Err(_) => Err(RenderError::Failed(format!(
            "ffmpeg timed out after {} s",
            limit.as_secs()
        ))),
        Ok(r) => r,
    };
    if let Err(e) = outcome {
        let _ = child.kill().await;
        return Err(e);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| io("waiting for ffmpeg", e))?;
    let stderr = err_task.await.unwrap_or_default();
    if !status.success() {
        let msg = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no error output")
            .replace(&*dir.to_string_lossy(), "<dir>");
        return Err(RenderError::Failed(format!(
            "ffmpeg ({step}) exited with {status}: {msg}"
        )));
    }
    Ok(())
}

/// The program's path on PATH, if it is installed.
pub(super) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
