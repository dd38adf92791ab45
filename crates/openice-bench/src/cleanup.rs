//! What must not outlive the bench: the servers it started, the PostgreSQL databases it
//! created and its temporary data dirs.
//!
//! Normal exits, errors and panics release them through their guards' `Drop`; a SIGINT
//! (ctrl-c) or SIGTERM ends the process without running `Drop`, so every guard also
//! registers here and the signal handler releases what is still registered, then exits.
//! Only a SIGKILL leaves something behind (a database named `openice_bench_*`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Registry {
    pids: Vec<u32>,
    /// (admin URL, database name)
    databases: Vec<(String, String)>,
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pids: Vec::new(),
    databases: Vec::new(),
    dirs: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn track_pid(pid: u32) {
    registry().pids.push(pid);
}

pub fn untrack_pid(pid: u32) {
    registry().pids.retain(|p| *p != pid);
}

pub fn track_database(admin_url: &str, name: &str) {
    registry()
        .databases
        .push((admin_url.to_string(), name.to_string()));
}

/// Returns false when the signal handler has taken the database over (it drops it).
pub fn untrack_database(name: &str) -> bool {
    let mut r = registry();
    let before = r.databases.len();
    r.databases.retain(|(_, n)| n != name);
    r.databases.len() < before
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a signal is ending the run: whatever fails on the main thread from now on
/// failed because the handler is tearing things down, and is not worth reporting.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Parks the calling thread until the signal handler exits the process.
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A temporary directory removed on drop and on SIGINT/SIGTERM.
pub struct ScratchDir(tempfile::TempDir);

impl ScratchDir {
    pub fn new(prefix: &str) -> std::io::Result<ScratchDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        registry().dirs.push(dir.path().to_path_buf());
        Ok(ScratchDir(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let path = self.0.path().to_path_buf();
        registry().dirs.retain(|d| *d != path);
    }
}

/// On SIGINT or SIGTERM: kill the servers, drop the databases, remove the directories,
/// exit 130. Runs on its own thread and runtime, so it works whatever the main thread does.
pub fn install_signal_handler() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!("openice-bench: interrupted; cleaning up");
                let (pids, databases, dirs) = {
                    let mut r = registry();
                    (
                        std::mem::take(&mut r.pids),
                        std::mem::take(&mut r.databases),
                        std::mem::take(&mut r.dirs),
                    )
                };
                for pid in pids {
                    let _ = std::process::Command::new("kill")
                        .arg("-KILL")
                        .arg(pid.to_string())
                        .status();
                }
                for (admin, name) in databases {
                    match tokio::time::timeout(
                        Duration::from_secs(15),
                        crate::postgres::drop_database(&admin, &name),
                    )
                    .await
                    {
                        Ok(Ok(())) => eprintln!("openice-bench: dropped database {name}"),
                        Ok(Err(e)) => eprintln!("openice-bench: could not drop {name}: {e}"),
                        Err(_) => eprintln!("openice-bench: could not drop {name}: timed out"),
                    }
                }
                for dir in dirs {
                    let _ = std::fs::remove_dir_all(dir);
                }
                std::process::exit(130);
            })
        })?;
    Ok(())
}
