//! Editing projects through signed HTTP: round trips, tenant isolation and stable paging.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

fn ids(list: &Value) -> Vec<String> {
    list["ProjectList"]
        .as_array()
        .unwrap_or_else(|| panic!("no ProjectList in {list}"))
        .iter()
        .map(|p| p["ProjectId"].as_str().expect("ProjectId").to_string())
        .collect()
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_vendor_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let timeline = timeline_of(4.5);

        // Create with a timeline: Editing (2), integer Status plus StatusName.
        let created = s
            .ok(
                "CreateEditingProject",
                &[
                    ("Title", "My project & more"),
                    ("Description", "first, draft"),
                    ("CoverURL", "https://example.com/c.png"),
                    ("Timeline", &timeline),
                ],
            )
            .await;
        let p = &created["Project"];
        let id = project_id(&created);
        assert!(is_hex32(&id), "{id}");
        assert_eq!(p["Title"], "My project & more");
        assert_eq!(p["Description"], "first, draft");
        assert_eq!(p["CoverURL"], "https://example.com/c.png");
        assert_eq!(p["Timeline"], timeline.as_str());
        assert_eq!(p["Status"], 2, "{p}");
        assert_eq!(p["StatusName"], "Editing");
        assert_eq!(p["Duration"].as_f64(), Some(4.5), "{p}");
        assert_eq!(p["CreateSource"], "OpenAPI");
        assert_eq!(p["ModifiedSource"], "OpenAPI");
        assert_eq!(p["ProjectType"], "EditingProject");
        assert!(p.get("TemplateType").is_none(), "{p}");
        let create_time = p["CreateTime"].as_str().unwrap().to_string();
        assert!(is_vendor_time(&create_time), "{create_time}");
        assert_eq!(p["ModifiedTime"], create_time.as_str());

        // Without a timeline: Draft (1), Duration 0.
        let draft = s.ok("CreateEditingProject", &[("Title", "draft")]).await;
        assert_eq!(draft["Project"]["Status"], 1);
        assert_eq!(draft["Project"]["StatusName"], "Draft");
        assert_eq!(draft["Project"]["Duration"].as_f64(), Some(0.0));
        let draft_id = project_id(&draft);

        // Get: Status is a string, no StatusName, same content.
        let got = s.ok("GetEditingProject", &[("ProjectId", &id)]).await;
        let g = &got["Project"];
        assert_eq!(g["ProjectId"], id.as_str());
        assert_eq!(g["Title"], "My project & more");
        assert_eq!(g["Description"], "first, draft");
        assert_eq!(g["Timeline"], timeline.as_str());
        assert_eq!(g["Status"], "Editing");
        assert!(g.get("StatusName").is_none(), "{g}");
        assert_eq!(g["Duration"].as_f64(), Some(4.5));
        assert_eq!(g["CreateTime"], create_time.as_str());
        assert!(g.get("TimelineConvertStatus").is_none(), "{g}");
        let web = s
            .ok(
                "GetEditingProject",
                &[("ProjectId", &id), ("RequestSource", "WebSDK")],
            )
            .await;
        assert_eq!(
            web["Project"]["TimelineConvertStatus"], "Converted",
            "{web}"
        );
        let drafts = s.ok("SearchEditingProject", &[("Status", "Draft")]).await;
        assert_eq!(ids(&drafts), vec![draft_id.clone()], "{drafts}");
        let editing = s.ok("ListEditingProjects", &[("Status", "Editing")]).await;
        assert_eq!(ids(&editing), vec![id.clone()], "{editing}");

        // Update: title and timeline change, ModifiedTime moves on, Description= empties.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let new_timeline = timeline_of(7.25);
        let updated = s
            .ok(
                "UpdateEditingProject",
                &[
                    ("ProjectId", &id),
                    ("Title", "Renamed ü"),
                    ("Description", ""),
                    ("Timeline", &new_timeline),
                ],
            )
            .await;
        assert_eq!(
            updated.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["RequestId"],
            "{updated}"
        );
        let g = s.ok("GetEditingProject", &[("ProjectId", &id)]).await["Project"].clone();
        assert_eq!(g["Title"], "Renamed ü");
        assert_eq!(g["Description"], "");
        assert_eq!(g["Timeline"], new_timeline.as_str());
        assert_eq!(g["Duration"].as_f64(), Some(7.25));
        assert_eq!(g["CreateTime"], create_time.as_str());
        assert!(
            g["ModifiedTime"].as_str().unwrap() > create_time.as_str(),
            "ModifiedTime must change on update: {g}"
        );
        assert_eq!(g["ModifiedSource"], "OpenAPI");

        // Omitted parameters stay as they are.
        s.ok(
            "UpdateEditingProject",
            &[
                ("ProjectId", &id),
                ("CoverURL", "https://example.com/d.png"),
            ],
        )
        .await;
        let g = s.ok("GetEditingProject", &[("ProjectId", &id)]).await["Project"].clone();
        assert_eq!(g["Title"], "Renamed ü");
        assert_eq!(g["CoverURL"], "https://example.com/d.png");
        assert_eq!(g["Timeline"], new_timeline.as_str());

        // Title= is refused; Timeline= is the empty timeline (Duration 0).
        let r = s
            .call(
                "UpdateEditingProject",
                &[("ProjectId", &id), ("Title", "")],
                &key,
            )
            .await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("Title"), "{}", r.message());
        s.ok(
            "UpdateEditingProject",
            &[("ProjectId", &id), ("Timeline", "")],
        )
        .await;
        let g = s.ok("GetEditingProject", &[("ProjectId", &id)]).await["Project"].clone();
        assert_eq!(g["Duration"].as_f64(), Some(0.0), "{g}");
        assert_eq!(g["Title"], "Renamed ü");

        // Invalid timelines are refused.
        for bad in [
            "not json",
            "[1,2]",
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"m","In":5,"Out":2}]}]}"#,
        ] {
            let r = s
                .call(
                    "CreateEditingProject",
                    &[("Title", "bad"), ("Timeline", bad)],
                    &key,
                )
                .await;
            r.err(400, "InvalidParameter");
            assert!(r.message().contains("Timeline"), "{bad}: {}", r.message());
        }

        // Unknown projects.
        s.call(
            "GetEditingProject",
            &[("ProjectId", "0123456789abcdef0123456789abcdef")],
            &key,
        )
        .await
        .err(404, "ProjectNotFound");
        s.call(
            "UpdateEditingProject",
            &[
                ("ProjectId", "0123456789abcdef0123456789abcdef"),
                ("Title", "x"),
            ],
            &key,
        )
        .await
        .err(404, "ProjectNotFound");

        // Search and List see both projects.
        let found = s.ok("SearchEditingProject", &[]).await;
        assert_eq!(found["TotalCount"], 2, "{found}");
        let mut seen = ids(&found);
        seen.sort();
        let mut want = vec![id.clone(), draft_id.clone()];
        want.sort();
        assert_eq!(seen, want);
        for item in found["ProjectList"].as_array().unwrap() {
            assert!(item["Status"].is_string(), "{item}");
            assert!(item.get("TemplateId").is_none() && item.get("ClipsParam").is_none());
        }
        let listed = s.ok("ListEditingProjects", &[]).await;
        assert_eq!(ids(&listed).len(), 2, "{listed}");
        for item in listed["ProjectList"].as_array().unwrap() {
            assert!(
                item.get("Timeline").is_none() && item.get("Duration").is_none(),
                "{item}"
            );
        }
        // Status filter: both are Draft now that the first one's timeline is empty.
        let drafts = s.ok("SearchEditingProject", &[("Status", "Draft")]).await;
        assert_eq!(drafts["TotalCount"], 2, "{drafts}");
        let editing = s.ok("SearchEditingProject", &[("Status", "Editing")]).await;
        assert!(ids(&editing).is_empty(), "{editing}");
        // Keyword finds by title.
        let kw = s.ok("ListEditingProjects", &[("Keyword", "Renamed")]).await;
        assert_eq!(ids(&kw), vec![id.clone()], "{kw}");

        // Delete two (one unknown ID among them: ignored); both are gone everywhere.
        s.ok(
            "DeleteEditingProjects",
            &[(
                "ProjectIds",
                &format!("{id},ffffffffffffffffffffffffffffffff,{draft_id}"),
            )],
        )
        .await;
        for gone in [&id, &draft_id] {
            s.call("GetEditingProject", &[("ProjectId", gone)], &key)
                .await
                .err(404, "ProjectNotFound");
            s.call(
                "UpdateEditingProject",
                &[("ProjectId", gone), ("Title", "zombie")],
                &key,
            )
            .await
            .err(404, "ProjectNotFound");
        }
        let found = s.ok("SearchEditingProject", &[]).await;
        assert_eq!(found["TotalCount"], 0, "{found}");
        assert!(ids(&found).is_empty());
        assert!(ids(&s.ok("ListEditingProjects", &[]).await).is_empty());
        // Deleting again is a no-op.
        s.ok("DeleteEditingProjects", &[("ProjectIds", &id)]).await;
        let r = s.call("DeleteEditingProjects", &[], &key).await;
        r.err(400, "MissingParameter");
        assert!(r.message().contains("ProjectIds"), "{}", r.message());
    })
    .await;
}

