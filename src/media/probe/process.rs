//! Running ffprobe/ffmpeg safely: finding the programs, resource limits (`prlimit`),
//! capped output capture, the rules that keep a tool's reads to its input, and
//! input-free error excerpts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::{ProbeError, ProbeLimits};

/// Largest ffprobe JSON accepted.
const STDOUT_CAP: usize = 4 << 20;
/// Stderr kept for error messages (the rest is drained and dropped).
const STDERR_CAP: usize = 64 << 10;
/// Longest error excerpt handed back in [`ProbeError::Failed`].
pub(super) const EXCERPT_CHARS: usize = 300;

/// Where the external programs are; `None` = not installed.
#[derive(Debug, Clone, Default)]
pub(super) struct Tools {
    pub ffprobe: Option<PathBuf>,
    pub ffmpeg: Option<PathBuf>,
    pub prlimit: Option<PathBuf>,
}

impl Tools {
    pub fn from_path() -> Self {
        Self {
            ffprobe: find_program("ffprobe"),
            ffmpeg: find_program("ffmpeg"),
            prlimit: find_program("prlimit"),
        }
    }
}

pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

pub(super) async fn with_timeout<T>(
    limits: &ProbeLimits,
    work: impl Future<Output = Result<T, ProbeError>>,
) -> Result<T, ProbeError> {
    // Dropping `work` on timeout drops any running child, which kills it (kill_on_drop).
    tokio::time::timeout(limits.timeout, work)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

/// Builds the command for `program`, under `prlimit` when it is available.
pub(super) fn limited_command(
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

pub(super) struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` with null stdin and captured, size-capped output.
pub(super) async fn run_captured(mut cmd: Command) -> Result<Captured, ProbeError> {
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
pub(super) async fn read_capped<R: AsyncRead + Unpin>(
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
pub(super) async fn read_keep_head<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> Vec<u8> {
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
pub(super) fn source_arg(input: &str) -> (String, &'static str) {
    if is_url(input) {
        (input.to_owned(), "http,https,tcp,tls")
    } else {
        // `file:` stops a path that looks like an option or a protocol (`a:b`) from being
        // read as one.
        (format!("file:{input}"), "file")
    }
}

pub(super) fn is_url(input: &str) -> bool {
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
pub(super) async fn fetch_rules(tools: &Tools, input: &str) -> Result<Vec<String>, ProbeError> {
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
pub(super) fn failure(
    tool: &str,
    input: &str,
    output: Option<&Path>,
    captured: &Captured,
) -> ProbeError {
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
pub(super) fn stderr_excerpt(stderr: &[u8], input: &str, output: Option<&Path>) -> String {
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

pub(super) fn not_installed(tool: &str) -> ProbeError {
    ProbeError::Spawn(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{tool} not found on PATH (install ffmpeg)"),
    ))
}
