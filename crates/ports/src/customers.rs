//! Customers as admins see them: users with their order figures, and the change of a user's
//! status or role.

use async_trait::async_trait;
use domain::{AccountChange, AccountChangeRefusal, Role, UserStatus};
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit::AuditContext;

/// A user with the figures of their orders, computed when read (exact in every transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub status: UserStatus,
    /// Every order of the user, whatever its status.
    pub order_count: i64,
    /// Σ `total_amount` of the orders whose payment was collected, minus Σ `refunded_amount`.
    pub total_spent: i64,
    /// When the newest order was placed; `None` without orders.
    pub last_order_at: Option<OffsetDateTime>,
    /// The `ETag`: raised by every change of the user row.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A position in the customer list (newest first: `created_at`, then `id`, descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerCursor {
    pub created_at: OffsetDateTime,
    pub id: i64,
}

impl CustomerCursor {
    pub fn of(customer: &Customer) -> CustomerCursor {
        CustomerCursor {
            created_at: customer.created_at,
            id: customer.id,
        }
    }
}

/// `GET /api/admin/customers`: every filter given must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerQuery {
    /// A case-insensitive substring of the email (`%` and `_` match themselves).
    pub q: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    /// Only users after this position.
    pub after: Option<CustomerCursor>,
    pub limit: u32,
}

/// What [`CustomerRepository::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUpdate {
    /// The user as they now are.
    pub customer: Customer,
    /// `Some(generation)` when the status or role changed: the user's tokens of a lower
    /// generation are revoked. `None` for a change of nothing (nothing written, no audit entry).
    pub revoked_below: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateCustomerError {
    #[error("no such user")]
    NotFound,
    /// The user's version is not the expected one (`If-Match`).
    #[error("the user changed meanwhile")]
    PreconditionFailed,
    /// A rule of [`domain::decide_account_change`] refused it.
    #[error(transparent)]
    Refused(#[from] AccountChangeRefusal),
    /// The acting admin is no longer an active admin (demoted or disabled meanwhile).
    #[error("the actor is no longer an active admin")]
    ActorNotAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CustomerRepository: Send + Sync {
    /// Users matching `query`, newest first (`created_at`, then `id`, descending), at most
    /// `query.limit`, each with their figures: one statement.
    async fn list(&self, query: &CustomerQuery) -> Result<Vec<Customer>, StoreError>;

    async fn get(&self, id: i64) -> Result<Option<Customer>, StoreError>;

    /// Applies `change` to user `id` in one transaction, serialised with every other such change
    /// (a transaction-level advisory lock): `NotFound`; `PreconditionFailed` when
    /// `expected_version` is given and differs; `Ok` with `revoked_below: None` and nothing written
    /// when the values are those the user has; `Refused` when [`domain::decide_account_change`]
    /// says so, with the other active admins counted under the lock (`ctx.actor` is the admin);
    /// `ActorNotAdmin` when `ctx.actor` is no longer an active admin. Otherwise sets the fields,
    /// raises the user's token generation (`tokens_revoked_at` = now, every instance told in the
    /// transaction), bumps `version` and `updated_at`, and stores one `customer.updated` entry of
    /// `ctx` with the fields that changed.
    async fn update(
        &self,
        id: i64,
        change: AccountChange,
        expected_version: Option<i64>,
        ctx: &AuditContext,
    ) -> Result<CustomerUpdate, UpdateCustomerError>;
}
