//! SIGTERM under write load: the server stops accepting, finishes the requests under way,
//! stops its workers and exits 0; after a restart on the same store every write it
//! acknowledged (HTTP 200) is there.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Call, Server, for_each_backend, spawn_server};

/// Clients writing at once.
const WRITERS: usize = 24;
/// Acknowledged writes to see before the signal, so that it lands under load.
const WRITES_BEFORE_SIGNAL: usize = 150;
/// Updates of a project before its writer creates the next one.
const UPDATES_PER_PROJECT: usize = 4;

/// What one writer learnt about one project it created.
struct Written {
    project_id: String,
    /// The last title acknowledged (by the create or an update).
    acked: String,
    /// Titles sent after it without an acknowledgement: the store may hold one of them.
    unsure: Vec<String>,
}

/// Creates projects and updates their titles until the server stops answering.
async fn writer(s: Arc<Server>, n: usize, acked: Arc<AtomicUsize>) -> Vec<Written> {
    let key = s.key();
    let mut out: Vec<Written> = Vec::new();
    for i in 0.. {
        let title = format!("w{n}-{i}");
        let (action, params) = match out.last() {
            Some(w) if i % (UPDATES_PER_PROJECT + 1) != 0 => (
                "UpdateEditingProject",
                vec![
                    ("ProjectId", w.project_id.clone()),
                    ("Title", title.clone()),
                ],
            ),
            _ => ("CreateEditingProject", vec![("Title", title.clone())]),
        };
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let sent = s
            .try_send(&Call::new(action, &params, &key).sign_v3(&s.host()))
            .await;
        let answered = match sent {
            Ok(r) => r,
            // No answer: the server has stopped listening. A write whose answer was lost
            // may or may not be stored.
            Err(_) => {
                if action == "UpdateEditingProject"
                    && let Some(w) = out.last_mut()
                {
                    w.unsure.push(title);
                }
                break;
            }
        };
        match (action, answered.status) {
            ("CreateEditingProject", 200) => {
                let project_id = answered.ok()["Project"]["ProjectId"]
                    .as_str()
                    .expect("ProjectId")
                    .to_string();
                out.push(Written {
                    project_id,
                    acked: title,
                    unsure: Vec::new(),
                });
                acked.fetch_add(1, Ordering::Relaxed);
            }
            ("UpdateEditingProject", 200) => {
                let w = out.last_mut().expect("a project");
                w.acked = title;
                w.unsure.clear();
                acked.fetch_add(1, Ordering::Relaxed);
            }
            // Refused (e.g. 503 while overloaded): not acknowledged, so either outcome is fine.
            ("UpdateEditingProject", _) => {
                if let Some(w) = out.last_mut() {
                    w.unsure.push(title);
                }
            }
            _ => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_write_load_loses_no_acknowledged_write() {
    for_each_backend(|b| async move {
        let s = Arc::new(spawn_server(b).await);
        let acked = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|n| tokio::spawn(writer(s.clone(), n, acked.clone())))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.load(Ordering::Relaxed) < WRITES_BEFORE_SIGNAL {
            assert!(
                Instant::now() < deadline,
                "only {} writes acknowledged in 60 s:\n{}",
                acked.load(Ordering::Relaxed),
                s.logs()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_signal = acked.load(Ordering::Relaxed);
        let stopping = s.clone();
        let status = tokio::task::spawn_blocking(move || stopping.sigterm())
            .await
            .expect("sigterm");
        assert_eq!(
            status.code(),
            Some(0),
            "exit status after SIGTERM: {status}\n{}",
            s.logs()
        );
        let mut written = Vec::new();
        for w in writers {
            written.extend(w.await.expect("writer"));
        }
        let total = acked.load(Ordering::Relaxed);
        eprintln!("{total} writes acknowledged ({at_signal} before SIGTERM)");
        let logs = s.logs();
        assert!(
            logs.contains("shutdown signal received") && logs.contains("stopped"),
            "{logs}"
        );
        assert!(
            !logs.contains("still running"),
            "requests or workers outlived the deadline:\n{logs}"
        );

        s.restart().await;
        for w in &written {
            let got = s
                .ok("GetEditingProject", &[("ProjectId", &w.project_id)])
                .await;
            let title = got["Project"]["Title"].as_str().expect("Title");
            assert!(
                title == w.acked || w.unsure.iter().any(|u| u == title),
                "project {} holds {title:?}; the last acknowledged title was {:?} (unacknowledged after it: {:?})",
                w.project_id,
                w.acked,
                w.unsure
            );
        }
        assert!(written.len() >= WRITERS, "{} projects", written.len());
    })
    .await;
}
