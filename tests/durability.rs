//! Running it: acknowledged writes survive SIGKILL, SIGTERM exits cleanly, the default
//! account and the `account` CLI.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use serde_json::Value;

/// What a project must look like after a crash; `None` = deleted.
type Expected = BTreeMap<String, Option<(String, String, f64)>>;

async fn verify(s: &Server, expected: &Expected) {
    let key = s.key();
    for (id, want) in expected {
        let r = s
            .call("GetEditingProject", &[("ProjectId", id)], &key)
            .await;
        match want {
            None => {
                r.err(404, "ProjectNotFound");
            }
            Some((title, description, duration)) => {
                let p = &r.ok()["Project"];
                assert_eq!(p["Title"], title.as_str(), "{id}: {p}");
                assert_eq!(p["Description"], description.as_str(), "{id}: {p}");
                assert_eq!(p["Duration"].as_f64(), Some(*duration), "{id}: {p}");
                assert_eq!(p["Timeline"], timeline_of(*duration).as_str(), "{id}");
            }
        }
    }
    let alive = expected.values().filter(|v| v.is_some()).count();
    let page = s.ok("SearchEditingProject", &[("PageSize", "100")]).await;
    assert_eq!(page["TotalCount"], alive, "{page}");
}

/// Creates, updates and deletes concurrently; every acknowledged write is recorded.
async fn write_batch(s: &Arc<Server>, round: usize, expected: &mut Expected) {
    let n = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let s = Arc::clone(s);
        tasks.spawn(async move {
            let title = format!("r{round} p{i} «crash-safe»");
            let description = format!("created {i}");
            let duration = (i + 1) as f64 / 4.0;
            let created = s
                .ok(
                    "CreateEditingProject",
                    &[
                        ("Title", &title),
                        ("Description", &description),
                        ("Timeline", &timeline_of(duration)),
                    ],
                )
                .await;
            let id = project_id(&created);
            let mut last = Some((title, description, duration));
            if i % 3 == 0 {
                for version in 1..=2 {
                    let title = format!("r{round} p{i} v{version}");
                    let description = format!("updated {i} v{version}");
                    let duration = duration + version as f64;
                    s.ok(
                        "UpdateEditingProject",
                        &[
                            ("ProjectId", &id),
                            ("Title", &title),
                            ("Description", &description),
                            ("Timeline", &timeline_of(duration)),
                        ],
                    )
                    .await;
                    last = Some((title, description, duration));
                }
            }
            if i % 5 == 4 {
                s.ok("DeleteEditingProjects", &[("ProjectIds", &id)]).await;
                last = None;
            }
            (id, last)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (id, last) = done.expect("writer task");
        expected.insert(id, last);
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    for_each_backend(|b| async move {
        let s = Arc::new(spawn_server(b).await);
        let mut expected = Expected::new();
        for round in 0..2 {
            write_batch(&s, round, &mut expected).await;
            // Crash right after the last acknowledgement.
            s.kill9();
            assert_eq!(
                s.healthz().await,
                None,
                "server still answers after SIGKILL"
            );
            s.restart().await;
            verify(&s, &expected).await;
        }
        assert_eq!(expected.len(), 80);
    })
    .await;
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_health_answers() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        assert_eq!(s.healthz().await, Some(200));
        let id = project_id(
            &s.ok("CreateEditingProject", &[("Title", "before stop")])
                .await,
        );
        let status = s.sigterm();
        assert_eq!(status.code(), Some(0), "SIGTERM exit status: {status}");
        assert_eq!(s.healthz().await, None);
        s.restart().await;
        assert_eq!(s.healthz().await, Some(200));
        let g = s.ok("GetEditingProject", &[("ProjectId", &id)]).await;
        assert_eq!(g["Project"]["Title"], "before stop");
    })
    .await;
}

