//! Customers, for admins: the list with each user's order figures, one user, and the change of a
//! user's status or role.
//!
//! The rules of a change (see [`domain::user`]): an admin never sends their own `status` or
//! `role` (checked here, before anything is read: it wins over every other answer); the last
//! active admin is neither disabled nor demoted (decided by the store under its lock, which
//! counts the other active admins: two admins demoting each other cannot both succeed). A change
//! revokes every token the user holds and is audited, in the store's transaction.

use domain::{AccountChange, AccountChangeRefusal, Role, UserStatus, check_not_self};
use ports::{
    AuditContext, Customer, CustomerCursor, CustomerQuery, CustomerUpdate, StoreError,
    UpdateCustomerError,
};

use crate::Deps;
use crate::paging::{self, Page};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetCustomerError {
    #[error("customer not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a change of a user's status or role was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeCustomerError {
    #[error("customer not found")]
    NotFound,
    /// `If-Match` named another version than the user's.
    #[error("the customer changed meanwhile")]
    PreconditionFailed,
    /// The admin sent their own `status` or `role`.
    #[error("an admin cannot change their own status or role")]
    CannotChangeSelf,
    /// The change would leave no active admin.
    #[error("the last active admin cannot be disabled or demoted")]
    LastAdmin,
    /// The acting admin was demoted or disabled meanwhile.
    #[error("no longer an admin")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountChangeRefusal> for ChangeCustomerError {
    fn from(refusal: AccountChangeRefusal) -> Self {
        match refusal {
            AccountChangeRefusal::CannotChangeSelf => ChangeCustomerError::CannotChangeSelf,
            AccountChangeRefusal::LastAdmin => ChangeCustomerError::LastAdmin,
        }
    }
}

impl From<UpdateCustomerError> for ChangeCustomerError {
    fn from(error: UpdateCustomerError) -> Self {
        match error {
            UpdateCustomerError::NotFound => ChangeCustomerError::NotFound,
            UpdateCustomerError::PreconditionFailed => ChangeCustomerError::PreconditionFailed,
            UpdateCustomerError::Refused(refusal) => refusal.into(),
            UpdateCustomerError::ActorNotAdmin => ChangeCustomerError::Forbidden,
            UpdateCustomerError::Store(e) => ChangeCustomerError::Store(e),
        }
    }
}

/// The filters of the customer list (each `None` matches everyone).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerFilter {
    /// A case-insensitive substring of the email.
    pub q: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
}

/// Users with their order figures, and their status and role.
#[derive(Clone)]
pub struct CustomerService {
    pub deps: Deps,
}

impl CustomerService {
    pub fn new(deps: Deps) -> CustomerService {
        CustomerService { deps }
    }

