//! [`UserRepository`] over `users`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::Role;
use ports::{
    AuditEntry, CreateUserError, StoreError, User, UserCredentials, UserGeneration, UserRepository,
};

use crate::errors::{store_error, violates_unique};
use crate::pool::PgPool;
use crate::revocations::notify_user_generation;
use crate::rows::UserRow;
use crate::schema::users;

/// The unique index on `lower(email)`.
pub const EMAIL_UNIQUE_INDEX: &str = "users_email_lower_key";

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`.
    fn lower(x: Text) -> Text;
}

#[derive(Clone)]
pub struct PgUserRepository {
    pool: PgPool,
}

impl PgUserRepository {
    pub fn new(pool: PgPool) -> PgUserRepository {
        PgUserRepository { pool }
    }
}

#[async_trait]
impl UserRepository for PgUserRepository {
    async fn create(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, CreateUserError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: UserRow = diesel::insert_into(users::table)
            .values((
                users::email.eq(email),
                users::password_hash.eq(password_hash),
                users::role.eq(role.as_str()),
            ))
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(|e| {
                if violates_unique(&e, EMAIL_UNIQUE_INDEX) {
                    CreateUserError::EmailTaken
                } else {
                    CreateUserError::Store(store_error(e))
                }
            })?;
        Ok(row.user()?)
    }

    async fn upsert_admin(&self, email: &str, password_hash: &str) -> Result<User, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        // `ON CONFLICT` on the expression index, so an existing user with the email in any case is
        // promoted rather than duplicated. The command line is also how a locked-out admin comes
        // back: the user is made active again.
        let row: UserRow = diesel::sql_query(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'ADMIN') \
             ON CONFLICT ((lower(email))) DO UPDATE \
               SET password_hash = EXCLUDED.password_hash, role = 'ADMIN', status = 'active', \
                   version = users.version + 1, updated_at = now() \
             RETURNING id, email, password_hash, role, status, token_generation, created_at",
        )
        .bind::<Text, _>(email)
        .bind::<Text, _>(password_hash)
        .get_result(&mut conn)
        .await
        .map_err(store_error)?;
        row.user()
    }

    async fn find_credentials(&self, email: &str) -> Result<Option<UserCredentials>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: Option<UserRow> = users::table
            .select(UserRow::as_select())
            .filter(lower(users::email).eq(lower(email)))
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(|row| {
            Ok(UserCredentials {
                user: row.user()?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    async fn find(&self, id: i64) -> Result<Option<User>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: Option<UserRow> = users::table
            .select(UserRow::as_select())
            .find(id)
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(|row| row.user()).transpose()
    }

    async fn credentials(&self, id: i64) -> Result<Option<UserCredentials>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: Option<UserRow> = users::table
            .select(UserRow::as_select())
            .find(id)
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(|row| {
            Ok(UserCredentials {
                user: row.user()?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    async fn change_password(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: Option<UserRow> = conn
            .transaction(async |conn| {
                let row: Option<UserRow> = diesel::update(users::table.find(id))
                    .set((
                        users::password_hash.eq(password_hash),
                        users::token_generation.eq(users::token_generation + 1),
                        users::tokens_revoked_at.eq(diesel::dsl::now),
                        users::version.eq(users::version + 1),
                        users::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
                if let Some(row) = &row {
                    crate::audit::insert(conn, audit).await?;
                    notify_user_generation(
                        conn,
                        UserGeneration {
                            user_id: row.id,
                            min_generation: row.token_generation,
                        },
                    )
                    .await?;
                }
                Ok::<_, diesel::result::Error>(row)
            })
            .await
            .map_err(store_error)?;
        row.map(|row| row.user()).transpose()
    }
}
