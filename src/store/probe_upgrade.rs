//! A data migration run when a store opens (after the SQL migrations): media rows whose
//! `probe` holds format 1 (the vendor's wire view, PascalCase and all strings) are rewritten
//! in format 2 (media/probe/facts.rs). Converting JSON shapes in SQL would be two long,
//! engine-specific scripts; this reads the rows in key order, a batch at a time, and
//! rewrites each only if it still holds the text read (a concurrent writer wins).
//!
//! The setting `probe_format` records a finished pass, so later opens skip the scan. A
//! restore replaces the settings with the dump's: an older dump has no marker, and the next
//! open converts the rows it brought. A row that is neither format is logged with its media
//! ID and left as it is (the API then answers that media without probe fields, as it
//! always did for a probe it could not read); the pass still counts as done.

use crate::media::probe::{FORMAT, ProbeResult, legacy};

use super::PUT_SETTING;

/// The setting that records the format every readable row is in.
const SETTING: &str = "probe_format";

/// Rows read and rewritten per transaction.
const BATCH: i64 = 500;

const GET_SETTING: &str = "SELECT value FROM settings WHERE name = $1";

/// Rows after key (`$1`, `$2`) whose probe does not start as format 2 text does (`$3`).
const STALE: &str = "SELECT account_id, media_id, probe FROM media \
     WHERE probe IS NOT NULL AND probe NOT LIKE $3 \
     AND (account_id > $1 OR (account_id = $1 AND media_id > $2)) \
     ORDER BY account_id, media_id LIMIT $4";

const REPLACE: &str =
    "UPDATE media SET probe = $4 WHERE account_id = $1 AND media_id = $2 AND probe = $3";

/// How current stored text begins (`to_stored` writes `"v"` first, compact).
fn current_prefix() -> String {
    format!("{{\"v\":{FORMAT},")
}

/// What to do with one stored probe.
#[derive(Debug, PartialEq)]
enum Step {
    Keep,
    Rewrite(String),
    Unreadable(String),
}

fn step(text: &str) -> Step {
    if ProbeResult::from_stored(text).is_ok() {
        return Step::Keep;
    }
    match legacy::from_v1(text) {
        Ok(facts) => Step::Rewrite(facts.to_stored()),
        Err(why) => Step::Unreadable(why),
    }
}

/// Generates the pass for one engine's sqlx pool (the SQL is the same on both).
macro_rules! upgrade_pass {
    ($name:ident, $pool:ty) => {
        pub(super) async fn $name(pool: &$pool) -> super::StoreResult<()> {
            let done: Option<String> = sqlx::query_scalar(GET_SETTING)
                .bind(SETTING)
                .fetch_optional(pool)
                .await?;
            if done == Some(FORMAT.to_string()) {
                return Ok(());
            }
            let not_current = format!("{}%", current_prefix());
            let (mut account, mut media) = (String::new(), String::new());
            let (mut rewritten, mut unreadable) = (0u64, 0u64);
            loop {
                let rows: Vec<(String, String, String)> = sqlx::query_as(STALE)
                    .bind(&account)
                    .bind(&media)
                    .bind(&not_current)
                    .bind(BATCH)
                    .fetch_all(pool)
                    .await?;
                let Some((last_account, last_media, _)) = rows.last() else {
                    break;
                };
                (account, media) = (last_account.clone(), last_media.clone());
                let mut tx = pool.begin().await?;
                for (account_id, media_id, text) in &rows {
                    match step(text) {
                        Step::Keep => {}
                        Step::Rewrite(new) => {
                            sqlx::query(REPLACE)
                                .bind(account_id)
                                .bind(media_id)
                                .bind(text)
                                .bind(new)
                                .execute(&mut *tx)
                                .await?;
                            rewritten += 1;
                        }
                        Step::Unreadable(error) => {
                            tracing::warn!(
                                %account_id, %media_id, %error,
                                "stored probe is in no known format; left as it is"
                            );
                            unreadable += 1;
                        }
                    }
                }
                tx.commit().await?;
            }
            sqlx::query(PUT_SETTING)
                .bind(SETTING)
                .bind(FORMAT.to_string())
                .execute(pool)
                .await?;
            if rewritten + unreadable > 0 {
                tracing::info!(rewritten, unreadable, "stored probes upgraded to format {FORMAT}");
            }
            Ok(())
        }
    };
}

upgrade_pass!(sqlite, sqlx::SqlitePool);
upgrade_pass!(postgres, sqlx::PgPool);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_rewritten_or_left_unreadable() {
        let v1 = r#"{"media_type":"audio","file":{"Duration":"3.000000"},"video_streams":[],"audio_streams":[{"Index":"0","SampleRate":"44100"}],"subtitle_streams":[]}"#;
        let Step::Rewrite(v2) = step(v1) else {
            panic!("format 1 is rewritten")
        };
        assert_eq!(
            v2,
            r#"{"v":2,"media_type":"audio","file":{"duration":"3.000000"},"video_streams":[],"audio_streams":[{"index":0,"sample_rate":44100}],"subtitle_streams":[]}"#
        );
        // The SQL's prefix test matches what `to_stored` writes.
        assert!(v2.starts_with(&current_prefix()));
        assert_eq!(step(&v2), Step::Keep);
        // Format 2 text spelled differently is recognised by parsing, not by its prefix.
        assert_eq!(step(&v2.replace("{\"v\":2,", "{ \"v\": 2, ")), Step::Keep);
        assert!(matches!(step("{\"v\":3}"), Step::Unreadable(_)));
        assert!(matches!(step("{truncated"), Step::Unreadable(_)));
    }
}
