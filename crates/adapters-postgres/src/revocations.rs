//! [`TokenRevocations`] over `revoked_tokens` and `users.token_generation`, announced on
//! `oms_revocations`.
//!
//! Payloads of `oms_revocations` ([`Revocation`]):
//! - a token's `jti`, as it always was (our `jti`s are 32 hex digits: never a `:`);
//! - `user:<user_id>:<generation>`: every token of that user whose generation (claim `gen`) is
//!   below `<generation>` is revoked. Sent in the transaction that raised the user's
//!   `token_generation` (disable, role change, password change).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ports::{AuditEntry, StoreError, TokenRevocations, UserGeneration};
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::events::{REVOCATIONS_CHANNEL, notify};
use crate::pool::PgPool;
use crate::schema::{revoked_tokens, users};

/// What an `oms_revocations` payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One token, by its `jti` (logout).
    Token(String),
    /// Every token of a user below a generation.
    User(UserGeneration),
}

const USER_PREFIX: &str = "user:";

/// The payload announcing `generation`.
pub fn user_payload(generation: UserGeneration) -> String {
    format!(
        "{USER_PREFIX}{}:{}",
        generation.user_id, generation.min_generation
    )
}

/// Reads a payload: `user:<id>:<generation>` (both decimal integers) is a user's generation;
/// anything else is a `jti`.
pub fn parse_payload(payload: &str) -> Revocation {
    let user = payload.strip_prefix(USER_PREFIX).and_then(|rest| {
        let (id, generation) = rest.split_once(':')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(id) || !digits(generation) {
            return None;
        }
        Some(UserGeneration {
            user_id: id.parse().ok()?,
            min_generation: generation.parse().ok()?,
        })
    });
    match user {
        Some(generation) => Revocation::User(generation),
        None => Revocation::Token(payload.to_owned()),
    }
}

/// Tells every instance (when the caller's transaction commits) that the user's tokens below
/// `generation` are revoked.
pub(crate) async fn notify_user_generation(
    conn: &mut AsyncPgConnection,
    generation: UserGeneration,
) -> Result<(), diesel::result::Error> {
    notify(conn, REVOCATIONS_CHANNEL, &user_payload(generation)).await
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
    notify(conn, REVOCATIONS_CHANNEL, jti).await
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
        let deleted =
            diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
                .execute(&mut conn)
                .await
                .map_err(store_error)?;
        Ok(deleted as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_tell_users_from_tokens() {
        let generation = UserGeneration {
            user_id: 42,
            min_generation: 3,
        };
        assert_eq!(user_payload(generation), "user:42:3");
        assert_eq!(parse_payload("user:42:3"), Revocation::User(generation));
        let jti = "0192f3b1c2d34e5f8a9b0c1d2e3f4a5b";
        assert_eq!(parse_payload(jti), Revocation::Token(jti.into()));
        // Anything not exactly `user:<digits>:<digits>` is a jti.
        for other in [
            "user:",
            "user:42",
            "user:42:",
            "user::3",
            "user:-1:3",
            "user:42:3:1",
            "user:4x:3",
            "user:99999999999999999999:1",
            "USER:42:3",
        ] {
            assert_eq!(
                parse_payload(other),
                Revocation::Token(other.into()),
                "{other}"
            );
        }
    }
}
