//! Hardening findings (issue 10) through the real binary, on both backends: replay after a
//! restart, fetch allow-list escapes, lost updates, category limits under concurrency.

mod common;

use common::*;
use time::OffsetDateTime;

async fn project_count(s: &Server) -> u64 {
    let found = s.ok("SearchEditingProject", &[("PageSize", "10")]).await;
    found["TotalCount"].as_u64().unwrap()
}

/// A signed request sent once and replayed after the server restarted on the same store is
/// refused; so is a request signed ahead of the server's clock (a fast client clock), which
/// the restart's time floor alone cannot catch. Clients with correct clocks are served at
/// once after the restart.
#[tokio::test]
async fn a_request_replayed_after_a_restart_is_refused() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();
        let params: &[(&str, &str)] = &[("Title", "once"), ("Timeline", &timeline_of(1.0))];
        // The restarted server listens on another port; a fixed signed host keeps V3 valid.
        let now = Call::new("CreateEditingProject", params, &key).sign_v3("ice.example.com");
        s.send(&now).await.ok();
        let ahead = Call::new("CreateEditingProject", params, &key)
            .at(OffsetDateTime::now_utc() + time::Duration::seconds(60))
            .sign_v2(&host);
        s.send(&ahead).await.ok();
        s.send(&ahead).await.err(400, "SignatureNonceUsed");
        assert_eq!(project_count(&s).await, 2);

        s.restart().await;
        let host = s.host();
        let fresh = Call::new("GetEditingProject", &[("ProjectId", "none")], &key);
        s.send(&fresh.sign_v3(&host))
            .await
            .err(404, "ProjectNotFound");
        s.send(&now).await.err(400, "InvalidTimeStamp.Expired");
        s.send(&ahead).await.err(400, "SignatureNonceUsed");
        assert_eq!(project_count(&s).await, 2);
    })
    .await;
}
