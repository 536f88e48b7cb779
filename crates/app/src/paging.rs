//! Keyset pages. A use case asks its repository for `limit + 1` rows: when the extra row comes
//! back there is a next page, whose cursor is the position of the last row returned.

/// Items of one page and the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// The page size when the client gives none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page size. Refusing a larger one (422) is the API's job; the use cases clamp to
/// `1..=MAX_LIMIT` so that a bad caller can never ask the store for an unbounded page.
pub const MAX_LIMIT: u32 = 200;

/// The page size actually used for `limit`.
pub fn effective_limit(limit: u32) -> u32 {
    limit.clamp(1, MAX_LIMIT)
}

/// How many rows to fetch for a page of `limit` items: one more, to know whether a next exists.
pub fn rows_to_fetch(limit: u32) -> u32 {
    effective_limit(limit) + 1
}

impl<T, C> Page<T, C> {
    /// Builds a page of at most `limit` items from `rows` fetched with [`rows_to_fetch`]`(limit)`.
    /// `next` is the cursor of the last item kept, and only when more rows exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Page<T, C> {
        let limit = usize::try_from(effective_limit(limit)).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_cursor_only_when_more_rows_exist() {
        let full: Page<i64, i64> = Page::from_rows(vec![1, 2, 3], 2, |x| *x);
        assert_eq!(full.items, vec![1, 2]);
        assert_eq!(full.next, Some(2));

        let exact: Page<i64, i64> = Page::from_rows(vec![1, 2], 2, |x| *x);
        assert_eq!(exact.items, vec![1, 2]);
        assert_eq!(exact.next, None);

        let short: Page<i64, i64> = Page::from_rows(vec![1], 2, |x| *x);
        assert_eq!(short.next, None);

        let empty: Page<i64, i64> = Page::from_rows(vec![], 2, |x| *x);
        assert!(empty.items.is_empty());
        assert_eq!(empty.next, None);
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(rows_to_fetch(50), 51);
        assert_eq!(rows_to_fetch(0), 2);
        assert_eq!(rows_to_fetch(10_000), MAX_LIMIT + 1);
        assert_eq!(rows_to_fetch(u32::MAX), MAX_LIMIT + 1);
    }
}
