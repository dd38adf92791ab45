//! Every log line knows its request or job: with `--log-format json`, an error of ours is
//! logged once, at `error`, in the span of the request that met it (RequestId, action,
//! account) with its source chain; a probe's lines carry the media ID.

mod common;

use common::{Backend, ServerOptions, for_each_backend};
use serde_json::Value;

/// The JSON log lines of the server so far.
fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Renames a table under the running server, so that actions reading it fail in the store.
async fn break_table(s: &common::Server, table: &str) {
    use sqlx::{Connection, Executor};
    let sql = format!("ALTER TABLE {table} RENAME TO {table}_gone");
    match s.backend {
        Backend::Sqlite => {
            let path = s.data_dir().join("openice.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open the SQLite store");
            conn.execute(sqlx::AssertSqlSafe(sql))
                .await
                .expect("rename");
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let url = s.database_url.as_deref().expect("database URL");
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .expect("connect to the PostgreSQL store");
            conn.execute(sqlx::AssertSqlSafe(sql))
                .await
                .expect("rename");
            let _ = conn.close().await;
        }
    }
    // The server's readers may use their snapshot for this long before they see another
    // process's change.
    tokio::time::sleep(openice::store::SNAPSHOT_MAX_AGE).await;
}

#[tokio::test]
async fn a_store_failure_is_logged_once_with_the_request_id_the_client_got() {
    for_each_backend(|b| async move {
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--log-format".into(), "json".into()];
        let s = options.spawn().await;
        s.ok("ListTemplates", &[]).await;
        break_table(&s, "templates").await;

        let r = s.call("ListTemplates", &[], &s.key()).await;
        r.err(500, "InternalError");
        let rid = r.json["RequestId"].as_str().expect("RequestId").to_string();
        assert!(
            s.wait_for_log(&rid).await.is_some(),
            "{rid} not logged:\n{}",
            s.logs()
        );
        let lines = json_lines(&s.logs());
        let of_request: Vec<&Value> = lines
            .iter()
            .filter(|l| l["span"]["request_id"] == rid.as_str())
            .collect();
        let errors: Vec<&&Value> = of_request
            .iter()
            .filter(|l| l["level"] == "ERROR")
            .collect();
        assert_eq!(errors.len(), 1, "one error line for {rid}: {of_request:#?}");
        let line = errors[0];
        assert_eq!(line["span"]["action"], "ListTemplates", "{line}");
        assert!(
            line["span"]["account"]
                .as_str()
                .is_some_and(|a| !a.is_empty()),
            "{line}"
        );
        assert_eq!(line["fields"]["status"], 500, "{line}");
        // The store's own words come with it (the source chain).
        let error = line["fields"]["error"].as_str().unwrap_or_default();
        assert!(error.contains("templates"), "no source chain: {line}");
        // No line of ours about it lacks the request.
        let unattributed: Vec<&Value> = lines
            .iter()
            .filter(|l| l["level"] == "ERROR" && l["span"]["request_id"].is_null())
            .collect();
        assert!(unattributed.is_empty(), "{unattributed:#?}");
    })
    .await;
}

#[tokio::test]
async fn a_probe_logs_in_the_span_of_its_media() {
    for_each_backend(|b| async move {
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--log-format".into(), "json".into()];
        let s = options.spawn().await;
        // No object behind the URL: the probe fails.
        let id = s
            .ok(
                "RegisterMediaInfo",
                &[("InputURL", "oss://logs-bucket/missing.mp4")],
            )
            .await["MediaId"]
            .as_str()
            .expect("MediaId")
            .to_string();
        let info = s.probed(&id).await;
        assert_eq!(info["MediaInfo"]["MediaBasicInfo"]["Status"], "PrepareFail");
        let lines = json_lines(&s.logs());
        let failed = lines
            .iter()
            .find(|l| l["fields"]["message"] == "probe failed")
            .unwrap_or_else(|| panic!("no probe failure logged:\n{}", s.logs()));
        assert_eq!(failed["span"]["media_id"], id.as_str(), "{failed}");
        assert_eq!(failed["span"]["name"], "probe", "{failed}");
    })
    .await;
}
