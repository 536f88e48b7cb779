//! Revoked session tokens, shared by every instance: one token (logout, by its `jti`), or every
//! token of a user issued under an older generation (disable, role or password change: the
//! user's `token_generation` was raised).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit::AuditEntry;

/// The tokens of `user_id` whose generation (claim `gen`) is below `min_generation` are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserGeneration {
    pub user_id: i64,
    pub min_generation: i64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Revokes the token `jti` until `expires_at` (after that it is refused for expiry anyway), and
    /// tells every instance (the adapter notifies them in the same transaction).
    async fn revoke(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError>;

    /// [`TokenRevocations::revoke`] and `audit` (the sign-out) in one transaction.
    async fn sign_out(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The current generation of every user whose tokens were revoked at or after `since` (pass
    /// now minus the tokens' lifetime: an older revocation only concerns expired tokens).
    async fn user_generations(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<UserGeneration>, StoreError>;

    /// Every revoked token that has not expired yet.
    async fn active(&self) -> Result<Vec<String>, StoreError>;

    /// Forgets revocations of tokens that expired before `now`.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}
