//! `Idempotency-Key` records: the first answer to a request, kept to be replayed.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// An answer as sent: status, JSON body, `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// The right to run the request of a key, until the store's lease runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// This holder's claim: only it may `complete` or `release` the key.
    pub id: Uuid,
    /// What the request works on, fixed by the first claim: the order it creates (placement) or
    /// pays. A request that takes the key over gets the first claim's resource, never its own.
    pub resource: Uuid,
    /// The key was taken over from a request that never answered within the lease (its instance
    /// died): that request may have done part of the work, which the new holder finishes.
    pub resumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is the caller's: it runs the request, then `complete`s or `release`s the claim.
    Started(Claim),
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
    /// Claims `(user_id, scope, key)` for a request whose canonical hash is `request_hash` and
    /// which works on `resource` (kept with the first claim). Exactly one concurrent caller gets
    /// `Started`. A claim without an answer whose lease (the store's setting, counted from when it
    /// was claimed) has run out is taken over: `Started` with `resumed` and the first resource.
    async fn begin(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        request_hash: &str,
        resource: Uuid,
    ) -> Result<IdempotencyBegin, StoreError>;

    /// Stores the answer to replay. `false` when `claim` no longer holds the key (it was taken
    /// over after its lease): nothing is stored.
    async fn complete(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        claim: Uuid,
        response: &StoredResponse,
    ) -> Result<bool, StoreError>;

    /// Forgets `claim` while it has no answer (the request may be retried as new).
    async fn release(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        claim: Uuid,
    ) -> Result<(), StoreError>;

    /// Deletes records first used before `cutoff`.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
}