#[tokio::test]
async fn accounts_are_isolated() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let a = s.key();
        let a_project = project_id(
            &s.ok(
                "CreateEditingProject",
                &[
                    ("Title", "A's secret plan"),
                    ("Timeline", &timeline_of(3.0)),
                ],
            )
            .await,
        );

        // A second account, created with the CLI while the server runs.
        let (b_account, bk) = s.create_account("b").await;
        assert_eq!(b_account.len(), 16, "{b_account}");
        assert!(b_account.bytes().all(|c| c.is_ascii_digit()));
        let b_project = project_id(
            &s.call("CreateEditingProject", &[("Title", "B's plan")], &bk)
                .await
                .ok()
                .clone(),
        );

        // B cannot see, change or delete A's project (and vice versa).
        s.call("GetEditingProject", &[("ProjectId", &a_project)], &bk)
            .await
            .err(404, "ProjectNotFound");
        s.call(
            "UpdateEditingProject",
            &[("ProjectId", &a_project), ("Title", "hijacked")],
            &bk,
        )
        .await
        .err(404, "ProjectNotFound");
        s.call("GetEditingProject", &[("ProjectId", &b_project)], &a)
            .await
            .err(404, "ProjectNotFound");

        let found = s.call("SearchEditingProject", &[], &bk).await;
        assert_eq!(ids(found.ok()), vec![b_project.clone()]);
        assert_eq!(found.json["TotalCount"], 1);
        let listed = s.call("ListEditingProjects", &[], &bk).await;
        assert_eq!(ids(listed.ok()), vec![b_project.clone()]);
        let kw = s
            .call("ListEditingProjects", &[("Keyword", &a_project)], &bk)
            .await;
        assert!(ids(kw.ok()).is_empty(), "{}", kw.text);
        let kw = s
            .call("ListEditingProjects", &[("Keyword", "secret")], &bk)
            .await;
        assert!(ids(kw.ok()).is_empty(), "{}", kw.text);

        // B deleting A's ID: silent success, A's project survives untouched.
        s.call("DeleteEditingProjects", &[("ProjectIds", &a_project)], &bk)
            .await
            .ok();
        let g = s
            .ok("GetEditingProject", &[("ProjectId", &a_project)])
            .await;
        assert_eq!(g["Project"]["Title"], "A's secret plan");
        assert_eq!(g["Project"]["Duration"].as_f64(), Some(3.0));
        let found = s.ok("SearchEditingProject", &[]).await;
        assert_eq!(ids(&found), vec![a_project.clone()]);
        assert_eq!(found["TotalCount"], 1);

        // A NextToken is bound to its account: B cannot use A's.
        for i in 0..3 {
            s.ok("CreateEditingProject", &[("Title", &format!("more {i}"))])
                .await;
        }
        let page = s.ok("ListEditingProjects", &[("MaxResults", "1")]).await;
        let token = page["NextToken"].as_str().expect("NextToken").to_string();
        let r = s
            .call(
                "ListEditingProjects",
                &[("MaxResults", "1"), ("NextToken", &token)],
                &bk,
            )
            .await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("NextToken"), "{}", r.message());
    })
    .await;
}

