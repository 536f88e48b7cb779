//! [`IdempotencyStore`] over `idempotency_keys`.
//!
//! A claim holds its key for the store's lease, counted from when it was claimed; the database's
//! clock decides (`now()`), so instances with skewed clocks agree. A claim without an answer past
//! its lease is taken over by exactly one retry (a conditional `UPDATE` on the old claim).

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use ports::{Claim, IdempotencyBegin, IdempotencyStore, StoreError, StoredResponse};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::pool::PgPool;

/// Keys are kept this long from first use; an older record counts as absent (the SQL below
/// spells the same interval).
pub const KEY_LIFETIME: Duration = Duration::hours(24);

#[derive(Clone)]
pub struct PgIdempotencyStore {
    pool: PgPool,
    /// The lease in microseconds, as the SQL takes it.
    lease_micros: i64,
}

impl PgIdempotencyStore {
    /// `lease`: how long a claim without an answer holds its key (`IDEMPOTENCY_LEASE`).
    pub fn new(pool: PgPool, lease: std::time::Duration) -> PgIdempotencyStore {
        PgIdempotencyStore {
            pool,
            lease_micros: i64::try_from(lease.as_micros()).unwrap_or(i64::MAX),
        }
    }
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    request_hash: String,
    #[diesel(sql_type = Nullable<Int4>)]
    response_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    response_location: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = SqlUuid)]
    claim: Uuid,
    #[diesel(sql_type = Bool)]
    expired: bool,
    #[diesel(sql_type = Bool)]
    lease_over: bool,
}

#[derive(QueryableByName)]
struct ResourceRow {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    resource_id: Option<Uuid>,
}

const CLAIM: &str = "INSERT INTO idempotency_keys \
       (user_id, scope, key, request_hash, claim, resource_id, leased_until) \
     VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 microsecond') \
     ON CONFLICT DO NOTHING";

const READ: &str = "SELECT request_hash, response_status, response_body, response_location, \
            created_at, claim, created_at < now() - interval '24 hours' AS expired, \
            leased_until < now() AS lease_over \
       FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3";

/// Only the claim that was read, still unanswered and past its lease, is replaced.
const TAKE_OVER: &str = "UPDATE idempotency_keys \
        SET claim = $4, leased_until = now() + $6 * interval '1 microsecond' \
      WHERE user_id = $1 AND scope = $2 AND key = $3 AND claim = $5 \
        AND response_status IS NULL AND leased_until < now() \
     RETURNING resource_id";

const DELETE_EXPIRED: &str = "DELETE FROM idempotency_keys \
      WHERE user_id = $1 AND scope = $2 AND key = $3 AND created_at = $4";

const COMPLETE: &str = "UPDATE idempotency_keys \
        SET response_status = $5, response_body = $6, response_location = $7 \
      WHERE user_id = $1 AND scope = $2 AND key = $3 AND claim = $4";

/// Only while it has no answer, so a completed record is never lost.
const RELEASE: &str = "DELETE FROM idempotency_keys \
      WHERE user_id = $1 AND scope = $2 AND key = $3 AND claim = $4 \
        AND response_status IS NULL";

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    /// `INSERT … ON CONFLICT DO NOTHING`: exactly one concurrent caller gets `Started`. The others
    /// read the row: another request hash → `Mismatch`; an answer → `Replay`; no answer within
    /// the lease → `InProgress`; no answer past it → one of them takes it over. A record older
    /// than [`KEY_LIFETIME`] is deleted and the claim retried.
    async fn begin(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        request_hash: &str,
        resource: Uuid,
    ) -> Result<IdempotencyBegin, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let claim = Uuid::now_v7();
        // A few attempts: the record may be released, expire or be taken over between our
        // statements.
        for _ in 0..3 {
            let inserted = Cached(
                diesel::sql_query(CLAIM)
                    .bind::<BigInt, _>(user_id)
                    .bind::<Text, _>(scope)
                    .bind::<Text, _>(key)
                    .bind::<Text, _>(request_hash)
                    .bind::<SqlUuid, _>(claim)
                    .bind::<SqlUuid, _>(resource)
                    .bind::<BigInt, _>(self.lease_micros),
            )
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
            if inserted == 1 {
                return Ok(IdempotencyBegin::Started(Claim {
                    id: claim,
                    resource,
                    resumed: false,
                }));
            }
            let rows: Vec<KeyRow> = Cached(
                diesel::sql_query(READ)
                    .bind::<BigInt, _>(user_id)
                    .bind::<Text, _>(scope)
                    .bind::<Text, _>(key),
            )
            .load(&mut conn)
            .await
            .map_err(store_error)?;
            let Some(row) = rows.into_iter().next() else {
                continue;
            };
            if row.expired {
                Cached(
                    diesel::sql_query(DELETE_EXPIRED)
                        .bind::<BigInt, _>(user_id)
                        .bind::<Text, _>(scope)
                        .bind::<Text, _>(key)
                        .bind::<Timestamptz, _>(row.created_at),
                )
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
                continue;
            }
            if row.request_hash != request_hash {
                return Ok(IdempotencyBegin::Mismatch);
            }
            if let Some(status) = row.response_status {
                return Ok(IdempotencyBegin::Replay(StoredResponse {
                    status: u16::try_from(status).map_err(|_| {
                        StoreError::Internal(format!("stored response status {status}"))
                    })?,
                    body: row.response_body.unwrap_or_default(),
                    location: row.response_location,
                }));
            }
            if !row.lease_over {
                return Ok(IdempotencyBegin::InProgress);
            }
            let taken: Vec<ResourceRow> = Cached(
                diesel::sql_query(TAKE_OVER)
                    .bind::<BigInt, _>(user_id)
                    .bind::<Text, _>(scope)
                    .bind::<Text, _>(key)
                    .bind::<SqlUuid, _>(claim)
                    .bind::<SqlUuid, _>(row.claim)
                    .bind::<BigInt, _>(self.lease_micros),
            )
            .load(&mut conn)
            .await
            .map_err(store_error)?;
            if let Some(taken) = taken.into_iter().next() {
                return Ok(IdempotencyBegin::Started(Claim {
                    id: claim,
                    // A record claimed before resources were kept: the work starts afresh.
                    resource: taken.resource_id.unwrap_or(resource),
                    resumed: true,
                }));
            }
            // Another retry took it over first, or the answer arrived: read again.
        }
        // Three races in a row: treat as in progress (the client retries).
        Ok(IdempotencyBegin::InProgress)
    }

    async fn complete(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        claim: Uuid,
        response: &StoredResponse,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let updated = Cached(
            diesel::sql_query(COMPLETE)
                .bind::<BigInt, _>(user_id)
                .bind::<Text, _>(scope)
                .bind::<Text, _>(key)
                .bind::<SqlUuid, _>(claim)
                .bind::<Int4, _>(i32::from(response.status))
                .bind::<Text, _>(&response.body)
                .bind::<Nullable<Text>, _>(response.location.as_deref()),
        )
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(updated == 1)
    }

    async fn release(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        claim: Uuid,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        Cached(
            diesel::sql_query(RELEASE)
                .bind::<BigInt, _>(user_id)
                .bind::<Text, _>(scope)
                .bind::<Text, _>(key)
                .bind::<SqlUuid, _>(claim),
        )
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        use crate::schema::idempotency_keys as keys;
        use diesel::{ExpressionMethods as _, QueryDsl as _};
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let deleted = diesel::delete(keys::table.filter(keys::created_at.lt(cutoff)))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(deleted as u64)
    }
}
