//! Categories and templates.

use sqlx::PgPool;

use super::{bind_template, conflict, fetch_paged};
use crate::domain::category::{Category, CategoryType, MAX_LEVEL, ROOT_PARENT};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Page, Paged};
use crate::store::sql::{
    CATEGORY_BY_ID, COUNT_CHILDREN, COUNT_SIBLINGS, DELETE_CATEGORY, INSERT_CATEGORY,
    RENAME_CATEGORY, TEMPLATE_BY_ID, UNCATEGORISE_MEDIA, delete_templates_sql,
};
use crate::store::{
    CategoryInsert, CategoryRow, INSERT_TEMPLATE, StoreResult, TemplateRow, UPDATE_TEMPLATE,
    category_cursor, child_categories_sql, template_cursor, template_sql,
};

pub(super) async fn insert_category(
    pool: &PgPool,
    c: &Category,
    max_siblings: u64,
) -> StoreResult<CategoryInsert> {
    let mut tx = pool.begin().await?;
    // The row that every insert on this level locks first, so the count below cannot go
    // stale before the insert.
    let holder: Option<(String,)> = if c.parent_id == ROOT_PARENT {
        sqlx::query_as("SELECT account_id FROM accounts WHERE account_id = $1 FOR UPDATE")
            .bind(&c.account_id)
            .fetch_optional(&mut *tx)
            .await?
    } else {
        sqlx::query_as(
            "SELECT account_id FROM categories WHERE account_id = $1 AND cate_id = $2 FOR UPDATE",
        )
        .bind(&c.account_id)
        .bind(c.parent_id)
        .fetch_optional(&mut *tx)
        .await?
    };
    if holder.is_none() {
        return Ok(CategoryInsert::ParentGone);
    }
    let (siblings,): (i64,) = sqlx::query_as(COUNT_SIBLINGS)
        .bind(&c.account_id)
        .bind(c.parent_id)
        .bind(c.cate_type.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if siblings as u64 >= max_siblings {
        return Ok(CategoryInsert::LevelFull);
    }
    let (id,): (i64,) = sqlx::query_as(INSERT_CATEGORY)
        .bind(&c.account_id)
        .bind(&c.cate_name)
        .bind(c.parent_id)
        .bind(c.level)
        .bind(c.cate_type.as_str())
        .bind(c.create_time)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(CategoryInsert::Inserted(id))
}

pub(super) async fn category(
    pool: &PgPool,
    account_id: &str,
    cate_id: i64,
) -> StoreResult<Option<Category>> {
    let row: Option<CategoryRow> = sqlx::query_as(CATEGORY_BY_ID.as_str())
        .bind(account_id)
        .bind(cate_id)
        .fetch_optional(pool)
        .await?;
    row.map(Category::try_from).transpose()
}

pub(super) async fn rename_category(
    pool: &PgPool,
    account_id: &str,
    cate_id: i64,
    name: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(RENAME_CATEGORY)
        .bind(account_id)
        .bind(cate_id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_category(
    pool: &PgPool,
    account_id: &str,
    cate_id: i64,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    // Lock the category, then each level's rows as read: an insert under any of them holds
    // its parent's lock, so it either commits before we read that parent's children or
    // finds its parent gone.
    sqlx::query("SELECT cate_id FROM categories WHERE account_id = $1 AND cate_id = $2 FOR UPDATE")
        .bind(account_id)
        .bind(cate_id)
        .execute(&mut *tx)
        .await?;
    // At most three levels: the category, its children and grandchildren.
    let mut doomed = vec![cate_id];
    let mut frontier = vec![cate_id];
    for _ in 0..MAX_LEVEL {
        let mut next = Vec::new();
        for parent in &frontier {
            let kids: Vec<(i64,)> = sqlx::query_as(
                "SELECT cate_id FROM categories WHERE account_id = $1 AND parent_id = $2 FOR UPDATE",
            )
            .bind(account_id)
            .bind(parent)
            .fetch_all(&mut *tx)
            .await?;
            next.extend(kids.into_iter().map(|(k,)| k));
        }
        doomed.extend(&next);
        frontier = next;
    }
    let mut deleted = 0;
    for id in &doomed {
        deleted += sqlx::query(DELETE_CATEGORY)
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(UNCATEGORISE_MEDIA)
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(deleted > 0)
}

pub(super) async fn child_categories(
    pool: &PgPool,
    account_id: &str,
    parent_id: i64,
    cate_type: CategoryType,
    ascending: bool,
    page: &Page,
) -> StoreResult<Paged<(Category, u64)>> {
    let sql = child_categories_sql(account_id, parent_id, cate_type, ascending, page);
    let cats = fetch_paged::<CategoryRow, _>(pool, sql, page, category_cursor).await?;
    let mut items = Vec::with_capacity(cats.items.len());
    for c in cats.items {
        let (n,): (i64,) = sqlx::query_as(COUNT_CHILDREN)
            .bind(account_id)
            .bind(c.cate_id)
            .fetch_one(pool)
            .await?;
        items.push((c, n as u64));
    }
    Ok(Paged {
        items,
        total: cats.total,
        next: cats.next,
    })
}

pub(super) async fn insert_template(pool: &PgPool, t: &Template) -> StoreResult<()> {
    bind_template(sqlx::query(INSERT_TEMPLATE), t)
        .execute(pool)
        .await
        .map_err(|e| conflict(e, &format!("template {}", t.template_id)))?;
    Ok(())
}

pub(super) async fn template(
    pool: &PgPool,
    account_id: &str,
    template_id: &str,
) -> StoreResult<Option<Template>> {
    let row: Option<TemplateRow> = sqlx::query_as(TEMPLATE_BY_ID.as_str())
        .bind(account_id)
        .bind(template_id)
        .fetch_optional(pool)
        .await?;
    row.map(Template::try_from).transpose()
}

pub(super) async fn update_template(pool: &PgPool, t: &Template) -> StoreResult<bool> {
    let done = bind_template(sqlx::query(UPDATE_TEMPLATE), t)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_templates(
    pool: &PgPool,
    account_id: &str,
    template_ids: &[String],
) -> StoreResult<u64> {
    if template_ids.is_empty() {
        return Ok(0);
    }
    let sql = delete_templates_sql(template_ids.len());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
    for id in template_ids {
        query = query.bind(id);
    }
    Ok(query.execute(pool).await?.rows_affected())
}

pub(super) async fn search_templates(
    pool: &PgPool,
    account_id: &str,
    q: &TemplateQuery,
) -> StoreResult<Paged<Template>> {
    let sql = template_sql(account_id, q);
    fetch_paged::<TemplateRow, _>(pool, sql, &q.page, template_cursor).await
}
