//! Revoked session tokens (logout), shared by every instance.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Revokes the token `jti` until `expires_at` (after that it is refused for expiry anyway), and
    /// tells every instance (the adapter notifies them in the same transaction).
    async fn revoke(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError>;

    /// Every revoked token that has not expired yet.
    async fn active(&self) -> Result<Vec<String>, StoreError>;

    /// Forgets revocations of tokens that expired before `now`.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}
