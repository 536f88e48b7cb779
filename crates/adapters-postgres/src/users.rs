//! [`UserRepository`] over `users`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use domain::Role;
use ports::{CreateUserError, StoreError, User, UserCredentials, UserRepository};

use crate::errors::{store_error, violates_unique};
use crate::pool::PgPool;
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
        // promoted rather than duplicated.
        let row: UserRow = diesel::sql_query(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'ADMIN') \
             ON CONFLICT ((lower(email))) DO UPDATE \
               SET password_hash = EXCLUDED.password_hash, role = 'ADMIN', updated_at = now() \
             RETURNING id, email, password_hash, role, created_at",
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
}
