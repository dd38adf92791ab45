//! Start-up hooks (`serve --init-dir DIR`): once the server answers, the executables in
//! `DIR/ready.d/` run in name order with the endpoint and the default account's key in their
//! environment, as LocalStack's init hooks do, so a dev environment can seed itself.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::domain::account::Credentials;
use crate::store::Store;

/// Where the hooks are and what they are told.
pub struct InitHooks {
    pub dir: PathBuf,
    pub credentials: Credentials,
}

/// Where a local client reaches `listen` (an unspecified address means loopback).
fn local_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen {
        SocketAddr::V4(a) if a.ip().is_unspecified() => Ipv4Addr::LOCALHOST.into(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        other => other.ip(),
    };
    SocketAddr::new(ip, listen.port())
}

/// Waits until the listener accepts and the store answers (what `/healthz` checks), then runs
/// the hooks one after another. A failing hook is logged; the server keeps serving.
pub async fn run(
    hooks: InitHooks,
    scheme: &'static str,
    listen: SocketAddr,
    store: Arc<dyn Store>,
) {
    let connect_to = local_addr(listen);
    let endpoint = format!("{scheme}://{connect_to}");
    loop {
        let listening = tokio::net::TcpStream::connect(connect_to).await.is_ok();
        if listening && store.ping().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dir = hooks.dir.join("ready.d");
    let scripts = match executables(&dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the init hooks folder");
            return;
        }
    };
    tracing::info!(dir = %dir.display(), count = scripts.len(), "running init hooks");
    for script in scripts {
        run_one(&script, &endpoint, &hooks.credentials).await;
    }
}

/// Executable files directly in `dir`, by name.
fn executables(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            found.push(entry.path());
        } else {
            tracing::warn!(hook = %entry.path().display(), "skipped: not an executable file");
        }
    }
    found.sort();
    Ok(found)
}

async fn run_one(script: &Path, endpoint: &str, creds: &Credentials) {
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let child = tokio::process::Command::new(script)
        .env("OPENICE_ENDPOINT", endpoint)
        .env("OPENICE_ACCESS_KEY_ID", &creds.access_key_id)
        .env(
            "OPENICE_ACCESS_KEY_SECRET",
            creds.access_key_secret.expose(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(hook = %name, error = %e, "init hook could not start");
            return;
        }
    };
    let out = child
        .stdout
        .take()
        .map(|s| log_lines(name.clone(), "stdout", s));
    let err = child
        .stderr
        .take()
        .map(|s| log_lines(name.clone(), "stderr", s));
    let status = child.wait().await;
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    match status {
        Ok(s) if s.success() => tracing::info!(hook = %name, "init hook finished"),
        Ok(s) => {
            tracing::warn!(hook = %name, status = %s, "init hook failed; the server keeps serving")
        }
        Err(e) => {
            tracing::warn!(hook = %name, error = %e, "init hook failed; the server keeps serving")
        }
    }
}

fn log_lines(
    hook: String,
    stream: &'static str,
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(hook = %hook, stream, "{line}");
        }
    })
}
