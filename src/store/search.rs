//! The searches' SQL, which both engines run: a WHERE clause built from placeholders (filter
//! values are always bound, never spliced), the page and count queries, and the page decoded
//! from the rows.

use super::{
    CATEGORY_COLUMNS, MEDIA_COLUMNS, PROJECT_COLUMNS, PROJECT_SUMMARY_COLUMNS, StoreError,
    StoreResult, TEMPLATE_COLUMNS,
};
use crate::domain::category::{Category, CategoryType};
use crate::domain::media::{MediaCond, MediaInfo, MediaQuery};
use crate::domain::project::{EditingProject, ProjectQuery, ProjectStatus};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Cursor, Page, Paged};

pub(super) fn media_sql(account_id: &str, q: &MediaQuery) -> SearchSql {
    let text = |s: &str| Bind::Text(s.to_string());
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![text(account_id)],
    };
    fn any_of<T>(w: &mut Where, column: &str, values: &[T], bind: impl Fn(&T) -> Bind) {
        let marks = vec!["?"; values.len()].join(", ");
        if values.is_empty() {
            w.and("1 = 0", []);
        } else {
            w.and(&format!("{column} IN ({marks})"), values.iter().map(bind));
        }
    }
    for c in &q.conditions {
        match c {
            MediaCond::MediaId(v) => any_of(&mut w, "media_id", v, |s| text(s)),
            MediaCond::TitleEq(t) => w.and("title = ?", [text(t)]),
            MediaCond::TitleLike(t) => w.and(
                "title LIKE ? ESCAPE '\\'",
                [Bind::Text(format!("%{}%", escape_like(t)))],
            ),
            MediaCond::MediaType(v) => any_of(&mut w, "media_type", v, |s| text(s.as_str())),
            MediaCond::BusinessType(v) => any_of(&mut w, "business_type", v, |s| text(s.as_str())),
            MediaCond::Source(v) => any_of(&mut w, "source", v, |s| text(s.as_str())),
            MediaCond::Status(v) => any_of(&mut w, "status", v, |s| text(s.as_str())),
            MediaCond::CateId(v) => any_of(&mut w, "cate_id", v, |i| Bind::Int(*i)),
            MediaCond::Tag(tags) => {
                let clause =
                    vec!["(',' || media_tags || ',') LIKE ? ESCAPE '\\'"; tags.len()].join(" OR ");
                w.and(
                    &format!("({clause})"),
                    tags.iter()
                        .map(|t| Bind::Text(format!("%,{},%", escape_like(t)))),
                );
            }
            MediaCond::CreatedAfter(t) => w.and("create_time > ?", [Bind::Int(*t)]),
            MediaCond::CreatedUntil(t) => w.and("create_time <= ?", [Bind::Int(*t)]),
        }
    }
    w.paged(
        "media",
        MEDIA_COLUMNS,
        "media_id",
        q.ascending,
        &q.page,
        true,
    )
}

/// A page of the account's categories under `parent_id` of one type.
pub(super) fn child_categories_sql(
    account_id: &str,
    parent_id: i64,
    cate_type: CategoryType,
    ascending: bool,
    page: &Page,
) -> SearchSql {
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![Bind::Text(account_id.to_string())],
    };
    w.and("parent_id = ?", [Bind::Int(parent_id)]);
    w.and(
        "cate_type = ?",
        [Bind::Text(cate_type.as_str().to_string())],
    );
    w.paged(
        "categories",
        CATEGORY_COLUMNS,
        "cate_id",
        ascending,
        page,
        false,
    )
}

/// The account's media whose `column` is among `n` values bound from `$2`.
pub(super) fn media_in_sql(column: &str, n: usize) -> String {
    format!(
        "SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND {column} IN ({})",
        super::sql::placeholders(2, n)
    )
}

pub(super) fn template_sql(account_id: &str, q: &TemplateQuery) -> SearchSql {
    let text = |s: &str| Bind::Text(s.to_string());
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![text(account_id)],
    };
    if let Some(t) = q.template_type {
        w.and("template_type = ?", [text(t.as_str())]);
    }
    if let Some(s) = q.status {
        w.and("status = ?", [text(s.as_str())]);
    }
    if let Some(s) = q.create_source {
        w.and("create_source = ?", [text(s.as_str())]);
    }
    if let Some(k) = &q.keyword {
        w.and(
            "(template_id = ? OR name LIKE ? ESCAPE '\\')",
            [text(k), Bind::Text(format!("%{}%", escape_like(k)))],
        );
    }
    w.paged(
        "templates",
        TEMPLATE_COLUMNS,
        "template_id",
        q.ascending,
        &q.page,
        false,
    )
}

/// A value bound to a search placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// SQL for one page of a project search: `(count_sql, page_sql, binds)`; the page query
/// also binds the cursor. Filters are placeholders, never spliced text.
pub(super) struct SearchSql {
    pub(super) count: Option<String>,
    /// The count query uses only the first `count_binds` binds (not the cursor's).
    pub(super) count_binds: usize,
    pub(super) page: String,
    pub(super) binds: Vec<Bind>,
}

/// A WHERE clause under construction; `?` in a clause becomes the next `$n`.
pub(super) struct Where {
    pub(super) sql: String,
    pub(super) binds: Vec<Bind>,
}

