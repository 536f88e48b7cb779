//! [`IdempotencyStore`] over `idempotency_keys`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ports::{IdempotencyBegin, IdempotencyStore, StoreError, StoredResponse};
use time::{Duration, OffsetDateTime};

use crate::errors::store_error;
use crate::pool::PgPool;
use crate::schema::idempotency_keys as keys;

/// Keys are kept this long from first use; an older record counts as absent (the SQL below
/// spells the same interval).
pub const KEY_LIFETIME: Duration = Duration::hours(24);

#[derive(Clone)]
pub struct PgIdempotencyStore {
    pool: PgPool,
}

impl PgIdempotencyStore {
    pub fn new(pool: PgPool) -> PgIdempotencyStore {
        PgIdempotencyStore { pool }
    }
}

#[derive(Queryable)]
struct KeyRow {
    request_hash: String,
    response_status: Option<i32>,
    response_body: Option<String>,
    response_location: Option<String>,
    created_at: OffsetDateTime,
    expired: bool,
}

#[async_trait]
impl IdempotencyStore for PgIdempotencyStore {
    /// `INSERT … ON CONFLICT DO NOTHING`: exactly one concurrent caller gets `Started`. The others
    /// read the row: another request hash → `Mismatch`; no answer yet → `InProgress`; else
    /// `Replay`. A record older than [`KEY_LIFETIME`] is deleted and the claim retried.
    async fn begin(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        // A few attempts: the record may be released or expire between our insert and our read.
        for _ in 0..3 {
            let inserted = diesel::insert_into(keys::table)
                .values((
                    keys::user_id.eq(user_id),
                    keys::scope.eq(scope),
                    keys::key.eq(key),
                    keys::request_hash.eq(request_hash),
                ))
                .on_conflict_do_nothing()
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
            if inserted == 1 {
                return Ok(IdempotencyBegin::Started);
            }
            let row: Option<KeyRow> = keys::table
                .find((user_id, scope, key))
                .select((
                    keys::request_hash,
                    keys::response_status,
                    keys::response_body,
                    keys::response_location,
                    keys::created_at,
                    // The database's clock decides, like the `created_at` default.
                    diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "created_at < now() - interval '24 hours'",
                    ),
                ))
                .first(&mut conn)
                .await
                .optional()
                .map_err(store_error)?;
            let Some(row) = row else {
                continue;
            };
            if row.expired {
                diesel::delete(
                    keys::table
                        .find((user_id, scope, key))
                        .filter(keys::created_at.eq(row.created_at)),
                )
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
                continue;
            }
            if row.request_hash != request_hash {
                return Ok(IdempotencyBegin::Mismatch);
            }
            return Ok(match row.response_status {
                None => IdempotencyBegin::InProgress,
                Some(status) => IdempotencyBegin::Replay(StoredResponse {
                    status: u16::try_from(status).map_err(|_| {
                        StoreError::Internal(format!("stored response status {status}"))
                    })?,
                    body: row.response_body.unwrap_or_default(),
                    location: row.response_location,
                }),
            });
        }
        // Three races in a row: treat as in progress (the client retries).
        Ok(IdempotencyBegin::InProgress)
    }

    async fn complete(
        &self,
        user_id: i64,
        scope: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        diesel::update(keys::table.find((user_id, scope, key)))
            .set((
                keys::response_status.eq(i32::from(response.status)),
                keys::response_body.eq(&response.body),
                keys::response_location.eq(response.location.as_deref()),
            ))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Deletes the claim only while it has no answer, so a completed record is never lost.
    async fn release(&self, user_id: i64, scope: &str, key: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        diesel::delete(
            keys::table
                .find((user_id, scope, key))
                .filter(keys::response_status.is_null()),
        )
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let deleted = diesel::delete(keys::table.filter(keys::created_at.lt(cutoff)))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(deleted as u64)
    }
}
