//! The `openice serve` processes the bench starts: finding the binary, starting it on a
//! free loopback port, timing exec → `/healthz` 200, stopping it.

use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::signer::Key;
use crate::{BenchResult, cleanup, sys};

/// Cargo's target directory this executable was built into (`target/`), for the server
/// binary and criterion's estimates.
pub fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/openice-bench
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// `$OPENICE_BENCH_BIN`, or `target/release/openice`. Under `cargo run` (`$CARGO` set) the
/// release binary is rebuilt first, so a bench never measures a stale server.
pub fn binary() -> BenchResult<PathBuf> {
    if let Some(p) = std::env::var_os("OPENICE_BENCH_BIN") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            return Err(format!("OPENICE_BENCH_BIN={} is not a file", p.display()).into());
        }
        return Ok(p);
    }
    if let Some(cargo) = std::env::var_os("CARGO") {
        eprintln!("openice-bench: cargo build --release -p openice --bin openice");
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "openice",
                "--bin",
                "openice",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            // stdout is the bench's report (JSON with --json): keep cargo's words off it.
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("running cargo build: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cargo build --release -p openice --bin openice failed ({status})"
            )
            .into());
        }
    }
    let bin = target_dir()
        .ok_or("cannot tell where this executable lives")?
        .join("release/openice");
    if !bin.is_file() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p openice --bin openice`, or set OPENICE_BENCH_BIN",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `GET /healthz` over a fresh blocking connection; `None` when nothing answers.
pub fn healthz(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// How the bench starts `openice serve`.
pub struct ServerSpec<'a> {
    pub bin: &'a Path,
    pub data_dir: &'a Path,
    /// `--database-url`; `None` is SQLite inside the data dir.
    pub database_url: Option<&'a str>,
    /// Becomes the default account's key (`OPENICE_ACCESS_KEY_ID`/`_SECRET`).
    pub key: &'a Key,
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    /// Exec to the first `/healthz` 200.
    pub ready_after: Duration,
}

impl Server {
    /// Starts `openice serve` on a free port (default flags, logging at its default level
    /// to `server.log` in the data dir) and waits for `/healthz` 200, polled every 0.5 ms.
    pub fn start(spec: &ServerSpec) -> BenchResult<Server> {
        for _attempt in 0..5 {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
            let log = spec.data_dir.join("server.log");
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)?;
            let mut cmd = Command::new(spec.bin);
            // Nothing from the caller's environment may change the server's settings.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("OPENICE_") {
                    cmd.env_remove(&k);
                }
            }
            cmd.arg("serve")
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--data-dir")
                .arg(spec.data_dir);
            if let Some(url) = spec.database_url {
                cmd.arg("--database-url").arg(url);
            }
            cmd.env("OPENICE_ACCESS_KEY_ID", &spec.key.id)
                .env("OPENICE_ACCESS_KEY_SECRET", &spec.key.secret)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file);
            let spawned = Instant::now();
            let child = cmd
                .spawn()
                .map_err(|e| format!("starting {}: {e}", spec.bin.display()))?;
            cleanup::track_pid(child.id());
            let mut server = Server {
                child,
                addr,
                log,
                ready_after: Duration::ZERO,
            };
            let deadline = spawned + Duration::from_secs(60);
            loop {
                if healthz(addr) == Some(200) {
                    server.ready_after = spawned.elapsed();
                    return Ok(server);
                }
                if let Some(status) = server.child.try_wait()? {
                    let logs = std::fs::read_to_string(&server.log).unwrap_or_default();
                    if logs.contains("in use") {
                        break; // someone took the port meanwhile: try another
                    }
                    return Err(format!("openice exited during start ({status}):\n{logs}").into());
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "openice did not become healthy within 60 s:\n{}",
                        server.log_tail()
                    )
                    .into());
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        Err("could not start openice on a free port".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> Option<u64> {
        sys::rss_kib(self.pid())
    }

    /// SIGTERM, then wait (at most 30 s, then SIGKILL): a clean stop, as an operator's.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("openice-bench: openice did not stop within 30 s of SIGTERM; killing it");
        // Drop kills it.
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        cleanup::untrack_pid(self.child.id());
    }
}
