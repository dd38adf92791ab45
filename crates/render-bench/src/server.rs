//! The job path: an `openice serve` on a temporary data dir, sources put into its object
//! storage and registered as media (probed once, as a library holds them), and producing jobs
//! submitted with the ICE API (V2 RPC signatures, over plain HTTP/1.1) and polled to the end.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openice::protocol::sign::{percent_encode, v2_signature, v2_string_to_sign};
use serde_json::Value;

const KEY_ID: &str = "render-bench-key";
const KEY_SECRET: &str = "render-bench-secret";
/// The bucket sources and outputs live in.
pub const BUCKET: &str = "bench";
/// How often job and media status are polled: a finished job is seen this late at most.
const POLL: Duration = Duration::from_millis(25);

pub struct Server {
    child: Child,
    addr: SocketAddr,
    pub data_dir: PathBuf,
    nonce: std::cell::Cell<u64>,
}

impl Server {
    /// Puts `files` into the data dir's bucket (`openice media put`, before the server opens
    /// the store) and starts the server on a free loopback port.
    pub fn start(openice: &Path, data_dir: &Path, files: &[String]) -> Server {
        for file in files {
            let name = Path::new(file).file_name().expect("a file name");
            let url = format!("oss://{BUCKET}/src/{}", name.to_string_lossy());
            let ok = Command::new(openice)
                .args(["media", "put", file, &url, "--data-dir"])
                .arg(data_dir)
                .stdout(Stdio::null())
                .status()
                .expect("openice media put runs");
            assert!(ok.success(), "openice media put {file}");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(data_dir.join("server.log")).expect("server log");
        let mut cmd = Command::new(openice);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OPENICE_") {
                cmd.env_remove(&k);
            }
        }
        let child = cmd
            .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir)
            .env("OPENICE_ACCESS_KEY_ID", KEY_ID)
            .env("OPENICE_ACCESS_KEY_SECRET", KEY_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("openice serve starts");
        let server = Server {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
            nonce: std::cell::Cell::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(addr, "/healthz").is_none_or(|(status, _)| status != 200) {
            assert!(Instant::now() < deadline, "openice serve did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The server's CPU seconds so far, its waited-for children (ffmpeg, ffprobe) included.
    pub fn cpu_secs(&self) -> f64 {
        crate::stat_cpu_secs(&format!("/proc/{}/stat", self.child.id()), true)
    }

    /// One signed ICE call; panics on an error answer (the bench's inputs are valid).
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Value {
        self.nonce.set(self.nonce.get() + 1);
        let nonce = format!("{}-{}", std::process::id(), self.nonce.get());
        let timestamp = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 ns is valid")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("RFC 3339 formats");
        let mut all: Vec<(String, String)> = [
            ("Action", action),
            ("Version", "2020-11-09"),
            ("Format", "JSON"),
            ("AccessKeyId", KEY_ID),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", &nonce),
            ("Timestamp", &timestamp),
        ]
        .iter()
        .chain(params)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signature = v2_signature(KEY_SECRET, &v2_string_to_sign("GET", &all));
        all.push(("Signature".to_owned(), signature));
        let query: Vec<String> = all
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let (status, body) =
            http(self.addr, &format!("/?{}", query.join("&"))).expect("openice answers");
        let value: Value = serde_json::from_slice(&body).expect("a JSON answer");
        assert_eq!(status, 200, "{action}: {value}");
        value
    }

    /// Registers `oss://bench/src/<name of file>` and waits until it is probed; its MediaId.
    pub fn register(&self, file: &str) -> String {
        let name = Path::new(file).file_name().expect("a file name");
        let url = format!("oss://{BUCKET}/src/{}", name.to_string_lossy());
        let r = self.call("RegisterMediaInfo", &[("InputURL", &url)]);
        let id = r["MediaId"].as_str().expect("a MediaId").to_owned();
        self.wait_probed(&id);
        id
    }

    /// Waits until media `id` is probed (`Normal`).
    pub fn wait_probed(&self, id: &str) {
        loop {
            let r = self.call("GetMediaInfo", &[("MediaId", id)]);
            match r["MediaInfo"]["MediaBasicInfo"]["Status"].as_str() {
                Some("Normal") => return,
                Some("PrepareFail") => panic!("media {id} failed its probe: {r}"),
                _ => std::thread::sleep(POLL),
            }
        }
    }

    /// Submits a producing job and polls it to `Success`: (wall seconds submit → Success,
    /// the job, the output file).
    pub fn produce(
        &self,
        timeline: &Value,
        config: &Value,
        output_key: &str,
    ) -> (f64, Value, PathBuf) {
        let mut config = config.clone();
        config["MediaURL"] = Value::from(format!("oss://{BUCKET}/{output_key}"));
        let started = Instant::now();
        let r = self.call(
            "SubmitMediaProducingJob",
            &[
                ("Timeline", &timeline.to_string()),
                ("OutputMediaConfig", &config.to_string()),
            ],
        );
        let job_id = r["JobId"].as_str().expect("a JobId");
        loop {
            let job = self.call("GetMediaProducingJob", &[("JobId", job_id)])["MediaProducingJob"]
                .clone();
            match job["Status"].as_str() {
                Some("Success") => {
                    let secs = started.elapsed().as_secs_f64();
                    let out = self.data_dir.join("buckets").join(BUCKET).join(output_key);
                    return (secs, job, out);
                }
                Some("Failed") => panic!("job failed: {job}"),
                _ => std::thread::sleep(POLL),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM for a clean stop (its ffmpeg children go with it).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// `GET target` on a fresh connection: (status, body); `None` when nothing answers.
fn http(addr: SocketAddr, target: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf[split + 4..].to_vec();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    Some((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = data.get(start + size + 2..).unwrap_or(&[]);
    }
    out
}
