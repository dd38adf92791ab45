//! Media categories: a tree of at most three levels per account.

use super::project::Invalid;
use super::{Micros, vendor_enum};

vendor_enum!(CategoryType {
    Default = "default",
    Material = "material",
});

/// Levels are 0, 1 and 2.
pub const MAX_LEVEL: i64 = 2;
pub const MAX_SIBLINGS: u64 = 100;
pub const NAME_MAX: usize = 64;
/// `ParentId` of a root category.
pub const ROOT_PARENT: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub account_id: String,
    pub cate_id: i64,
    pub cate_name: String,
    pub parent_id: i64,
    pub level: i64,
    pub cate_type: CategoryType,
    pub create_time: Micros,
}

pub fn check_name(name: &str) -> Result<(), Invalid> {
    if name.trim().is_empty() {
        return Err(Invalid::new("CateName", "The name must not be empty."));
    }
    super::media::check_len("CateName", name, NAME_MAX)
}

/// The level of a new child of `parent`, refusing a fourth level.
pub fn child_level(parent: Option<&Category>) -> Result<i64, Invalid> {
    match parent {
        None => Ok(0),
        Some(p) if p.level >= MAX_LEVEL => Err(Invalid::new(
            "ParentId",
            format!("Categories have at most {} levels.", MAX_LEVEL + 1),
        )),
        Some(p) => Ok(p.level + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_levels_at_most() {
        let mut c = Category {
            account_id: "a".into(),
            cate_id: 1,
            cate_name: "x".into(),
            parent_id: ROOT_PARENT,
            level: 0,
            cate_type: CategoryType::Default,
            create_time: 0,
        };
        assert_eq!(child_level(None).unwrap(), 0);
        assert_eq!(child_level(Some(&c)).unwrap(), 1);
        c.level = 2;
        assert_eq!(child_level(Some(&c)).unwrap_err().param, "ParentId");
        assert!(check_name(&"é".repeat(33)).is_err());
        assert!(check_name(&"é".repeat(32)).is_ok());
        assert!(check_name(" ").is_err());
    }
}
