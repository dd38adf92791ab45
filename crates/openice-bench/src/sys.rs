//! What the bench reads from Linux's /proc: CPU time, resident memory, the machine.

use std::process::Command;
use std::time::{Duration, Instant};

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU time the whole machine has spent busy so far (all cores), from `/proc/stat`.
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum();
    Duration::from_secs_f64(busy / clock_ticks())
}

/// CPU time (user + system) a process (`"self"` or a pid) has used so far, from
/// `/proc/<pid>/stat`; `None` once the process is gone.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Some(Duration::from_secs_f64(
        f.iter().sum::<f64>() / clock_ticks(),
    ))
}

/// CPU time the calling thread has used so far (nanosecond resolution, from
/// `/proc/thread-self/schedstat`); `None` where the kernel does not provide it.
pub fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// CPU spent during one run, per request sent (warm-up included, as its CPU is too).
#[derive(Debug, Clone, Copy)]
pub struct CpuShare {
    /// The server process's µs per request; `None` when the server is not ours to read.
    pub server_us: Option<f64>,
    /// This process's µs per request: the client, plus the floor when it is the target.
    pub client_us: f64,
    /// Cores that every other process on the machine kept busy meanwhile (noise); `None`
    /// when the server is not ours, as its CPU cannot be told apart from the noise then.
    pub other_cores: Option<f64>,
}

/// Runs `f`, charging the CPU time of `server_pid` (if any) and of this process to the
/// `sent(result)` requests it made.
pub fn with_cpu<R>(
    server_pid: Option<u32>,
    in_process_target: bool,
    f: impl FnOnce() -> R,
    sent: impl Fn(&R) -> u64,
) -> (R, CpuShare) {
    let server = server_pid.map(|p| p.to_string());
    let s0 = server.as_deref().and_then(cpu_time);
    let c0 = cpu_time("self").unwrap_or_default();
    let m0 = machine_busy();
    let wall = Instant::now();
    let r = f();
    let wall = wall.elapsed();
    let m1 = machine_busy();
    let s1 = server.as_deref().and_then(cpu_time);
    let c1 = cpu_time("self").unwrap_or_default();
    let n = sent(&r).max(1) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let server_cpu = s0.zip(s1).map(|(a, b)| b.saturating_sub(a));
    let client_cpu = c1.saturating_sub(c0);
    let other_cores = (server_cpu.is_some() || in_process_target).then(|| {
        let ours = client_cpu + server_cpu.unwrap_or_default();
        (m1.saturating_sub(m0).as_secs_f64() - ours.as_secs_f64()).max(0.0) / wall.as_secs_f64()
    });
    let share = CpuShare {
        server_us: server_cpu.map(per),
        client_us: per(client_cpu),
        other_cores,
    };
    (r, share)
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub fn mem_total_gib() -> Option<f64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .map(|kib| kib / 1024.0 / 1024.0)
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}
