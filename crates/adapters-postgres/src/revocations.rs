//! [`TokenRevocations`] over `revoked_tokens` and `users.token_generation`, announced on
//! `oms_revocations` (payloads: [`Revocation::payload`]) and logged in `revocation_log` for the bus
//! ([`RevocationLog`]), both in the revoking transaction.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ports::{
    AuditEntry, LoggedRevocation, Revocation, RevocationLog, StoreError, TokenRevocations,
    UserGeneration,
};
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::events::{REVOCATIONS_CHANNEL, notify};
use crate::pool::PgPool;
use crate::schema::{revocation_log, revoked_tokens, users};

/// The advisory lock every revoking transaction holds from its `revocation_log` insert to its
/// commit ("oms_revk"): ids then ascend in commit order (see the migration).
pub const REVOCATION_LOCK_KEY: i64 = 0x6f6d_735f_7265_766b;

/// How long `revocation_log` keeps a row (the publisher needs it for milliseconds).
pub const REVOCATION_LOG_RETENTION: time::Duration = time::Duration::days(1);

/// Announces `revocation` to every instance when the caller's transaction commits: `NOTIFY
/// oms_revocations` (`EVENT_BUS=postgres`) and a `revocation_log` row (`EVENT_BUS=nats`).
async fn announce(
    conn: &mut AsyncPgConnection,
    revocation: &Revocation,
) -> Result<(), diesel::result::Error> {
    let payload = revocation.payload();
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(REVOCATION_LOCK_KEY)
        .execute(conn)
        .await?;
    diesel::insert_into(revocation_log::table)
        .values(revocation_log::payload.eq(&payload))
        .execute(conn)
        .await?;
    notify(conn, REVOCATIONS_CHANNEL, &payload).await
}

/// Tells every instance (when the caller's transaction commits) that the user's tokens below
/// `generation` are revoked.
pub(crate) async fn notify_user_generation(
    conn: &mut AsyncPgConnection,
    generation: UserGeneration,
) -> Result<(), diesel::result::Error> {
    announce(conn, &Revocation::User(generation)).await
}

#[derive(Clone)]
pub struct PgTokenRevocations {
    pool: PgPool,
}

impl PgTokenRevocations {
    pub fn new(pool: PgPool) -> PgTokenRevocations {
        PgTokenRevocations { pool }
    }
}

/// Inserts the revocation (keeping the later expiry) and notifies its `jti`.
async fn revoke_on(
    conn: &mut AsyncPgConnection,
    jti: &str,
    expires_at: OffsetDateTime,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::expires_at.eq(expires_at),
        ))
        .on_conflict(revoked_tokens::jti)
        .do_update()
        .set(
            revoked_tokens::expires_at.eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
                "GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at)",
            )),
        )
        .execute(conn)
        .await?;
    announce(conn, &Revocation::Token(jti.to_owned())).await
}

#[async_trait]
impl TokenRevocations for PgTokenRevocations {
    /// Inserts the revocation and notifies `oms_revocations` with the `jti`, in one transaction
    /// (listeners hear of it exactly when it is committed). Revoking again keeps the later expiry.
    async fn revoke(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| revoke_on(conn, jti, expires_at).await)
            .await
            .map_err(store_error)
    }

    async fn sign_out(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| {
            revoke_on(conn, jti, expires_at).await?;
            crate::audit::insert(conn, audit).await
        })
        .await
        .map_err(store_error)
    }

    async fn user_generations(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<UserGeneration>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<(i64, i64)> = users::table
            .select((users::id, users::token_generation))
            .filter(users::tokens_revoked_at.ge(since))
            .order(users::id.asc())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(user_id, min_generation)| UserGeneration {
                user_id,
                min_generation,
            })
            .collect())
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
        diesel::delete(
            revocation_log::table
                .filter(revocation_log::logged_at.lt(now - REVOCATION_LOG_RETENTION)),
        )
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
        let deleted =
            diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(deleted as u64)
    }
}

#[async_trait]
impl RevocationLog for PgTokenRevocations {
    /// The lock in [`announce`] orders ids by commit, so reading past an id is safe (as
    /// `PgEventLog::events_after` is for events).
    async fn revocations_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LoggedRevocation>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<(i64, String)> = revocation_log::table
            .select((revocation_log::id, revocation_log::payload))
            .filter(revocation_log::id.gt(after))
            .order(revocation_log::id.asc())
            .limit(i64::from(limit))
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, payload)| LoggedRevocation {
                id,
                revocation: Revocation::parse(&payload),
            })
            .collect())
    }
}
