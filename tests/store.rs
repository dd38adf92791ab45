//! One conformance suite for the store engines: each check is a function over
//! `Arc<dyn Store>`, run on a fresh SQLite file and, with `OPENICE_TEST_DATABASE_URL`, on a
//! fresh PostgreSQL database, so both engines answer the same way.

mod common;

use std::future::Future;
use std::sync::Arc;

use openice::domain::account::{AccessKey, Account, Secret};
use openice::domain::category::{Category, CategoryType};
use openice::domain::job::{Job, JobOutcome, JobStatus, JobType};
use openice::domain::media::{MediaInfo, MediaQuery, MediaSource, MediaStatus};
use openice::domain::project::{
    EditingProject, ProjectQuery, ProjectStatus, ProjectType, Source, TemplateType,
};
use openice::domain::template::{Template, TemplateQuery, TemplateStatus};
use openice::domain::{Page, Paged};
use openice::store::oss::{UploadCredential, UrlUploadJob};
use openice::store::{CategoryInsert, Guarded, MediaKey, Store, StoreError, SyncMode};

use common::{ScratchDatabase, backends};

const ACCOUNT: &str = "acct-1";

/// Runs `check` on a fresh store of every available engine, with one account made.
async fn each_store<F, Fut>(check: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("=== backend: {backend:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = ScratchDatabase::new(backend).await;
        check(open_with_account(&db, dir.path()).await).await;
    }
}

/// Opens the store in `dir` or `db` and makes the account [`ACCOUNT`] with key `AK1`.
async fn open_with_account(db: &ScratchDatabase, dir: &std::path::Path) -> Arc<dyn Store> {
    let store = openice::store::open(db.url.as_deref(), dir, SyncMode::Normal)
        .await
        .expect("open the store");
    let account = Account {
        account_id: ACCOUNT.into(),
        name: "first".into(),
        create_time: 1,
    };
    store
        .create_account(&account, &key("AK1", ACCOUNT))
        .await
        .expect("create the account");
    store
}

fn key(id: &str, account_id: &str) -> AccessKey {
    AccessKey {
        access_key_id: id.into(),
        account_id: account_id.into(),
        secret: Secret::new("s3cret"),
        enabled: true,
    }
}

fn project(id: &str, create_time: i64) -> EditingProject {
    EditingProject {
        account_id: ACCOUNT.into(),
        project_id: id.into(),
        title: format!("title {id}"),
        description: None,
        timeline: None,
        template_id: None,
        clips_param: None,
        cover_url: None,
        status: ProjectStatus::Draft,
        create_time,
        modified_time: create_time,
        duration: 0.0,
        create_source: Source::OpenAPI,
        modified_source: Source::OpenAPI,
        template_type: None,
        project_type: ProjectType::EditingProject,
        business_config: None,
        business_status: None,
    }
}

fn media(id: &str, create_time: i64) -> MediaInfo {
    MediaInfo::registered(
        ACCOUNT,
        id.into(),
        format!("oss://bucket/{id}.mp4"),
        format!("oss://bucket/{id}.mp4"),
        MediaSource::Oss,
        format!("media {id}"),
        create_time,
    )
}

fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