impl Where {
    /// The page query over `table`, ordered by (create_time, `id_column`), and the count
    /// query for page-number queries (and for cursor queries that want a total).
    pub(super) fn paged(
        self,
        table: &str,
        columns: &str,
        id_column: &str,
        ascending: bool,
        page: &Page,
        total_with_cursor: bool,
    ) -> SearchSql {
        let Where {
            sql: filter,
            mut binds,
        } = self;
        let count_binds = binds.len();
        let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {filter}");
        let (dir, cmp) = if ascending {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        let order = format!(" ORDER BY create_time {dir}, {id_column} {dir}");
        match page {
            Page::Number { page_no, page_size } => {
                let offset = (u64::from(*page_no) - 1) * u64::from(*page_size);
                SearchSql {
                    count: Some(count_sql),
                    count_binds,
                    page: format!(
                        "SELECT {columns} FROM {table} WHERE {filter}{order} LIMIT {} OFFSET {offset}",
                        u64::from(*page_size) + 1
                    ),
                    binds,
                }
            }
            Page::After { cursor, limit } => {
                let mut page_filter = filter;
                if let Some(c) = cursor {
                    binds.push(Bind::Int(c.create_time));
                    let n = binds.len();
                    binds.push(Bind::Text(c.id.clone()));
                    page_filter.push_str(&format!(
                        " AND (create_time {cmp} ${n} OR (create_time = ${n} AND {id_column} {cmp} ${}))",
                        n + 1
                    ));
                }
                SearchSql {
                    count: total_with_cursor.then_some(count_sql),
                    count_binds,
                    page: format!(
                        "SELECT {columns} FROM {table} WHERE {page_filter}{order} LIMIT {}",
                        u64::from(*limit) + 1
                    ),
                    binds,
                }
            }
        }
    }

    pub(super) fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                self.binds.extend(values.next());
                out.push_str(&format!("${}", self.binds.len()));
            }
            out.push_str(part);
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(&out);
    }
}

/// A query that filters on nothing but account, type and status takes its total from the
/// count rows the backend's triggers keep: `count_sql` is that query up to its `WHERE`.
/// `columns` = `None` selects what `q.timelines` asks for.
pub(super) fn search_sql(
    account_id: &str,
    q: &ProjectQuery,
    count_sql: &str,
    columns: Option<&str>,
) -> SearchSql {
    let text = |s: &str| Bind::Text(s.to_string());
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![text(account_id)],
    };
    if let Some(s) = q.create_source {
        w.and("create_source = ?", [text(s.as_str())]);
    }
    if let Some(t) = q.start_time {
        w.and("create_time >= ?", [Bind::Int(t)]);
    }
    if let Some(t) = q.end_time {
        w.and("create_time <= ?", [Bind::Int(t)]);
    }
    match q.template_type {
        Some(Some(t)) => w.and("template_type = ?", [text(t.as_str())]),
        Some(None) => w.and("template_type IS NULL", []),
        None => {}
    }
    if let Some(t) = q.project_type {
        w.and("project_type = ?", [text(t.as_str())]);
    }
    if q.statuses.is_empty() {
        // Deleted projects are gone from the caller's view.
        w.and("status <> ?", [text(ProjectStatus::Deleted.as_str())]);
    } else {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        w.and(
            &format!("status IN ({marks})"),
            q.statuses.iter().map(|s| text(s.as_str())),
        );
    }
    if let Some(k) = &q.keyword {
        w.and(
            "(project_id = ? OR title LIKE ? ESCAPE '\\')",
            [text(k), Bind::Text(format!("%{}%", escape_like(k)))],
        );
    }
    let counted = (q.create_source.is_none()
        && q.start_time.is_none()
        && q.end_time.is_none()
        && q.template_type.is_none()
        && q.keyword.is_none())
    .then(|| format!("{count_sql}{}", w.sql));
    let columns = columns.unwrap_or(if q.timelines {
        PROJECT_COLUMNS
    } else {
        PROJECT_SUMMARY_COLUMNS
    });
    let mut sql = w.paged(
        "editing_projects",
        columns,
        "project_id",
        q.ascending,
        &q.page,
        false,
    );
    if let (Some(count), Some(counted)) = (&mut sql.count, counted) {
        *count = counted;
    }
    sql
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// Where the next page starts after each kind of item (`paged` orders by these columns).

pub(super) fn project_cursor(p: &EditingProject) -> Cursor {
    Cursor {
        create_time: p.create_time,
        id: p.project_id.clone(),
    }
}

pub(super) fn media_cursor(m: &MediaInfo) -> Cursor {
    Cursor {
        create_time: m.create_time,
        id: m.media_id.clone(),
    }
}

pub(super) fn template_cursor(t: &Template) -> Cursor {
    Cursor {
        create_time: t.create_time,
        id: t.template_id.clone(),
    }
}

pub(super) fn category_cursor(c: &Category) -> Cursor {
    Cursor {
        create_time: c.create_time,
        id: c.cate_id.to_string(),
    }
}

/// Turns the rows of a page query (which fetched one extra row) into a page.
pub(super) fn finish_page<R, T>(
    rows: Vec<R>,
    page: &Page,
    total: Option<u64>,
    cursor: impl Fn(&T) -> Cursor,
) -> StoreResult<Paged<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let limit = page.limit() as usize;
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(T::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    let next = more.then(|| items.last().map(&cursor)).flatten();
    let total = total.unwrap_or(items.len() as u64);
    Ok(Paged { items, total, next })
}
