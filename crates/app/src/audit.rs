//! The audit log, read by admins (`GET /api/admin/audit`). Entries are written by the stores, in
//! the transaction of the change each records; nothing here changes or deletes one.

use domain::Role;
use ports::{AuditQuery, StoreError, StoredAuditEntry};

use crate::paging::{self, Page};
use crate::{Actor, Deps};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListAuditError {
    /// Only admins read the audit log (the API checks the role first).
    #[error("only admins read the audit log")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct AuditService {
    pub deps: Deps,
}

impl AuditService {
    pub fn new(deps: Deps) -> AuditService {
        AuditService { deps }
    }

    /// Entries matching every filter of `filter`, newest (highest id) first, below `before`
    /// (the previous page's last id); `next` is the last id of the page when more exist.
    #[tracing::instrument(skip(self, actor), fields(user_id = actor.id))]
    pub async fn list(
        &self,
        actor: Actor,
        filter: &AuditQuery,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<StoredAuditEntry, i64>, ListAuditError> {
        if actor.role != Role::Admin {
            return Err(ListAuditError::Forbidden);
        }
        let query = AuditQuery {
            before_id: before,
            limit: paging::rows_to_fetch(limit),
            ..filter.clone()
        };
        let rows = self.deps.audit.list(&query).await?;
        Ok(Page::from_rows(rows, limit, |e| e.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ADMIN, CUSTOMER, Mocks, NOW, audit_context};
    use ports::audit::action;

    fn stored(id: i64) -> StoredAuditEntry {
        StoredAuditEntry {
            id,
            occurred_at: NOW,
            entry: audit_context().entry(action::PRODUCT_UPDATED, None),
        }
    }

    #[tokio::test]
    async fn a_page_asks_for_one_more_row_below_the_cursor_with_the_filters() {
        let mut mocks = Mocks::new();
        mocks
            .audit
            .expect_list()
            .withf(|q| {
                q.limit == 3
                    && q.before_id == Some(100)
                    && q.action.as_deref() == Some("product.updated")
                    && q.actor_id == Some(1)
            })
            .times(1)
            .returning(|_| Ok(vec![stored(99), stored(98), stored(97)]));
        let filter = AuditQuery {
            action: Some("product.updated".into()),
            actor_id: Some(1),
            // Replaced by the paging arguments.
            before_id: Some(5),
            limit: 999,
            ..AuditQuery::default()
        };
        let page = AuditService::new(mocks.into_deps())
            .list(ADMIN, &filter, Some(100), 2)
            .await
            .expect("page");
        assert_eq!(
            page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
            [99, 98]
        );
        assert_eq!(page.next, Some(98));
    }

    #[tokio::test]
    async fn a_customer_reads_nothing() {
        assert_eq!(
            AuditService::new(Mocks::new().into_deps())
                .list(CUSTOMER, &AuditQuery::default(), None, 50)
                .await,
            Err(ListAuditError::Forbidden)
        );
    }
}
