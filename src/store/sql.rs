//! SQL text helpers both engines use.

/// Values per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
pub(super) const IN_LIST_CHUNK: usize = 1000;

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
