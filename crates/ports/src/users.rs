//! Users and their credentials.

use async_trait::async_trait;
use domain::{Role, UserStatus};
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit::AuditEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Lower-cased.
    pub email: String,
    pub role: Role,
    pub status: UserStatus,
    /// Every session token carries the generation it was issued under (claim `gen`); raising it
    /// (disable, role change, password change) invalidates every older token of the user.
    pub token_generation: i64,
    pub created_at: OffsetDateTime,
}

/// A user with their password hash: only sign-in sees this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateUserError {
    /// A user with this email (compared case-insensitively) exists.
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Creates a user. `email` is already lower-cased. Returns `EmailTaken` when it exists.
    async fn create(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, CreateUserError>;

    /// Makes the user with `email` an admin with this password, creating them if needed.
    async fn upsert_admin(&self, email: &str, password_hash: &str) -> Result<User, StoreError>;

    /// The user with this (lower-cased) email and their hash, if any.
    async fn find_credentials(&self, email: &str) -> Result<Option<UserCredentials>, StoreError>;

    async fn find(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// The user with this id and their hash, if any (a password change checks the current one).
    async fn credentials(&self, id: i64) -> Result<Option<UserCredentials>, StoreError>;

    /// Sets the user's password hash and, in the same transaction, raises their token generation
    /// (every token they hold stops working: `tokens_revoked_at` = now, every instance told),
    /// bumps their version and stores `audit`. Returns the user as they now are (with the new
    /// generation), or `None` when there is no such user (nothing written).
    async fn change_password(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<Option<User>, StoreError>;
}