#[tokio::test]
async fn accounts_keys_settings_and_nonces() {
    each_store(|s| async move {
        let again = Account {
            account_id: "acct-2".into(),
            name: "first".into(),
            create_time: 2,
        };
        assert!(conflict(
            s.create_account(&again, &key("AK2", "acct-2")).await
        ));
        assert_eq!(s.account_count().await.unwrap(), 1);
        assert_eq!(
            s.account_by_name("first")
                .await
                .unwrap()
                .unwrap()
                .account_id,
            ACCOUNT
        );
        assert!(conflict(s.insert_access_key(&key("AK1", ACCOUNT)).await));
        s.insert_access_key(&key("AK3", ACCOUNT)).await.unwrap();
        assert_eq!(s.access_keys().await.unwrap().len(), 2);
        assert!(s.set_access_key_enabled("AK3", false).await.unwrap());
        assert!(!s.access_key("AK3").await.unwrap().unwrap().enabled);
        assert!(!s.set_access_key_enabled("nope", false).await.unwrap());
        assert!(s.delete_access_key("AK3").await.unwrap());
        assert!(s.access_key("AK3").await.unwrap().is_none());

        assert_eq!(s.setting_or_insert("k", "one").await.unwrap(), "one");
        assert_eq!(s.setting_or_insert("k", "two").await.unwrap(), "one");

        assert!(s.claim_nonce("AK1", "n1", 100, 0).await.unwrap());
        assert!(!s.claim_nonce("AK1", "n1", 100, 0).await.unwrap());
        assert!(s.nonce_claimed("AK1", "n1").await.unwrap());
        assert!(s.claim_nonce("AK1", "n2", 300, 200).await.unwrap());
        // n1 (signed at 100) was forgotten on the way.
        assert!(!s.nonce_claimed("AK1", "n1").await.unwrap());
        assert_eq!(s.latest_claimed_nonce().await.unwrap(), Some(300));

        assert_eq!(s.claim_bucket("b", ACCOUNT).await.unwrap(), ACCOUNT);
        assert_eq!(s.claim_bucket("b", "other").await.unwrap(), ACCOUNT);
        assert_eq!(s.bucket_owner("b").await.unwrap().as_deref(), Some(ACCOUNT));
    })
    .await;
}

