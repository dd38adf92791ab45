//! Category actions: AddCategory, UpdateCategory, DeleteCategory, GetCategories.

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::views::Empty;
use crate::domain::category::{self, Category, CategoryType, ROOT_PARENT};
use crate::domain::{Page, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};
use crate::store::CategoryInsert;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CategoryView {
    cate_id: i64,
    cate_name: String,
    level: i64,
    parent_id: i64,
    #[serde(rename = "Type")]
    cate_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_total: Option<u64>,
}

impl CategoryView {
    fn of(c: Category, sub_total: Option<u64>) -> Self {
        CategoryView {
            cate_id: c.cate_id,
            cate_name: c.cate_name,
            level: c.level,
            parent_id: c.parent_id,
            cate_type: c.cate_type.as_str(),
            sub_total,
        }
    }
}

fn not_found(cate_id: i64) -> ApiError {
    ApiError::invalid("CateId", format!("The category {cate_id} does not exist."))
}

async fn existing(ctx: &Ctx, caller: &Caller, cate_id: i64) -> Result<Category, ApiError> {
    ctx.store
        .category(&caller.account_id, cate_id)
        .await?
        .ok_or_else(|| not_found(cate_id))
}

fn cate_id(params: &Params) -> Result<i64, ApiError> {
    params.required("CateId")?;
    Ok(params.int_in("CateId", 0..=i64::MAX)?.unwrap_or_default())
}

/// A category name that passed `category::check_name`.
fn cate_name(params: &Params) -> Result<&str, ApiError> {
    let name = params.required("CateName")?;
    category::check_name(name)?;
    Ok(name)
}

pub struct AddCategoryInput<'a> {
    cate_name: &'a str,
    cate_type: Option<CategoryType>,
    /// Absent or non-positive: a new root (reference: "empty or <1 ⇒ new root").
    parent_id: Option<i64>,
}

impl<'a> FromParams<'a> for AddCategoryInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(AddCategoryInput {
            cate_name: cate_name(params)?,
            cate_type: params.parse("Type")?,
            parent_id: params
                .int_in("ParentId", i64::MIN..=i64::MAX)?
                .filter(|id| *id >= 1),
        })
    }
}

pub struct UpdateCategoryInput<'a> {
    cate_id: i64,
    cate_name: &'a str,
}

impl<'a> FromParams<'a> for UpdateCategoryInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(UpdateCategoryInput {
            cate_id: cate_id(params)?,
            cate_name: cate_name(params)?,
        })
    }
}

pub struct DeleteCategoryInput {
    cate_id: i64,
}

impl FromParams<'_> for DeleteCategoryInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(DeleteCategoryInput {
            cate_id: cate_id(params)?,
        })
    }
}

pub struct GetCategoriesInput {
    ascending: bool,
    page: Page,
    cate_type: Option<CategoryType>,
    cate_id: Option<i64>,
}

impl FromParams<'_> for GetCategoriesInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(GetCategoriesInput {
            ascending: params.ascending("SortBy", "CreationTime:Desc", "CreationTime:Asc")?,
            page: Page::Number {
                page_no: params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32,
                page_size: params.int_in("PageSize", 10..=100)?.unwrap_or(10) as u32,
            },
            cate_type: params.parse("Type")?,
            cate_id: params.int_in("CateId", 0..=i64::MAX)?,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddBody {
    category: CategoryView,
}

pub async fn add(
    ctx: &Ctx,
    caller: &Caller,
    input: AddCategoryInput<'_>,
) -> Result<AddBody, ApiError> {
    let AddCategoryInput {
        cate_name: name,
        cate_type: requested_type,
        parent_id,
    } = input;
    let parent = match parent_id {
        Some(id) => Some(existing(ctx, caller, id).await.map_err(|_| {
            ApiError::invalid("ParentId", format!("The category {id} does not exist."))
        })?),
        None => None,
    };
    // A subcategory is of its parent's type.
    let cate_type = match (&parent, requested_type) {
        (Some(p), Some(t)) if t != p.cate_type => {
            return Err(ApiError::invalid(
                "Type",
                format!("The parent category is of type {}.", p.cate_type),
            ));
        }
        (Some(p), _) => p.cate_type,
        (None, t) => t.unwrap_or(CategoryType::Default),
    };
    let level = category::child_level(parent.as_ref())?;
    let parent_id = parent.as_ref().map_or(ROOT_PARENT, |p| p.cate_id);
    let c = Category {
        account_id: caller.account_id.clone(),
        cate_id: 0,
        cate_name: name.to_string(),
        parent_id,
        level,
        cate_type,
        create_time: now_micros(),
    };
    // The parent and the sibling limit are checked again where the row is written.
    let cate_id = match ctx
        .store
        .insert_category(&c, category::MAX_SIBLINGS)
        .await?
    {
        CategoryInsert::Inserted(id) => id,
        CategoryInsert::ParentGone => {
            return Err(ApiError::invalid(
                "ParentId",
                format!("The category {parent_id} does not exist."),
            ));
        }
        CategoryInsert::LevelFull => {
            return Err(ApiError::invalid(
                "ParentId",
                format!(
                    "A level holds at most {} categories.",
                    category::MAX_SIBLINGS
                ),
            ));
        }
    };
    let c = Category { cate_id, ..c };
    Ok(AddBody {
        category: CategoryView::of(c, None),
    })
}

pub async fn update(
    ctx: &Ctx,
    caller: &Caller,
    input: UpdateCategoryInput<'_>,
) -> Result<Empty, ApiError> {
    let id = input.cate_id;
    if !ctx
        .store
        .rename_category(&caller.account_id, id, input.cate_name)
        .await?
    {
        return Err(not_found(id));
    }
    Ok(Empty {})
}

pub async fn delete(
    ctx: &Ctx,
    caller: &Caller,
    input: DeleteCategoryInput,
) -> Result<Empty, ApiError> {
    let id = input.cate_id;
    if !ctx.store.delete_category(&caller.account_id, id).await? {
        return Err(not_found(id));
    }
    Ok(Empty {})
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubCategories {
    category: Vec<CategoryView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<CategoryView>,
    sub_total: u64,
    sub_categories: SubCategories,
}

/// A category and a page of its children; without CateId, a page of the root categories.
pub async fn get(
    ctx: &Ctx,
    caller: &Caller,
    input: GetCategoriesInput,
) -> Result<GetBody, ApiError> {
    let GetCategoriesInput {
        ascending,
        page,
        cate_type: requested_type,
        cate_id,
    } = input;
    let parent = match cate_id {
        Some(id) => Some(existing(ctx, caller, id).await?),
        None => None,
    };
    let parent_id = parent.as_ref().map_or(ROOT_PARENT, |p| p.cate_id);
    let cate_type = parent
        .as_ref()
        .map(|p| p.cate_type)
        .or(requested_type)
        .unwrap_or(CategoryType::Default);
    let children = ctx
        .store
        .child_categories(&caller.account_id, parent_id, cate_type, ascending, &page)
        .await?;
    Ok(GetBody {
        category: parent.map(|p| CategoryView::of(p, None)),
        sub_total: children.total,
        sub_categories: SubCategories {
            category: children
                .items
                .into_iter()
                .map(|(c, n)| CategoryView::of(c, Some(n)))
                .collect(),
        },
    })
}
