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
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use super::plan::Plan;
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

pub(super) async fn execute(
    plan: &Plan,
    output: &Path,
    progress: &(dyn Fn(u8) + Send + Sync),
) -> Result<(), RenderError> {
    let io = |what: &str, e: std::io::Error| RenderError::Failed(format!("{what}: {e}"));
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
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (script, ass, part) = (
        format!(".render-{id}.graph"),
        format!(".render-{id}.ass"),
        format!(".{name}.{id}.part"),
    );
    let cleanup = Cleanup(vec![dir.join(&script), dir.join(&ass), dir.join(&part)]);
    tokio::fs::write(dir.join(&script), graph::script(plan, &ass))
        .await
        .map_err(|e| io("writing the filter script", e))?;
    if !plan.captions.is_empty() {
        tokio::fs::write(dir.join(&ass), subtitles::ass(plan))
            .await
            .map_err(|e| io("writing the captions", e))?;
    }
    let args = graph::args_with_script(plan, &script, &part);
    let mut cmd = match which("setpriv") {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--", "ffmpeg"]);
            c
        }
        None => Command::new("ffmpeg"),
    };
    cmd.args(&args)
        .current_dir(&dir)
        .process_group(0)
        .kill_on_drop(true)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if which("ffmpeg").is_none() {
        return Err(RenderError::MissingTool(
            "ffmpeg is not installed (apt-get install ffmpeg)".to_owned(),
        ));
    }
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
    let total_us = (plan.duration_secs() * 1e6).max(1.0);
    let limit = Duration::from_secs(600) + Duration::from_secs_f64(plan.duration_secs() * 20.0);
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
            "ffmpeg exited with {status}: {msg}"
        )));
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

/// The program's path on PATH, if it is installed.
pub(super) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