#[tokio::test]
async fn projects_guards_search_and_delete() {
    each_store(|s| async move {
        let p = project("p1", 10);
        let links = [("video".to_string(), "m1".to_string())];
        s.insert_project(&p, &["m1".into()], &links).await.unwrap();
        assert!(conflict(s.insert_project(&p, &[], &[]).await));
        assert_eq!(s.project(ACCOUNT, "p1").await.unwrap().unwrap(), p);
        assert_eq!(s.projects_using_media(ACCOUNT, "m1").await.unwrap(), ["p1"]);
        assert_eq!(s.materials(ACCOUNT, "p1").await.unwrap(), links);

        // A field update keeps what it did not change.
        let mut renamed = p.clone();
        renamed.title = "renamed".into();
        renamed.modified_time = 11;
        assert_eq!(
            s.update_project(&renamed, None, &p).await.unwrap(),
            Guarded::Done
        );
        let stored = s.project(ACCOUNT, "p1").await.unwrap().unwrap();
        assert_eq!(
            (stored.title.as_str(), stored.modified_time),
            ("renamed", 11)
        );

        // A timeline write whose guard fails writes nothing at all, not even the title.
        let mut stale = stored.clone();
        stale.status = ProjectStatus::Editing;
        let mut edit = stored.clone();
        edit.title = "lost".into();
        edit.timeline = Some("{}".into());
        edit.status = ProjectStatus::Editing;
        edit.duration = 3.0;
        let timeline_media = ["m2".to_string()];
        let guarded = s.update_project(&edit, Some(&timeline_media), &stale).await;
        assert_eq!(guarded.unwrap(), Guarded::Changed);
        assert_eq!(s.project(ACCOUNT, "p1").await.unwrap().unwrap(), stored);
        assert_eq!(s.projects_using_media(ACCOUNT, "m1").await.unwrap(), ["p1"]);

        let done = s
            .update_project(&edit, Some(&timeline_media), &stored)
            .await;
        assert_eq!(done.unwrap(), Guarded::Done);
        let edited = s.project(ACCOUNT, "p1").await.unwrap().unwrap();
        assert_eq!(
            (edited.duration, edited.status),
            (3.0, ProjectStatus::Editing)
        );
        assert!(
            s.projects_using_media(ACCOUNT, "m1")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.projects_using_media(ACCOUNT, "m2").await.unwrap(), ["p1"]);

        // A new timeline keeps the links it still names and adds each new one once.
        let relink = ["m3".to_string(), "m2".to_string(), "m3".to_string()];
        assert_eq!(
            s.update_project(&edited, Some(&relink), &edited)
                .await
                .unwrap(),
            Guarded::Done
        );
        for media_id in ["m2", "m3"] {
            assert_eq!(
                s.projects_using_media(ACCOUNT, media_id).await.unwrap(),
                ["p1"]
            );
        }
        assert_eq!(
            s.set_project_duration(&edited, 4.0).await.unwrap(),
            Guarded::Done
        );
        assert_eq!(
            s.set_project_duration(&edited, 5.0).await.unwrap(),
            Guarded::Changed
        );

        for i in 2..=5 {
            s.insert_project(&project(&format!("p{i}"), 10 + i), &[], &[])
                .await
                .unwrap();
        }
        let mut q = ProjectQuery {
            page: Page::Number {
                page_no: 2,
                page_size: 2,
            },
            ascending: true,
            ..ProjectQuery::default()
        };
        let page = s.search_projects(ACCOUNT, &q).await.unwrap();
        assert_eq!(page.total, 5);
        assert_eq!(ids(&page, |p| &p.project_id), ["p3", "p4"]);
        assert!(page.items.iter().all(|p| p.timeline.is_none()));

        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            q.page = Page::After { cursor, limit: 2 };
            let page = s.search_projects(ACCOUNT, &q).await.unwrap();
            seen.extend(ids(&page, |p| &p.project_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["p1", "p2", "p3", "p4", "p5"]);

        q.keyword = Some("lost".into());
        q.page = Page::default();
        q.timelines = true;
        let found = s.search_projects(ACCOUNT, &q).await.unwrap();
        assert_eq!(
            (found.total, found.items[0].timeline.as_deref()),
            (1, Some("{}"))
        );
        assert_eq!(s.search_projects_bytes(ACCOUNT, &q).await.unwrap(), 2);

        let doomed = ["p1".to_string(), "p2".to_string(), "other".to_string()];
        assert_eq!(s.delete_projects(ACCOUNT, &doomed).await.unwrap(), 2);
        assert!(s.project(ACCOUNT, "p1").await.unwrap().is_none());
        assert!(s.materials(ACCOUNT, "p1").await.unwrap().is_empty());
        assert_eq!(
            s.update_project(&edit, None, &edited).await.unwrap(),
            Guarded::Gone
        );
        let q = ProjectQuery {
            page: Page::Number {
                page_no: 1,
                page_size: 10,
            },
            ..ProjectQuery::default()
        };
        assert_eq!(s.search_projects(ACCOUNT, &q).await.unwrap().total, 3);
    })
    .await;
}

fn ids<T>(page: &Paged<T>, id: impl Fn(&T) -> &String) -> Vec<String> {
    page.items.iter().map(|t| id(t).clone()).collect()
}

#[tokio::test]
async fn media_conflicts_search_and_probe_leases() {
    each_store(|s| async move {
        let m1 = media("m1", 1);
        s.insert_media(&m1, None).await.unwrap();
        let mut same_place = media("m9", 2);
        same_place.location = m1.location.clone();
        assert!(conflict(s.insert_media(&same_place, None).await));
        s.insert_media(&media("m2", 2), None).await.unwrap();
        let by = s.media_by(ACCOUNT, MediaKey::Location(&m1.location)).await;
        assert_eq!(by.unwrap().unwrap(), m1);
        let many = s
            .media_many(ACCOUNT, &["m1".into(), "m2".into(), "x".into()])
            .await;
        assert_eq!(many.unwrap().len(), 2);

        let mut tagged = m1.clone();
        tagged.reference_id = Some("ref".into());
        tagged.media_tags = vec!["a".into(), "b".into()];
        assert!(s.update_media(&tagged).await.unwrap());
        let mut taken = media("m2", 2);
        taken.reference_id = Some("ref".into());
        assert!(conflict(s.update_media(&taken).await));
        let q = MediaQuery {
            conditions: openice::domain::media::parse_match("mediaTags = 'b'").unwrap(),
            ascending: false,
            page: Page::default(),
        };
        let found = s.search_media(ACCOUNT, &q).await.unwrap();
        assert_eq!(ids(&found, |m| &m.media_id), ["m1"]);

        // The oldest waiting media goes first; a held lease keeps it from others.
        let claimed = s.claim_probe("w1", 100, 200).await.unwrap().unwrap();
        assert_eq!(
            (claimed.media_id.as_str(), claimed.status),
            ("m1", MediaStatus::Preparing)
        );
        let next = s.claim_probe("w2", 100, 200).await.unwrap().unwrap();
        assert_eq!(next.media_id, "m2");
        assert!(s.claim_probe("w2", 150, 250).await.unwrap().is_none());
        assert!(!s.renew_probe(ACCOUNT, "m1", "w2", 300).await.unwrap());
        assert!(s.renew_probe(ACCOUNT, "m1", "w1", 300).await.unwrap());
        // m2's lease ran out at 200: another worker takes it over.
        let taken_over = s.claim_probe("w3", 250, 400).await.unwrap().unwrap();
        assert_eq!(taken_over.media_id, "m2");
        assert_eq!(s.probe_queue_depth().await.unwrap(), 2);

        let mut probed = claimed.clone();
        probed.status = MediaStatus::Normal;
        probed.duration = Some(2.5);
        assert!(!s.finish_probe(&probed, "w2").await.unwrap());
        assert!(s.finish_probe(&probed, "w1").await.unwrap());
        let stored = s.media(ACCOUNT, "m1").await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.duration),
            (MediaStatus::Normal, Some(2.5))
        );
        assert_eq!(stored.reference_id.as_deref(), Some("ref"));

        // Overwrite: the named media goes in the same transaction.
        let mut replacement = media("m3", 3);
        replacement.location = m1.location.clone();
        s.insert_media(&replacement, Some("m1")).await.unwrap();
        assert!(s.media(ACCOUNT, "m1").await.unwrap().is_none());
        let deleted = s.delete_media(ACCOUNT, &["m2".into(), "m3".into()]).await;
        assert_eq!(deleted.unwrap().len(), 2);
        assert_eq!(s.probe_queue_depth().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn categories_templates_and_materials() {
    each_store(|s| async move {
        let root = |name: &str| Category {
            account_id: ACCOUNT.into(),
            cate_id: 0,
            cate_name: name.into(),
            parent_id: -1,
            level: 0,
            cate_type: CategoryType::Default,
            create_time: 1,
        };
        let CategoryInsert::Inserted(a) = s.insert_category(&root("a"), 1).await.unwrap() else {
            panic!("the first root category was refused");
        };
        assert_eq!(
            s.insert_category(&root("b"), 1).await.unwrap(),
            CategoryInsert::LevelFull
        );
        let child = Category {
            parent_id: a,
            level: 1,
            cate_name: "child".into(),
            ..root("")
        };
        let CategoryInsert::Inserted(kid) = s.insert_category(&child, 5).await.unwrap() else {
            panic!("the child category was refused");
        };
        let orphan = Category {
            parent_id: 999_999,
            ..child.clone()
        };
        assert_eq!(
            s.insert_category(&orphan, 5).await.unwrap(),
            CategoryInsert::ParentGone
        );
        let roots = s
            .child_categories(ACCOUNT, -1, CategoryType::Default, true, &Page::default())
            .await
            .unwrap();
        assert_eq!(roots.items.len(), 1);
        assert_eq!((roots.items[0].0.cate_id, roots.items[0].1), (a, 1));
        assert!(s.rename_category(ACCOUNT, kid, "renamed").await.unwrap());
        assert_eq!(
            s.category(ACCOUNT, kid).await.unwrap().unwrap().cate_name,
            "renamed"
        );
        assert!(s.delete_category(ACCOUNT, a).await.unwrap());
        assert!(s.category(ACCOUNT, kid).await.unwrap().is_none());

        let t = Template {
            account_id: ACCOUNT.into(),
            template_id: "t1".into(),
            name: "first template".into(),
            template_type: TemplateType::Timeline,
            config: Some("{}".into()),
            cover_url: None,
            preview_media: None,
            status: TemplateStatus::Available,
            create_source: Source::OpenAPI,
            modified_source: Source::OpenAPI,
            related_mediaids: None,
            create_time: 5,
            modified_time: 5,
        };
        s.insert_template(&t).await.unwrap();
        assert!(conflict(s.insert_template(&t).await));
        let renamed = Template {
            name: "second".into(),
            ..t.clone()
        };
        assert!(s.update_template(&renamed).await.unwrap());
        assert_eq!(s.template(ACCOUNT, "t1").await.unwrap().unwrap(), renamed);
        let q = TemplateQuery {
            template_type: None,
            status: None,
            create_source: None,
            keyword: Some("sec".into()),
            ascending: true,
            page: Page::default(),
        };
        assert_eq!(s.search_templates(ACCOUNT, &q).await.unwrap().total, 1);
        let gone = ["t1".to_string(), "t2".to_string()];
        assert_eq!(s.delete_templates(ACCOUNT, &gone).await.unwrap(), 1);
        assert!(!s.update_template(&renamed).await.unwrap());

        s.insert_project(&project("p1", 1), &[], &[]).await.unwrap();
        let links = [
            ("video".to_string(), "m1".to_string()),
            ("audio".to_string(), "m2".to_string()),
        ];
        s.add_materials(ACCOUNT, "p1", &links).await.unwrap();
        s.add_materials(ACCOUNT, "p1", &links[..1]).await.unwrap();
        assert_eq!(s.materials(ACCOUNT, "p1").await.unwrap().len(), 2);
        s.delete_materials(ACCOUNT, "p1", "video", &["m1".into()])
            .await
            .unwrap();
        assert_eq!(s.materials(ACCOUNT, "p1").await.unwrap(), links[1..]);
    })
    .await;
}

#[tokio::test]
async fn jobs_leases_and_outcomes() {
    each_store(|s| async move {
        s.insert_project(&project("p1", 1), &[], &[]).await.unwrap();
        let job = Job {
            account_id: ACCOUNT.into(),
            job_id: "j1".into(),
            project_id: "p1".into(),
            media_id: "out".into(),
            vod_media_id: None,
            media_url: "oss://bucket/out.mp4".into(),
            output_bucket: "bucket".into(),
            output_key: "out.mp4".into(),
            timeline: "{}".into(),
            template_id: None,
            clips_param: None,
            output_media_config: "{}".into(),
            media_metadata: None,
            editing_produce_config: None,
            user_data: None,
            source: None,
            client_token: Some("tok".into()),
            job_type: JobType::EditingJob,
            status: JobStatus::Init,
            code: None,
            message: None,
            progress: 0,
            duration: None,
            create_time: 10,
            modified_time: 10,
            complete_time: None,
        };
        s.insert_job(&job).await.unwrap();
        assert!(conflict(s.insert_job(&job).await));
        let status = s.project(ACCOUNT, "p1").await.unwrap().unwrap().status;
        assert_eq!(status, ProjectStatus::Producing);
        let by_token = s.job_by_client_token(ACCOUNT, "tok", 5).await.unwrap();
        assert_eq!(by_token.unwrap().job_id, "j1");
        assert!(
            s.job_by_client_token(ACCOUNT, "tok", 11)
                .await
                .unwrap()
                .is_none()
        );

        let claimed = s.claim_job("w1", 20, 100).await.unwrap().unwrap();
        assert_eq!(claimed.status, JobStatus::Queuing);
        assert!(s.claim_job("w2", 50, 150).await.unwrap().is_none());
        assert!(s.renew_job("j1", "w1", 200, 40).await.unwrap());
        assert!(s.renew_job("j1", "w1", 200, 10).await.unwrap());
        let renewed = s.job(ACCOUNT, "j1").await.unwrap().unwrap();
        assert_eq!(
            (renewed.status, renewed.progress),
            (JobStatus::Processing, 40)
        );
        assert_eq!(s.job_queue_depth().await.unwrap(), 1);

        let done = JobOutcome::Success { duration: 3.0 };
        assert!(!s.finish_job(&job, "w2", &done, 300, None).await.unwrap());
        assert!(s.finish_job(&job, "w1", &done, 300, None).await.unwrap());
        let finished = s.job(ACCOUNT, "j1").await.unwrap().unwrap();
        assert_eq!(
            (finished.status, finished.progress),
            (JobStatus::Success, 100)
        );
        let status = s.project(ACCOUNT, "p1").await.unwrap().unwrap().status;
        assert_eq!(status, ProjectStatus::Produced);
        assert_eq!(s.job_queue_depth().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn uploads_credentials_and_url_jobs() {
    each_store(|s| async move {
        let credential = UploadCredential {
            access_key_id: "STS.1".into(),
            secret: "secret".into(),
            security_token: "token".into(),
            account_id: ACCOUNT.into(),
            media_id: "m1".into(),
            bucket: "bucket".into(),
            object_key: "m1.mp4".into(),
            expire_time: 1_000_000,
        };
        s.insert_upload_credential(&credential).await.unwrap();
        assert_eq!(
            s.upload_credential("STS.1").await.unwrap(),
            Some(credential)
        );
        assert!(s.upload_credential("STS.2").await.unwrap().is_none());

        // A media whose upload has not arrived is not probed.
        s.insert_media(&media("m1", 1), None).await.unwrap();
        s.insert_pending_upload(ACCOUNT, "m1", "bucket", "m1.mp4")
            .await
            .unwrap();
        assert!(s.upload_pending(ACCOUNT, "m1").await.unwrap());
        assert!(s.claim_probe("w", 10, 20).await.unwrap().is_none());
        let finished = s.finish_pending_uploads("bucket", "m1.mp4").await.unwrap();
        assert_eq!(finished, [(ACCOUNT.to_string(), "m1".to_string())]);
        assert!(!s.upload_pending(ACCOUNT, "m1").await.unwrap());
        assert!(s.claim_probe("w", 10, 20).await.unwrap().is_some());

        let job = UrlUploadJob {
            job_id: "u1".into(),
            account_id: ACCOUNT.into(),
            media_id: "m1".into(),
            source_url: "https://example.com/a.mp4".into(),
            bucket: "bucket".into(),
            object_key: "a.mp4".into(),
            status: "Pending".into(),
            file_size: None,
            error_code: None,
            error_message: None,
            user_data: None,
            create_time: 1,
            complete_time: None,
        };
        s.insert_url_job(&job).await.unwrap();
        let claimed = s.claim_url_job().await.unwrap().unwrap();
        assert_eq!(
            (claimed.job_id.as_str(), claimed.status.as_str()),
            ("u1", "Processing")
        );
        assert!(s.claim_url_job().await.unwrap().is_none());
        assert_eq!(s.requeue_url_jobs().await.unwrap(), 1);
        let done = UrlUploadJob {
            status: "Success".into(),
            file_size: Some(42),
            complete_time: Some(5),
            ..job.clone()
        };
        s.finish_url_job(&done).await.unwrap();
        let by_url = s
            .url_jobs(ACCOUNT, std::slice::from_ref(&job.source_url), true)
            .await;
        assert_eq!(by_url.unwrap(), [done]);
    })
    .await;
}

/// A read sees this process's acknowledged writes at once, and another process's (a second
/// store on the same file or database, as the `account` CLI opens) within
/// `SNAPSHOT_MAX_AGE`; access keys at once.
#[tokio::test]
async fn reads_see_own_writes_at_once_and_others_soon() {
    for backend in backends() {
        eprintln!("=== backend: {backend:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = ScratchDatabase::new(backend).await;
        let server = open_with_account(&db, dir.path()).await;
        let other = openice::store::open(db.url.as_deref(), dir.path(), SyncMode::Normal)
            .await
            .expect("open the store a second time");

        // The reads before each write leave a snapshot that the next read could reuse.
        for n in 0..20 {
            let id = format!("own-{n}");
            assert!(server.project(ACCOUNT, &id).await.unwrap().is_none());
            server
                .insert_project(&project(&id, n), &[], &[])
                .await
                .unwrap();
            assert!(
                server.project(ACCOUNT, &id).await.unwrap().is_some(),
                "{id}"
            );
        }

        assert!(server.access_key("AK9").await.unwrap().is_none());
        other.insert_access_key(&key("AK9", ACCOUNT)).await.unwrap();
        assert!(server.access_key("AK9").await.unwrap().is_some());

        assert!(server.project(ACCOUNT, "theirs").await.unwrap().is_none());
        other
            .insert_project(&project("theirs", 100), &[], &[])
            .await
            .unwrap();
        let written = std::time::Instant::now();
        while server.project(ACCOUNT, "theirs").await.unwrap().is_none() {
            assert!(
                written.elapsed() < openice::store::SNAPSHOT_MAX_AGE * 2,
                "another process's write unseen after {:?}",
                written.elapsed()
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