#[tokio::test]
async fn first_start_writes_default_credentials() {
    for_each_backend(|b| async move {
        let s = ServerOptions::new(b).without_env_key().spawn().await;
        let path = s.credentials_path();
        let meta = std::fs::metadata(&path).expect("default-credentials.json exists");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "credentials file mode {:o}",
            meta.permissions().mode()
        );
        let creds = s.default_credentials();
        let account_id = creds["AccountId"].as_str().expect("AccountId").to_string();
        assert_eq!(account_id.len(), 16, "{creds}");
        assert!(account_id.bytes().all(|c| c.is_ascii_digit()), "{creds}");
        let key = Key::from_credentials(&creds);
        assert!(!key.id.is_empty() && !key.secret.is_empty());
        let before = std::fs::read(&path).unwrap();

        // The credentials work, in both schemes.
        let id = project_id(&s.ok("CreateEditingProject", &[("Title", "mine")]).await);
        s.call_v2("GetEditingProject", &[("ProjectId", &id)], &key)
            .await
            .ok();

        // A restart keeps them (the file is not rewritten, the key still works).
        s.restart().await;
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let g = s
            .call("GetEditingProject", &[("ProjectId", &id)], &key)
            .await;
        assert_eq!(g.ok()["Project"]["Title"], "mine");

        // `account list`: one JSON object per line, no secrets.
        let (b_id, b_key) = s.create_account("second").await;
        let out = s.cli_ok(&["list"]).await;
        let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 2, "{out}");
        let mut accounts = Vec::new();
        for line in &lines {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            assert!(v.is_object(), "{line}");
            accounts.push(v["AccountId"].as_str().unwrap_or_default().to_string());
        }
        accounts.sort();
        let mut want = vec![account_id.clone(), b_id];
        want.sort();
        assert_eq!(accounts, want, "{out}");
        assert!(out.contains(&key.id) && out.contains(&b_key.id), "{out}");
        assert!(
            !out.contains(&key.secret),
            "account list leaks a secret: {out}"
        );
        assert!(
            !out.contains(&b_key.secret),
            "account list leaks a secret: {out}"
        );
        assert!(!out.to_ascii_lowercase().contains("secret"), "{out}");
    })
    .await;
}

#[tokio::test]
async fn disabled_keys_are_refused() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let (_, bk) = s.create_account("tenant-b").await;
        s.call("SearchEditingProject", &[], &bk).await.ok();

        s.cli_ok(&["key-disable", &bk.id]).await;
        s.call("SearchEditingProject", &[], &bk)
            .await
            .err(403, "InvalidAccessKeyId.Inactive");
        s.call_v2("SearchEditingProject", &[], &bk)
            .await
            .err(403, "InvalidAccessKeyId.Inactive");
        // Other keys are unaffected.
        s.ok("SearchEditingProject", &[]).await;

        s.cli_ok(&["key-enable", &bk.id]).await;
        s.call("SearchEditingProject", &[], &bk).await.ok();

        // Unknown keys make the CLI fail.
        let out = s.cli(&["key-disable", "LTAInosuchkey"]).await;
        assert!(
            !out.status.success(),
            "key-disable of an unknown key succeeded"
        );
    })
    .await;
}

#[tokio::test]
async fn conflicting_environment_keys_refuse_to_start() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        assert_eq!(s.sigterm().code(), Some(0));

        // The stored key ID with another secret.
        s.set_env_key(Some((Some(&key.id), Some("a-different-secret"))));
        let (status, stderr) = s.start_expecting_failure().await;
        assert!(!status.success(), "exit status {status}");
        assert!(
            stderr.contains(&key.id),
            "the message should name the key: {stderr}"
        );

        // Only one of the two variables.
        s.set_env_key(Some((Some(&key.id), None)));
        let (status, _) = s.start_expecting_failure().await;
        assert!(!status.success(), "exit status {status}");
        s.set_env_key(Some((None, Some(&key.secret))));
        let (status, _) = s.start_expecting_failure().await;
        assert!(!status.success(), "exit status {status}");

        // The original pair still starts, and a new env key is added to the default account.
        s.set_env_key(Some((Some(&key.id), Some(&key.secret))));
        s.restart().await;
        s.ok("SearchEditingProject", &[]).await;
        let extra = Key::random();
        assert_eq!(s.sigterm().code(), Some(0));
        s.set_env_key(Some((Some(&extra.id), Some(&extra.secret))));
        s.restart().await;
        s.call("SearchEditingProject", &[], &extra).await.ok();
        s.call("SearchEditingProject", &[], &key).await.ok();
    })
    .await;
}
