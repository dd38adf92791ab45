//! Rows read into the row structs both engines decode the same way (`TryFrom` in
//! store/mod.rs and store/jobs.rs). Each list of fields follows its `…_COLUMNS` constant.

use rusqlite::Row;
use rusqlite::types::{ToSql, ToSqlOutput};

use crate::store::jobs::{DeliveryRow, EventCallbackRow, JobRow};
use crate::store::{
    AccessKeyRow, AccountRow, Bind, CategoryRow, MediaRow, ProjectRow, TemplateRow,
};

/// Reads the fields of `$ty` from columns 0, 1, … in the order listed.
macro_rules! from_columns {
    ($row:expr, $ty:ident { $($field:ident),* $(,)? }) => {{
        let row: &Row<'_> = $row;
        let mut column = 0usize;
        Ok($ty {
            $($field: {
                column += 1;
                row.get(column - 1)?
            },)*
        })
    }};
}

/// `PROJECT_COLUMNS` (or `PROJECT_SUMMARY_COLUMNS`).
pub(super) fn project(r: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    from_columns!(
        r,
        ProjectRow {
            account_id,
            project_id,
            title,
            description,
            timeline,
            template_id,
            clips_param,
            cover_url,
            status,
            create_time,
            modified_time,
            duration,
            create_source,
            modified_source,
            template_type,
            project_type,
            business_config,
            business_status,
        }
    )
}

/// `MEDIA_COLUMNS`.
pub(super) fn media(r: &Row<'_>) -> rusqlite::Result<MediaRow> {
    from_columns!(
        r,
        MediaRow {
            account_id,
            media_id,
            input_url,
            location,
            media_type,
            business_type,
            source,
            title,
            description,
            category,
            cate_id,
            media_tags,
            cover_url,
            user_data,
            reference_id,
            status,
            create_time,
            modified_time,
            probe,
            duration,
            file_size,
            client_token,
            need_snapshot,
        }
    )
}

/// `CATEGORY_COLUMNS`.
pub(super) fn category(r: &Row<'_>) -> rusqlite::Result<CategoryRow> {
    from_columns!(
        r,
        CategoryRow {
            account_id,
            cate_id,
            cate_name,
            parent_id,
            level,
            cate_type,
            create_time,
        }
    )
}

/// `TEMPLATE_COLUMNS`.
pub(super) fn template(r: &Row<'_>) -> rusqlite::Result<TemplateRow> {
    from_columns!(
        r,
        TemplateRow {
            account_id,
            template_id,
            name,
            template_type,
            config,
            cover_url,
            preview_media,
            status,
            create_source,
            modified_source,
            related_mediaids,
            create_time,
            modified_time,
        }
    )
}

/// `access_key_id, account_id, secret, enabled`.
pub(super) fn access_key(r: &Row<'_>) -> rusqlite::Result<AccessKeyRow> {
    from_columns!(
        r,
        AccessKeyRow {
            access_key_id,
            account_id,
            secret,
            enabled
        }
    )
}

/// `account_id, name, create_time`.
pub(super) fn account(r: &Row<'_>) -> rusqlite::Result<AccountRow> {
    from_columns!(
        r,
        AccountRow {
            account_id,
            name,
            create_time
        }
    )
}

/// The jobs' `JOB_COLUMNS`.
pub(super) fn job(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    from_columns!(
        r,
        JobRow {
            account_id,
            job_id,
            project_id,
            media_id,
            vod_media_id,
            media_url,
            output_bucket,
            output_key,
            timeline,
            template_id,
            clips_param,
            output_media_config,
            media_metadata,
            editing_produce_config,
            user_data,
            source,
            client_token,
            job_type,
            status,
            code,
            message,
            progress,
            duration,
            create_time,
            modified_time,
            complete_time,
        }
    )
}

/// `account_id, callback_type, callback_url, callback_queue_name, event_types,
/// auth_switch, auth_key, modified_time`.
pub(super) fn event_callback(r: &Row<'_>) -> rusqlite::Result<EventCallbackRow> {
    from_columns!(
        r,
        EventCallbackRow {
            account_id,
            callback_type,
            callback_url,
            callback_queue_name,
            event_types,
            auth_switch,
            auth_key,
            modified_time,
        }
    )
}

/// `DELIVERY_COLUMNS`.
pub(super) fn delivery(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    from_columns!(
        r,
        DeliveryRow {
            delivery_id,
            account_id,
            url,
            body,
            auth_key,
            attempts,
            next_attempt,
            create_time,
        }
    )
}

/// The upload jobs' `JOB_COLUMNS`.
pub(super) fn url_job(r: &Row<'_>) -> rusqlite::Result<crate::store::oss::JobRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

/// Two text columns (an ID pair, a material).
pub(super) fn pair(r: &Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

impl ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Bind::Text(s) => s.to_sql(),
            Bind::Int(i) => i.to_sql(),
        }
    }
}
