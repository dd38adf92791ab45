//! `openice dump` / `openice restore`: a populated SQLite store dumped while a client writes
//! to it, restored into PostgreSQL (when available) and back into SQLite, answers every read
//! as the original did; a non-empty target, a truncated or a tampered archive is refused
//! before anything is written.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A 1-second 160x120 H.264 clip made with ffmpeg.
fn make_clip(path: &Path) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=160x120:rate=25:duration=1")
        .args(["-pix_fmt", "yuv420p", "-c:v", "libx264"])
        .arg(path)
        .status()
        .expect("ffmpeg is needed (scripts/test.sh installs it)");
    assert!(ok.success());
}

/// What the stores must answer alike, without the parts that name the server or the request
/// (RequestId, signed download URLs), which are fetched and compared as bytes instead.
struct Reads {
    projects: Vec<Value>,
    total: Value,
    media: Vec<Value>,
    media_bytes: Vec<Vec<u8>>,
    categories: Value,
    templates: Value,
    jobs: Vec<Value>,
}

fn strip(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("RequestId");
    }
    v
}

async fn download(server: &Server, url: &str) -> Vec<u8> {
    let out = tokio::process::Command::new("curl")
        .args(["-fsS", "--max-time", "10", url])
        .output()
        .await
        .expect("curl");
    assert!(
        out.status.success(),
        "{url} on {:?}: {}",
        server.backend,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

async fn reads(
    server: &Server,
    project_ids: &[String],
    media_ids: &[String],
    job_ids: &[String],
) -> Reads {
    let mut projects = Vec::new();
    for id in project_ids {
        projects.push(strip(
            server
                .ok("GetEditingProject", &[("ProjectId", id.as_str())])
                .await,
        ));
    }
    let total = server
        .ok("SearchEditingProject", &[("PageSize", "100")])
        .await["TotalCount"]
        .clone();
    let (mut media, mut media_bytes) = (Vec::new(), Vec::new());
    for id in media_ids {
        let mut info = strip(server.ok("GetMediaInfo", &[("MediaId", id.as_str())]).await);
        let file_info = &mut info["MediaInfo"]["FileInfoList"][0]["FileBasicInfo"];
        let url = file_info["FileUrl"].as_str().expect("FileUrl").to_string();
        media_bytes.push(download(server, &url).await);
        file_info["FileUrl"] = Value::Null;
        if let Some(cover) = info["MediaInfo"]["MediaBasicInfo"]["CoverURL"].as_str() {
            let cover = cover.to_string();
            media_bytes.push(download(server, &cover).await);
            info["MediaInfo"]["MediaBasicInfo"]["CoverURL"] = Value::Null;
        }
        media.push(info);
    }
    let categories = strip(server.ok("GetCategories", &[]).await);
    let templates = strip(server.ok("ListTemplates", &[]).await);
    let mut jobs = Vec::new();
    for id in job_ids {
        jobs.push(strip(
            server
                .ok("GetMediaProducingJob", &[("JobId", id.as_str())])
                .await,
        ));
    }
    Reads {
        projects,
        total,
        media,
        media_bytes,
        categories,
        templates,
        jobs,
    }
}

fn assert_same(a: &Reads, b: &Reads, what: &str) {
    assert_eq!(a.projects, b.projects, "{what}: projects differ");
    assert_eq!(a.total, b.total, "{what}: TotalCount differs");
    assert_eq!(a.media, b.media, "{what}: media differ");
    assert!(a.media_bytes == b.media_bytes, "{what}: file bytes differ");
    assert_eq!(a.categories, b.categories, "{what}: categories differ");
    assert_eq!(a.templates, b.templates, "{what}: templates differ");
    assert_eq!(a.jobs, b.jobs, "{what}: producing jobs differ");
}

async fn dump(server: &Server, archive: &Path) {
    let archive = archive.to_string_lossy().into_owned();
    let out = server.command_on_store(&["dump", "-o", &archive]).await;
    assert!(
        out.status.success(),
        "openice dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A restored server with the source's key.
async fn restored(backend: Backend, archive: &Path, key: Key) -> Server {
    let mut options = ServerOptions::new(backend);
    options.env_key = Some(key);
    options.restore_from = Some(archive.to_path_buf());
    options.spawn().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_moves_between_backends_and_answers_the_same() {
    let source = Arc::new(spawn_server(Backend::Sqlite).await);
    let key = source.key();
    let work = tempfile::tempdir().unwrap();

    // Media with a probed file and a cover, a category, a template, projects with materials.
    let clip = work.path().join("clip.mp4");
    make_clip(&clip);
    let put = source
        .command_on_store(&[
            "media",
            "put",
            clip.to_str().unwrap(),
            "oss://dump-bucket/clips/clip.mp4",
        ])
        .await;
    assert!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let media_id = source
        .ok(
            "RegisterMediaInfo",
            &[
                ("InputURL", "oss://dump-bucket/clips/clip.mp4"),
                ("Title", "clip"),
            ],
        )
        .await["MediaId"]
        .as_str()
        .unwrap()
        .to_string();
    let info = source.probed(&media_id).await;
    assert_eq!(
        info["MediaInfo"]["MediaBasicInfo"]["Status"], "Normal",
        "{info}"
    );
    source
        .ok(
            "AddCategory",
            &[("CateName", "dumped"), ("Type", "default")],
        )
        .await;
    source
        .ok(
            "AddTemplate",
            &[
                ("Name", "t"),
                ("Type", "Timeline"),
                (
                    "Config",
                    r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$Video1"}]}]}"#,
                ),
            ],
        )
        .await;
    let timeline = format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":"{media_id}"}},{{"MediaId":"{media_id}","In":0,"Out":0.5}}]}}]}}"#
    );
    let mut project_ids = Vec::new();
    for i in 0..5 {
        let title = format!("project {i}");
        let created = source
            .ok(
                "CreateEditingProject",
                &[("Title", title.as_str()), ("Timeline", timeline.as_str())],
            )
            .await;
        project_ids.push(project_id(&created));
    }
    // A producing job, finished, with its output registered as media.
    let job = source
        .ok(
            "SubmitMediaProducingJob",
            &[
                ("ProjectId", project_ids[1].as_str()),
                (
                    "OutputMediaConfig",
                    r#"{"MediaURL":"oss://dump-bucket/out/produced.mp4"}"#,
                ),
            ],
        )
        .await;
    let job_ids = vec![job["JobId"].as_str().unwrap().to_string()];
    let output_media = job["MediaId"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = source
            .ok("GetMediaProducingJob", &[("JobId", &job_ids[0])])
            .await;
        let status = got["MediaProducingJob"]["Status"].clone();
        if status == "Success" {
            break;
        }
        assert_ne!(status, "Failed", "{got}");
        assert!(Instant::now() < deadline, "job did not finish: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info = source.probed(&output_media).await;
    assert_eq!(
        info["MediaInfo"]["MediaBasicInfo"]["Status"], "Normal",
        "{info}"
    );
    let materials = format!(r#"{{"video":"{media_id}"}}"#);
    source
        .ok(
            "AddEditingProjectMaterials",
            &[("ProjectId", &project_ids[0]), ("MaterialMaps", &materials)],
        )
        .await;

    // A client keeps writing while the dump runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (source, stop) = (source.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = source
                    .call(
                        "CreateEditingProject",
                        &[
                            ("Title", "written during the dump"),
                            ("Timeline", &timeline_of(2.0)),
                        ],
                        &source.key(),
                    )
                    .await;
                ids.push(project_id(r.ok()));
            }
            ids
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let archive = work.path().join("store.tar");
    dump(&source, &archive).await;
    stop.store(true, Ordering::Relaxed);
    let during = writer.await.unwrap();
    assert!(!during.is_empty(), "no write overlapped the dump");

    // The snapshot holds everything written before it and a prefix of what came during it.
    let second = match backends().contains(&Backend::Postgres) {
        true => Backend::Postgres,
        false => Backend::Sqlite,
    };
    let target = restored(second, &archive, key.clone()).await;
    let mut in_dump = project_ids.clone();
    let mut seen_gap = false;
    for id in &during {
        let r = target
            .call("GetEditingProject", &[("ProjectId", id)], &key)
            .await;
        match r.status {
            200 => {
                assert!(
                    !seen_gap,
                    "the dump holds a later write but not an earlier one"
                );
                in_dump.push(id.clone());
            }
            _ => {
                r.err(404, "ProjectNotFound");
                seen_gap = true;
            }
        }
    }
    let media_ids = vec![media_id.clone(), output_media.clone()];
    let on_target = reads(&target, &in_dump, &media_ids, &job_ids).await;
    assert_eq!(
        on_target.total.as_u64(),
        Some(in_dump.len() as u64),
        "TotalCount on the restored store"
    );
    let on_source = reads(&source, &in_dump, &media_ids, &job_ids).await;
    assert_eq!(on_source.projects, on_target.projects);
    assert_eq!(on_source.media, on_target.media);
    assert!(on_source.media_bytes == on_target.media_bytes);
    assert_eq!(on_source.categories, on_target.categories);
    assert_eq!(on_source.templates, on_target.templates);
    assert_eq!(on_source.jobs, on_target.jobs);

    // New rows continue after the restored ones (sequences), and the round trip back to
    // SQLite answers exactly as the first target.
    target
        .ok(
            "AddCategory",
            &[("CateName", "after restore"), ("Type", "default")],
        )
        .await;
    let back_archive = work.path().join("back.tar");
    dump(&target, &back_archive).await;
    let back = restored(Backend::Sqlite, &back_archive, key.clone()).await;
    assert_same(
        &reads(&target, &in_dump, &media_ids, &job_ids).await,
        &reads(&back, &in_dump, &media_ids, &job_ids).await,
        "round trip back to SQLite",
    );

    // A non-empty store is refused, and nothing in it changes.
    let before = reads(&back, &in_dump, &media_ids, &job_ids).await;
    let out = back
        .command_on_store(&["restore", archive.to_str().unwrap()])
        .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty store"), "{err}");
    assert_same(
        &before,
        &reads(&back, &in_dump, &media_ids, &job_ids).await,
        "after a refused restore",
    );
}

/// The archive cut short or altered in one byte is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_or_tampered_archive_is_refused_untouched() {
    let source = spawn_server(Backend::Sqlite).await;
    for i in 0..3 {
        source
            .ok(
                "CreateEditingProject",
                &[("Title", &format!("p{i}")), ("Timeline", &timeline_of(1.0))],
            )
            .await;
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("store.tar");
    dump(&source, &archive).await;
    let bytes = std::fs::read(&archive).unwrap();

    let truncated = work.path().join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let tampered = work.path().join("tampered.tar");
    let mut altered = bytes.clone();
    let at = altered
        .windows(4)
        .position(|w| w == b"p1\"]" || w == b"\"p1\"")
        .expect("a project title in the archive");
    altered[at + 1] = b'X';
    std::fs::write(&tampered, &altered).unwrap();

    for (archive, why) in [(&truncated, "cut short"), (&tampered, "does not match")] {
        let data_dir = work.path().join(format!("target-{why}"));
        let store_args = vec![
            "--data-dir".to_string(),
            data_dir.to_string_lossy().into_owned(),
        ];
        let out = run_on_store(&["restore", archive.to_str().unwrap()], &store_args).await;
        assert!(!out.status.success(), "{why}: restore succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not a complete, unaltered openice dump"),
            "{err}"
        );
        assert!(
            !data_dir.join("openice.db").exists() && !data_dir.join("buckets").exists(),
            "{why}: the restore wrote before refusing"
        );
    }
}

/// A table added by a later migration must be dumped (or be derived from dumped ones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_is_dumped_or_derived() {
    use openice::store::export::{DERIVED, TABLES};
    for_each_backend(|backend| async move {
        let server = spawn_server(backend).await;
        let store = openice::store::export::open(server.database_url.as_deref(), &server.data_dir)
            .await
            .unwrap();
        for table in store.table_names().await.unwrap() {
            assert!(
                TABLES.contains(&table.as_str()) || DERIVED.contains(&table.as_str()),
                "{backend:?}: table {table} is neither dumped nor derived: list it in \
                 store::export::TABLES (or DERIVED)"
            );
        }
    })
    .await;
}
