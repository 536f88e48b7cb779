//! [`TokenRevocations`] over `revoked_tokens`, announced on `oms_revocations`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use ports::{StoreError, TokenRevocations};
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::events::{REVOCATIONS_CHANNEL, notify};
use crate::pool::PgPool;
use crate::schema::revoked_tokens;

#[derive(Clone)]
pub struct PgTokenRevocations {
    pool: PgPool,
}

impl PgTokenRevocations {
    pub fn new(pool: PgPool) -> PgTokenRevocations {
        PgTokenRevocations { pool }
    }
}

#[async_trait]
impl TokenRevocations for PgTokenRevocations {
    /// Inserts the revocation and notifies `oms_revocations` with the `jti`, in one transaction
    /// (listeners hear of it exactly when it is committed). Revoking again keeps the later expiry.
    async fn revoke(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| {
            diesel::insert_into(revoked_tokens::table)
                .values((
                    revoked_tokens::jti.eq(jti),
                    revoked_tokens::expires_at.eq(expires_at),
                ))
                .on_conflict(revoked_tokens::jti)
                .do_update()
                .set(revoked_tokens::expires_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Timestamptz,
                >(
                    "GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at)",
                )))
                .execute(conn)
                .await?;
            notify(conn, REVOCATIONS_CHANNEL, jti).await
        })
        .await
        .map_err(store_error)
    }

    async fn active(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        revoked_tokens::table
            .select(revoked_tokens::jti)
            .filter(revoked_tokens::expires_at.gt(diesel::dsl::now))
            .order(revoked_tokens::expires_at.asc())
            .load(&mut conn)
            .await
            .map_err(store_error)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let deleted =
            diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(deleted as u64)
    }
}