/// Walks ListEditingProjects with `MaxResults=7`; returns IDs in order and the page sizes.
async fn walk(s: &Server, sort: &str) -> (Vec<String>, Vec<usize>) {
    let mut out = Vec::new();
    let mut sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params: Vec<(&str, &str)> = vec![("MaxResults", "7"), ("SortBy", sort)];
        if let Some(t) = &token {
            params.push(("NextToken", t));
        }
        let page = s.ok("ListEditingProjects", &params).await;
        assert_eq!(page["MaxResults"], 7, "{page}");
        assert!(page.get("TotalCount").is_none(), "{page}");
        let page_ids = ids(&page);
        sizes.push(page_ids.len());
        out.extend(page_ids);
        match page["NextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
        assert!(sizes.len() < 50, "paging does not end");
    }
    (out, sizes)
}

#[tokio::test]
async fn paging_is_stable_and_complete() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let n = 25;
        let mut created = Vec::new();
        for i in 0..n {
            let v = s
                .ok(
                    "CreateEditingProject",
                    &[("Title", &format!("project {i:02}"))],
                )
                .await;
            created.push(project_id(&v));
        }

        // Token paging, newest first and oldest first.
        let (desc, sizes) = walk(&s, "CreationTime:Desc").await;
        assert_eq!(sizes, vec![7, 7, 7, 4], "{desc:?}");
        let mut newest_first = created.clone();
        newest_first.reverse();
        assert_eq!(desc, newest_first);
        let (asc, sizes) = walk(&s, "CreationTime:Asc").await;
        assert_eq!(sizes, vec![7, 7, 7, 4]);
        assert_eq!(asc, created);
        // The default order is newest first.
        let first = s.ok("ListEditingProjects", &[("MaxResults", "7")]).await;
        assert_eq!(ids(&first), newest_first[..7].to_vec());

        // A walk interrupted by writes still returns every original project exactly once.
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut extra = Vec::new();
        loop {
            let mut params: Vec<(&str, &str)> =
                vec![("MaxResults", "7"), ("SortBy", "CreationTime:Desc")];
            if let Some(t) = &token {
                params.push(("NextToken", t));
            }
            let page = s.ok("ListEditingProjects", &params).await;
            seen.extend(ids(&page));
            // Newer projects appear at the front of a newest-first order: not on later pages.
            extra.push(project_id(
                &s.ok("CreateEditingProject", &[("Title", "interloper")])
                    .await,
            ));
            match page["NextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        assert_eq!(seen, newest_first, "a concurrent insert disturbed the walk");
        s.ok("DeleteEditingProjects", &[("ProjectIds", &extra.join(","))])
            .await;

        // A token is bound to its sort order.
        let page = s
            .ok(
                "ListEditingProjects",
                &[("MaxResults", "7"), ("SortBy", "CreationTime:Asc")],
            )
            .await;
        let token = page["NextToken"].as_str().unwrap().to_string();
        let r = s
            .call(
                "ListEditingProjects",
                &[
                    ("MaxResults", "7"),
                    ("SortBy", "CreationTime:Desc"),
                    ("NextToken", &token),
                ],
                &key,
            )
            .await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("NextToken"), "{}", r.message());
        let r = s
            .call(
                "ListEditingProjects",
                &[("NextToken", "garbage-token")],
                &key,
            )
            .await;
        r.err(400, "InvalidParameter");

        // Page numbers: PageSize 10 over 25 → 10, 10, 5, then empty; TotalCount always 25.
        for (sort, order) in [
            ("CreationTime:Desc", &newest_first),
            ("CreationTime:Asc", &created),
        ] {
            let mut all = Vec::new();
            for (page_no, want) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
                let page = s
                    .ok(
                        "SearchEditingProject",
                        &[
                            ("PageNo", &page_no.to_string()),
                            ("PageSize", "10"),
                            ("SortBy", sort),
                        ],
                    )
                    .await;
                assert_eq!(page["TotalCount"], 25, "{page}");
                assert_eq!(page["MaxResults"], 10, "{page}");
                let page_ids = ids(&page);
                assert_eq!(page_ids.len(), want, "page {page_no} {sort}: {page}");
                all.extend(page_ids);
            }
            assert_eq!(&all, order, "{sort}");
            let unique: HashSet<&String> = all.iter().collect();
            assert_eq!(unique.len(), n);
        }
        // Defaults: PageNo 1, PageSize 10, newest first.
        let page = s.ok("SearchEditingProject", &[]).await;
        assert_eq!(ids(&page), newest_first[..10].to_vec());
        assert_eq!(page["TotalCount"], 25);

        // After deletes the walk shrinks accordingly and stays gap-free.
        let doomed: Vec<String> = created.iter().step_by(4).cloned().collect();
        s.ok(
            "DeleteEditingProjects",
            &[("ProjectIds", &doomed.join(","))],
        )
        .await;
        let remaining: Vec<String> = created
            .iter()
            .filter(|id| !doomed.contains(id))
            .cloned()
            .collect();
        let (asc, _) = walk(&s, "CreationTime:Asc").await;
        assert_eq!(asc, remaining);
        let page = s.ok("SearchEditingProject", &[("PageSize", "100")]).await;
        assert_eq!(page["TotalCount"], remaining.len());
    })
    .await;
}