    /// Users matching `filter`, newest first, after `after`; `next` is the position of the last
    /// one when more exist.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        filter: CustomerFilter,
        after: Option<CustomerCursor>,
        limit: u32,
    ) -> Result<Page<Customer, CustomerCursor>, StoreError> {
        let query = CustomerQuery {
            q: filter
                .q
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
            role: filter.role,
            status: filter.status,
            after,
            limit: paging::rows_to_fetch(limit),
        };
        let rows = self.deps.customers.list(&query).await?;
        Ok(Page::from_rows(rows, limit, CustomerCursor::of))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get(&self, id: i64) -> Result<Customer, GetCustomerError> {
        self.deps
            .customers
            .get(id)
            .await?
            .ok_or(GetCustomerError::NotFound)
    }

    /// Changes user `id`'s status and/or role as `ctx.actor` (an admin), only if the user's
    /// version is still `expected_version` when that is given. A change of nothing writes nothing
    /// (`revoked_below` is `None`).
    #[tracing::instrument(skip(self, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn update(
        &self,
        ctx: &AuditContext,
        id: i64,
        change: AccountChange,
        expected_version: Option<i64>,
    ) -> Result<CustomerUpdate, ChangeCustomerError> {
        let actor = ctx.actor.ok_or(ChangeCustomerError::Forbidden)?;
        check_not_self(actor.id, id, change)?;
        let update = self
            .deps
            .customers
            .update(id, change, expected_version, ctx)
            .await?;
        if let Some(generation) = update.revoked_below {
            tracing::info!(
                user_id = id,
                generation,
                status = %update.customer.status,
                role = %update.customer.role,
                "customer changed; their tokens are revoked"
            );
        }
        Ok(update)
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;
    use ports::audit::AuditContext;

    use super::*;
    use crate::test_support::{ADMIN, Mocks, NOW};

    fn service(mocks: Mocks) -> CustomerService {
        CustomerService::new(mocks.into_deps())
    }

    fn ctx() -> AuditContext {
        AuditContext {
            actor: Some(ADMIN),
            request_id: Some("req-1".into()),
            client_ip: Some("10.0.0.1".into()),
        }
    }

    fn customer(id: i64, role: Role, status: UserStatus) -> Customer {
        Customer {
            id,
            email: format!("user-{id}@example.com"),
            role,
            status,
            order_count: 0,
            total_spent: 0,
            last_order_at: None,
            version: 1,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    const DISABLE: AccountChange = AccountChange {
        status: Some(UserStatus::Disabled),
        role: None,
    };
    const DEMOTE: AccountChange = AccountChange {
        status: None,
        role: Some(Role::Customer),
    };

    #[tokio::test]
    async fn an_admin_changing_their_own_status_or_role_is_refused_before_any_read() {
        // No expectation on the store: it must not be called.
        let customers = service(Mocks::new());
        for change in [
            DISABLE,
            DEMOTE,
            AccountChange {
                status: Some(UserStatus::Disabled),
                role: Some(Role::Customer),
            },
            // Even with the values they have.
            AccountChange {
                status: Some(UserStatus::Active),
                role: Some(Role::Admin),
            },
        ] {
            assert_eq!(
                customers.update(&ctx(), ADMIN.id, change, None).await,
                Err(ChangeCustomerError::CannotChangeSelf),
                "{change:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_last_admin_refusal_of_the_store_is_last_admin() {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_update()
            .with(eq(2), eq(DEMOTE), eq(None), eq(ctx()))
            .times(1)
            .returning(|_, _, _, _| {
                Err(UpdateCustomerError::Refused(
                    AccountChangeRefusal::LastAdmin,
                ))
            });
        assert_eq!(
            service(mocks).update(&ctx(), 2, DEMOTE, None).await,
            Err(ChangeCustomerError::LastAdmin)
        );
    }

    #[tokio::test]
    async fn a_change_goes_to_the_store_with_the_admin_request_and_version() {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_update()
            .withf(|id, change, version, ctx| {
                *id == 9
                    && *change == DISABLE
                    && *version == Some(4)
                    && ctx.actor == Some(ADMIN)
                    && ctx.request_id.as_deref() == Some("req-1")
                    && ctx.client_ip.as_deref() == Some("10.0.0.1")
            })
            .times(1)
            .returning(|id, _, _, _| {
                Ok(CustomerUpdate {
                    customer: customer(id, Role::Customer, UserStatus::Disabled),
                    revoked_below: Some(1),
                })
            });
        let update = service(mocks)
            .update(&ctx(), 9, DISABLE, Some(4))
            .await
            .expect("changed");
        assert_eq!(update.customer.status, UserStatus::Disabled);
        assert_eq!(update.revoked_below, Some(1));
    }

    #[tokio::test]
    async fn a_change_of_nothing_revokes_nothing() {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_update()
            .times(1)
            .returning(|id, _, _, _| {
                Ok(CustomerUpdate {
                    customer: customer(id, Role::Customer, UserStatus::Active),
                    revoked_below: None,
                })
            });
        let update = service(mocks)
            .update(
                &ctx(),
                9,
                AccountChange {
                    status: Some(UserStatus::Active),
                    role: None,
                },
                None,
            )
            .await
            .expect("no-op");
        assert_eq!(update.revoked_below, None);
    }

    #[tokio::test]
    async fn store_refusals_map_to_their_answers() {
        for (refusal, expected) in [
            (UpdateCustomerError::NotFound, ChangeCustomerError::NotFound),
            (
                UpdateCustomerError::PreconditionFailed,
                ChangeCustomerError::PreconditionFailed,
            ),
            (
                UpdateCustomerError::ActorNotAdmin,
                ChangeCustomerError::Forbidden,
            ),
            (
                UpdateCustomerError::Refused(AccountChangeRefusal::CannotChangeSelf),
                ChangeCustomerError::CannotChangeSelf,
            ),
            (
                UpdateCustomerError::Store(StoreError::Unavailable("down".into())),
                ChangeCustomerError::Store(StoreError::Unavailable("down".into())),
            ),
        ] {
            let mut mocks = Mocks::new();
            let returned = refusal.clone();
            mocks
                .customers
                .expect_update()
                .times(1)
                .returning(move |_, _, _, _| Err(returned.clone()));
            assert_eq!(
                service(mocks).update(&ctx(), 2, DISABLE, Some(1)).await,
                Err(expected),
                "{refusal:?}"
            );
        }
    }

    #[tokio::test]
    async fn without_an_actor_nothing_is_changed() {
        let ctx = AuditContext::default();
        assert_eq!(
            service(Mocks::new()).update(&ctx, 2, DISABLE, None).await,
            Err(ChangeCustomerError::Forbidden)
        );
    }

    #[tokio::test]
    async fn the_list_fetches_one_more_and_trims_q() {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_list()
            .withf(|q| {
                q.q.as_deref() == Some("ada")
                    && q.role == Some(Role::Customer)
                    && q.status == Some(UserStatus::Active)
                    && q.limit == 3
                    && q.after.is_none()
            })
            .times(1)
            .returning(|_| {
                Ok((1..=3)
                    .rev()
                    .map(|id| customer(id, Role::Customer, UserStatus::Active))
                    .collect())
            });
        let page = service(mocks)
            .list(
                CustomerFilter {
                    q: Some("  ada ".into()),
                    role: Some(Role::Customer),
                    status: Some(UserStatus::Active),
                },
                None,
                2,
            )
            .await
            .expect("page");
        assert_eq!(page.items.iter().map(|c| c.id).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(
            page.next,
            Some(CustomerCursor {
                created_at: NOW,
                id: 2
            })
        );
    }

    #[tokio::test]
    async fn get_found_and_missing() {
        let mut mocks = Mocks::new();
        mocks
            .customers
            .expect_get()
            .with(eq(5))
            .returning(|id| Ok(Some(customer(id, Role::Admin, UserStatus::Active))));
        mocks
            .customers
            .expect_get()
            .with(eq(6))
            .returning(|_| Ok(None));
        let customers = service(mocks);
        assert_eq!(customers.get(5).await.map(|c| c.id), Ok(5));
        assert_eq!(customers.get(6).await, Err(GetCustomerError::NotFound));
    }
}
