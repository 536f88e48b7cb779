//! Users and their credentials.

use async_trait::async_trait;
use domain::Role;
use time::OffsetDateTime;

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    /// Lower-cased.
    pub email: String,
    pub role: Role,
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
}