/// TotalCount follows every kind of write: creates of both project types, updates that
/// change the status (a timeline makes a Draft an Editing project and back), deletes, a
/// restart; filters the store answers from its counters (type, status) and ones it counts
/// rows for (time) agree with a model, and another account sees none of it.
#[tokio::test]
async fn total_counts_follow_every_write() {
    const LIVE_CONFIG: &str = r#"{"OutputMediaConfig":{"StorageLocation":"test-bucket.oss-cn-shanghai.aliyuncs.com","Path":"p"},"OutputMediaTarget":"oss-object","ReservationTime":"2021-06-21T08:05:00Z"}"#;
    const TIMELINE: &str = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"https://example.com/a.mp4","Out":3}]}]}"#;
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let (_, other) = s.create_account("counts-other").await;
        // (id, live, editing) of every live project.
        let mut model: Vec<(String, bool, bool)> = Vec::new();
        let check = |model: Vec<(String, bool, bool)>| {
            let s = &s;
            let other = other.clone();
            async move {
                let count = |live: bool, status: Option<bool>| {
                    model
                        .iter()
                        .filter(|(_, l, e)| *l == live && status.is_none_or(|want| *e == want))
                        .count() as u64
                };
                let cases: [(&[(&str, &str)], u64); 7] = [
                    (&[], count(false, None)),
                    (&[("Status", "Draft")], count(false, Some(false))),
                    (&[("Status", "Editing")], count(false, Some(true))),
                    (&[("Status", "Draft,Editing")], count(false, None)),
                    (&[("ProjectType", "LiveEditingProject")], count(true, None)),
                    (&[("StartTime", "2020-01-01T00:00:00Z")], count(false, None)),
                    (
                        &[("StartTime", "2020-01-01T00:00:00Z"), ("Status", "Editing")],
                        count(false, Some(true)),
                    ),
                ];
                for (params, want) in cases {
                    let found = s.ok("SearchEditingProject", params).await;
                    assert_eq!(
                        found["TotalCount"].as_u64(),
                        Some(want),
                        "{params:?}: {found}"
                    );
                    let theirs = s.call("SearchEditingProject", params, &other).await;
                    assert_eq!(theirs.ok()["TotalCount"], 0, "{params:?}");
                }
            }
        };
        for i in 0..12 {
            let live = i % 4 == 3;
            let editing = i % 3 == 0;
            let mut params = vec![("Title", "counted")];
            if live {
                params.extend([
                    ("ProjectType", "LiveEditingProject"),
                    ("BusinessConfig", LIVE_CONFIG),
                ]);
            }
            if editing {
                params.push(("Timeline", TIMELINE));
            }
            let created = s.ok("CreateEditingProject", &params).await;
            let id = created["Project"]["ProjectId"]
                .as_str()
                .unwrap()
                .to_string();
            model.push((id, live, editing));
        }
        check(model.clone()).await;
        // Status changes both ways.
        for (id, live, editing) in model.iter_mut().filter(|(_, live, _)| !*live).take(5) {
            let timeline = if *editing { "" } else { TIMELINE };
            s.ok(
                "UpdateEditingProject",
                &[("ProjectId", id), ("Timeline", timeline)],
            )
            .await;
            *editing = !*editing;
            assert!(!*live);
        }
        check(model.clone()).await;
        // Deletes of both types, with an unknown ID and a repeat.
        let gone: Vec<String> = model.iter().step_by(3).map(|(id, ..)| id.clone()).collect();
        let mut ids = gone.clone();
        ids.push("ffffffffffffffffffffffffffffffff".into());
        s.ok("DeleteEditingProjects", &[("ProjectIds", &ids.join(","))])
            .await;
        s.ok("DeleteEditingProjects", &[("ProjectIds", &gone[0])])
            .await;
        model.retain(|(id, ..)| !gone.contains(id));
        check(model.clone()).await;
        s.restart().await;
        check(model.clone()).await;
        if let Some(url) = &s.database_url {
            // PostgreSQL folds its +1/-1 count rows soon after start: one per (account,
            // type, status).
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            loop {
                let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM project_count_deltas")
                    .fetch_one(&mut conn)
                    .await
                    .expect("count delta rows");
                if (1..=4).contains(&rows) {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{rows} count rows 15 s after start"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let _ = conn.close().await;
        }
        // Writes after the fold still count.
        let gone = model.remove(0).0;
        s.ok("DeleteEditingProjects", &[("ProjectIds", &gone)])
            .await;
        check(model.clone()).await;
    })
    .await;
}

/// A timeline referencing more media than one multi-row INSERT takes is stored whole.
#[tokio::test]
async fn timelines_with_many_media_are_stored() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let clips: Vec<String> = (0..901)
            .map(|i| format!(r#"{{"MediaId":"{i:032x}","Out":1}}"#))
            .collect();
        let timeline = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
            clips.join(",")
        );
        let created = s
            .ok(
                "CreateEditingProject",
                &[("Title", "many"), ("Timeline", &timeline)],
            )
            .await;
        let id = created["Project"]["ProjectId"]
            .as_str()
            .unwrap()
            .to_string();
        s.ok(
            "UpdateEditingProject",
            &[("ProjectId", &id), ("Timeline", &timeline)],
        )
        .await;
        let got = s.ok("GetEditingProject", &[("ProjectId", &id)]).await;
        assert_eq!(got["Project"]["Timeline"], timeline.as_str());
        assert_eq!(got["Project"]["Duration"], 901.0);
    })
    .await;
}
