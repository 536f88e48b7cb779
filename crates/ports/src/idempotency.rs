//! `Idempotency-Key` records: the first answer to a request, kept to be replayed.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;

/// An answer as sent: status, JSON body, `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key: the caller runs the request, then `complete`s or `release`s it.
    Started,
    /// The key was used with the same request: answer this.
    Replay(StoredResponse),
    /// The first request with this key is still running.
    InProgress,
    /// The key was used with another request.
    Mismatch,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(user_id, scope, key)` for a request whose canonical hash is `request_hash`.
    async fn begin(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError>;

    /// Stores the answer to replay.
    async fn complete(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;

    /// Forgets a claim whose answer is not kept (it may be retried).
    async fn release(&self, user_id: i64, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Deletes records first used before `cutoff`.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
}
