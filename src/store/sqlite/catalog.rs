//! Media categories and templates.

use rusqlite::Connection;

use super::engine::{
    account_and, conflict, execute, fetch_paged, query_all, query_opt, query_value,
};
use super::rows;
use crate::domain::category::{Category, CategoryType, MAX_LEVEL, ROOT_PARENT};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Page, Paged};
use crate::store::sql::{
    CATEGORY_BY_ID, COUNT_CHILDREN, COUNT_SIBLINGS, DELETE_CATEGORY, INSERT_CATEGORY,
    RENAME_CATEGORY, TEMPLATE_BY_ID, UNCATEGORISE_MEDIA, delete_templates_sql,
};
use crate::store::{
    CategoryInsert, INSERT_TEMPLATE, StoreResult, UPDATE_TEMPLATE, category_cursor,
    child_categories_sql, template_cursor, template_sql,
};

/// Checked in the writer's transaction, which no other write interleaves: the sibling
/// count cannot go stale before the insert.
pub(super) fn insert_category(
    c: &Connection,
    cat: &Category,
    max_siblings: u64,
) -> StoreResult<CategoryInsert> {
    let holder: Option<String> = if cat.parent_id == ROOT_PARENT {
        query_opt(
            c,
            "SELECT account_id FROM accounts WHERE account_id = $1",
            &[&cat.account_id],
            |r| r.get(0),
        )?
    } else {
        query_opt(
            c,
            "SELECT account_id FROM categories WHERE account_id = $1 AND cate_id = $2",
            &[&cat.account_id, &cat.parent_id],
            |r| r.get(0),
        )?
    };
    if holder.is_none() {
        return Ok(CategoryInsert::ParentGone);
    }
    let siblings: i64 = query_value(
        c,
        COUNT_SIBLINGS,
        &[&cat.account_id, &cat.parent_id, &cat.cate_type.as_str()],
    )?;
    if siblings as u64 >= max_siblings {
        return Ok(CategoryInsert::LevelFull);
    }
    let id: i64 = query_value(
        c,
        INSERT_CATEGORY,
        &[
            &cat.account_id,
            &cat.cate_name,
            &cat.parent_id,
            &cat.level,
            &cat.cate_type.as_str(),
            &cat.create_time,
        ],
    )?;
    Ok(CategoryInsert::Inserted(id))
}

pub(super) fn category(
    c: &Connection,
    account_id: &str,
    cate_id: i64,
) -> StoreResult<Option<Category>> {
    let row = query_opt(c, &CATEGORY_BY_ID, &[&account_id, &cate_id], rows::category)?;
    row.map(Category::try_from).transpose()
}

pub(super) fn rename_category(
    c: &Connection,
    account_id: &str,
    cate_id: i64,
    name: &str,
) -> StoreResult<bool> {
    let done = execute(c, RENAME_CATEGORY, &[&account_id, &cate_id, &name])?;
    Ok(done > 0)
}

/// Deletes a category with its subcategories; their media become uncategorised.
pub(super) fn delete_category(c: &Connection, account_id: &str, cate_id: i64) -> StoreResult<bool> {
    // At most three levels: the category, its children and grandchildren.
    let mut doomed = vec![cate_id];
    let mut frontier = vec![cate_id];
    for _ in 0..MAX_LEVEL {
        let mut next = Vec::new();
        for parent in &frontier {
            next.extend(query_all(
                c,
                "SELECT cate_id FROM categories WHERE account_id = $1 AND parent_id = $2",
                &[&account_id, parent],
                |r| r.get::<_, i64>(0),
            )?);
        }
        doomed.extend(&next);
        frontier = next;
    }
    let mut deleted = 0;
    for id in &doomed {
        deleted += execute(c, DELETE_CATEGORY, &[&account_id, id])?;
        execute(c, UNCATEGORISE_MEDIA, &[&account_id, id])?;
    }
    Ok(deleted > 0)
}

pub(super) fn child_categories(
    c: &Connection,
    account_id: &str,
    parent_id: i64,
    cate_type: CategoryType,
    ascending: bool,
    page: &Page,
) -> StoreResult<Paged<(Category, u64)>> {
    let sql = child_categories_sql(account_id, parent_id, cate_type, ascending, page);
    let cats: Paged<Category> = fetch_paged(c, &sql, page, rows::category, category_cursor)?;
    let mut items = Vec::with_capacity(cats.items.len());
    for cat in cats.items {
        let n: i64 = query_value(c, COUNT_CHILDREN, &[&account_id, &cat.cate_id])?;
        items.push((cat, n as u64));
    }
    Ok(Paged {
        items,
        total: cats.total,
        next: cats.next,
    })
}

/// Binds a [`Template`] to `$1..$13` in `TEMPLATE_COLUMNS` order.
fn write_template(c: &Connection, sql: &str, t: &Template) -> rusqlite::Result<usize> {
    execute(
        c,
        sql,
        &[
            &t.account_id,
            &t.template_id,
            &t.name,
            &t.template_type.as_str(),
            &t.config,
            &t.cover_url,
            &t.preview_media,
            &t.status.as_str(),
            &t.create_source.as_str(),
            &t.modified_source.as_str(),
            &t.related_mediaids,
            &t.create_time,
            &t.modified_time,
        ],
    )
}

pub(super) fn insert_template(c: &Connection, t: &Template) -> StoreResult<()> {
    write_template(c, INSERT_TEMPLATE, t)
        .map_err(|e| conflict(e, &format!("template {}", t.template_id)))?;
    Ok(())
}

pub(super) fn template(
    c: &Connection,
    account_id: &str,
    template_id: &str,
) -> StoreResult<Option<Template>> {
    let row = query_opt(
        c,
        &TEMPLATE_BY_ID,
        &[&account_id, &template_id],
        rows::template,
    )?;
    row.map(Template::try_from).transpose()
}

pub(super) fn update_template(c: &Connection, t: &Template) -> StoreResult<bool> {
    Ok(write_template(c, UPDATE_TEMPLATE, t)? > 0)
}

pub(super) fn delete_templates(
    c: &Connection,
    account_id: &str,
    template_ids: &[String],
) -> StoreResult<u64> {
    let sql = delete_templates_sql(template_ids.len());
    Ok(execute(c, &sql, &account_and(&account_id, template_ids))? as u64)
}

pub(super) fn search_templates(
    c: &Connection,
    account_id: &str,
    q: &TemplateQuery,
) -> StoreResult<Paged<Template>> {
    let sql = template_sql(account_id, q);
    fetch_paged(c, &sql, &q.page, rows::template, template_cursor)
}
