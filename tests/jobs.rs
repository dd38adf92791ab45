//! Producing jobs survive SIGKILL: a job killed mid-render runs again after the next start
//! (its lease freed at once on the embedded store, taken over on expiry on PostgreSQL) and
//! ends `Success` with exactly one output file and one output media.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// 2 s of testsrc 160x120 @25 with a tone, H.264/AAC.
fn make_source(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=duration=2:size=160x120:rate=25")
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(path)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn frame_count(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

async fn wait_until(
    s: &Server,
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<Value>,
) -> Value {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < end,
            "{what} not reached in {deadline:?}\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job(s: &Server, job_id: &str) -> Value {
    s.ok("GetMediaProducingJob", &[("JobId", job_id)]).await["MediaProducingJob"].clone()
}

#[tokio::test]
async fn a_job_killed_mid_render_succeeds_after_restart_with_one_output() {
    for_each_backend(|backend| async move {
        let s = spawn_server(backend).await;
        let bucket = "jobs-crash";
        make_source(&s.data_dir().join("buckets").join(bucket).join("in/src.mp4"));
        let media_id = s
            .ok(
                "RegisterMediaInfo",
                &[("InputURL", &format!("oss://{bucket}/in/src.mp4"))],
            )
            .await["MediaId"]
            .as_str()
            .unwrap()
            .to_string();
        let probed = s.probed(&media_id).await;
        assert_eq!(probed["MediaInfo"]["MediaBasicInfo"]["Status"], "Normal");
        // 15 copies of the 2 s clip at 1280x720: long enough to be killed mid-render.
        let clips: Vec<Value> = (0..15)
            .map(|_| json!({"MediaId": media_id, "In": 0, "Out": 2}))
            .collect();
        let timeline = json!({"VideoTracks": [{"VideoTrackClips": clips}]}).to_string();
        let config = json!({"MediaURL": format!("oss://{bucket}/out/out.mp4"), "Width": 1280, "Height": 720})
            .to_string();
        let submitted = s
            .ok(
                "SubmitMediaProducingJob",
                &[("Timeline", &timeline), ("OutputMediaConfig", &config)],
            )
            .await;
        let job_id = submitted["JobId"].as_str().unwrap().to_string();
        let out_media = submitted["MediaId"].as_str().unwrap().to_string();
        wait_until(&s, "Processing", Duration::from_secs(30), async || {
            let j = job(&s, &job_id).await;
            assert_ne!(j["Status"], "Success", "rendered before it could be killed");
            (j["Status"] == "Processing").then_some(j)
        })
        .await;
        // The run's temporary files carry the job's ID: killed once ffmpeg writes its
        // partial output.
        let out_dir = s.data_dir().join("buckets").join(bucket).join("out");
        let partial = format!(".out.mp4.{job_id}-");
        wait_until(&s, "a partial output", Duration::from_secs(30), async || {
            let names: Vec<String> = std::fs::read_dir(&out_dir)
                .ok()?
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.iter().any(|f| f.starts_with(&partial)).then(|| json!(names))
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.kill9();
        // A killed segmented render also leaves segments, their list and the audio: the
        // re-run removes all of them.
        for name in ["0.mp4", "1.mp4", "audio.m4a", "concat"] {
            let sep = if name == "concat" { '.' } else { '-' };
            let file = format!(".render-{job_id}-0123abcd{sep}{name}");
            std::fs::write(out_dir.join(file), b"left by a killed segmented render").unwrap();
        }
        s.restart().await;

        let mut progress = Vec::new();
        let done = wait_until(&s, "job end", Duration::from_secs(120), async || {
            let j = job(&s, &job_id).await;
            if j["Status"] == "Processing" {
                progress.push(j["Progress"].as_i64().unwrap());
            }
            matches!(j["Status"].as_str(), Some("Success" | "Failed")).then_some(j)
        })
        .await;
        // Progress never goes back (not even across the re-run) and stays below 100 until
        // the output is verified.
        assert!(progress.is_sorted(), "{progress:?}");
        assert!(progress.iter().any(|p| (1..100).contains(p)), "{progress:?}");
        assert_eq!(done["Status"], "Success", "{done}");
        assert_eq!(done["Progress"], 100);
        let duration = done["Duration"].as_f64().unwrap();
        assert!((duration - 30.0).abs() < 1e-6, "{done}");

        let files: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["out.mp4"], "exactly one output");
        assert_eq!(frame_count(&out_dir.join("out.mp4")), 750);

        let listed = s
            .ok("ListMediaBasicInfos", &[("MaxResults", "100")])
            .await;
        let ids: Vec<&str> = listed["MediaInfos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["MediaId"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2, "the source and one output media: {listed}");
        assert!(ids.contains(&out_media.as_str()), "{listed}");
        let jobs = s.ok("ListMediaProducingJobs", &[]).await;
        assert_eq!(jobs["MediaProducingJobList"].as_array().unwrap().len(), 1);
    })
    .await;
}

/// Accepts one HTTP request on `listener`, answers 200, returns its body.
async fn receive_one(listener: &tokio::net::TcpListener) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let body_start = loop {
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before the headers ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    while buf.len() < body_start + length {
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        buf.extend_from_slice(&chunk[..n]);
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    serde_json::from_slice(&buf[body_start..body_start + length]).unwrap()
}

#[tokio::test]
async fn a_callback_not_yet_delivered_is_retried_after_a_restart() {
    for_each_backend(|backend| async move {
        let s = spawn_server(backend).await;
        let bucket = "jobs-outbox";
        make_source(&s.data_dir().join("buckets").join(bucket).join("in/src.mp4"));
        let media_id = s
            .ok(
                "RegisterMediaInfo",
                &[("InputURL", &format!("oss://{bucket}/in/src.mp4"))],
            )
            .await["MediaId"]
            .as_str()
            .unwrap()
            .to_string();
        // A port nobody listens on yet: the first attempts are refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let user_data = json!({"NotifyAddress": format!("http://127.0.0.1:{port}/cb")}).to_string();
        let timeline =
            json!({"VideoTracks": [{"VideoTrackClips": [{"MediaId": media_id}]}]}).to_string();
        let config = json!({"MediaURL": format!("oss://{bucket}/out/cb.mp4")}).to_string();
        let job_id = s
            .ok(
                "SubmitMediaProducingJob",
                &[
                    ("Timeline", &timeline),
                    ("OutputMediaConfig", &config),
                    ("UserData", &user_data),
                ],
            )
            .await["JobId"]
            .as_str()
            .unwrap()
            .to_string();
        wait_until(&s, "job end", Duration::from_secs(60), async || {
            let j = job(&s, &job_id).await;
            (j["Status"] == "Success").then_some(j)
        })
        .await;
        assert!(
            s.wait_for_log("callback failed; retrying later")
                .await
                .is_some(),
            "the first attempt was refused\n{}",
            s.logs()
        );
        s.kill9();
        s.restart().await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let body = tokio::time::timeout(Duration::from_secs(60), receive_one(&listener))
            .await
            .expect("the outbox delivered after the restart");
        assert_eq!(body["EventType"], "ProduceMediaComplete", "{body}");
        assert_eq!(body["MessageBody"]["JobId"], job_id.as_str());
        assert_eq!(body["MessageBody"]["Status"], "Success");
        assert!(body["UserId"].is_u64(), "{body}");
    })
    .await;
}
