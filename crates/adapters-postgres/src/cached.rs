//! [`Cached`]: keep a statement prepared that diesel would prepare afresh on every execution.
//!
//! diesel keeps a connection's prepared statements only for queries it can prove have one SQL
//! text per Rust type. It does not try for `sql_query`, any `UPDATE`, `ON CONFLICT … DO UPDATE`,
//! inserts with `DEFAULT` values or `dsl::sql` fragments, so each of those costs a `Parse` (one
//! more round trip) and a fresh plan every time. Wrapped in [`Cached`], a query is cached by its
//! SQL text and bind types instead, which is always sound; the only cost is one cache entry per
//! distinct text, so wrap only queries whose text is one of a few fixed strings (no text built from
//! data, no `IN` list of varying length).

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// A query kept in the connection's statement cache under its SQL text (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cached<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: the cache key is the SQL text and the bind types.
impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}
