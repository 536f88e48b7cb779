//! [`CustomerRepository`] over `users`, with each user's figures summed from their orders.
//!
//! The figures (`order_count`, `total_spent`, `last_order_at`) are a `LATERAL` aggregate per
//! listed user over `orders_user_figures_idx (user_id, created_at DESC, id DESC) INCLUDE
//! (total_amount, refunded_amount, payment_collected)`: an index-only scan of that user's orders,
//! run only for the users of the page (the `LIMIT` stops the nested loop). So the figures are
//! exact in every transaction, and placing or refunding an order writes no user row.
//!
//! Changes of status or role take the transaction-level advisory lock [`CUSTOMER_LOCK_KEY`] first,
//! then count the other active admins: two admins demoting each other at the same moment are
//! serialised, and the second one counts without the first (`last_admin`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{Account, AccountChange, decide_account_change};
use ports::audit::{action, target};
use ports::{
    AuditContext, AuditTarget, Changes, Customer, CustomerQuery, CustomerRepository,
    CustomerUpdate, StoreError, UpdateCustomerError, UserGeneration,
};
use time::OffsetDateTime;

use crate::cached::Cached;
use crate::errors::{TxError, store_error};
use crate::pool::PgPool;
use crate::products::like_pattern;
use crate::revocations::notify_user_generation;
use crate::rows::{parse_role, parse_user_status};
use crate::schema::users;

/// The advisory lock every change of a user's status or role holds until it commits ("oms_cust").
pub const CUSTOMER_LOCK_KEY: i64 = 0x6f6d_735f_6375_7374;

/// The columns of a customer, then `FROM users u` and the figures; `WHERE` follows.
const SELECT_CUSTOMERS: &str = "\
SELECT u.id, u.email, u.role, u.status, u.version, u.created_at, u.updated_at, \
       f.order_count, f.total_spent, f.last_order_at \
  FROM users u \
 CROSS JOIN LATERAL ( \
       SELECT count(*) AS order_count, \
              (COALESCE(sum(o.total_amount) FILTER (WHERE o.payment_collected), 0) \
               - COALESCE(sum(o.refunded_amount), 0))::bigint AS total_spent, \
              max(o.created_at) AS last_order_at \
         FROM orders o \
        WHERE o.user_id = u.id) f";

#[derive(Debug, QueryableByName)]
struct CustomerRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: OffsetDateTime,
    #[diesel(sql_type = Timestamptz)]
    updated_at: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    order_count: i64,
    #[diesel(sql_type = BigInt)]
    total_spent: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_order_at: Option<OffsetDateTime>,
}

impl CustomerRow {
    fn customer(self) -> Result<Customer, StoreError> {
        Ok(Customer {
            id: self.id,
            role: parse_role(&self.role)?,
            status: parse_user_status(&self.status)?,
            email: self.email,
            order_count: self.order_count,
            total_spent: self.total_spent,
            last_order_at: self.last_order_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The user's row as a change of status or role reads it, locked.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct AccountRow {
    role: String,
    status: String,
    version: i64,
}

impl AccountRow {
    fn account(&self) -> Result<Account, StoreError> {
        Ok(Account {
            role: parse_role(&self.role)?,
            status: parse_user_status(&self.status)?,
        })
    }
}

#[derive(Clone)]
pub struct PgCustomerRepository {
    pool: PgPool,
}

impl PgCustomerRepository {
    pub fn new(pool: PgPool) -> PgCustomerRepository {
        PgCustomerRepository { pool }
    }
}

async fn get_on(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> Result<Option<CustomerRow>, diesel::result::Error> {
    Cached(diesel::sql_query(format!("{SELECT_CUSTOMERS} WHERE u.id = $1")).bind::<BigInt, _>(id))
        .get_result(conn)
        .await
        .optional()
}

/// How many active admins there are besides `id`.
async fn other_active_admins(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> Result<u64, diesel::result::Error> {
    let n: i64 = users::table
        .filter(users::role.eq("ADMIN"))
        .filter(users::status.eq("active"))
        .filter(users::id.ne(id))
        .count()
        .get_result(conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether `id` is an active admin now.
async fn is_active_admin(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> Result<bool, diesel::result::Error> {
    let n: i64 = users::table
        .filter(users::id.eq(id))
        .filter(users::role.eq("ADMIN"))
        .filter(users::status.eq("active"))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

type UpdateTx = TxError<UpdateCustomerError>;

fn op(e: impl Into<UpdateCustomerError>) -> UpdateTx {
    TxError::Op(e.into())
}

async fn update_on(
    conn: &mut AsyncPgConnection,
    id: i64,
    change: AccountChange,
    expected_version: Option<i64>,
    ctx: &AuditContext,
) -> Result<CustomerUpdate, UpdateTx> {
    Cached(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(CUSTOMER_LOCK_KEY),
    )
    .execute(conn)
    .await?;
    let current: AccountRow = users::table
        .find(id)
        .select(AccountRow::as_select())
        // NO KEY: an order placed for this user meanwhile (its foreign key takes KEY SHARE)
        // neither waits for this change nor makes it wait.
        .for_no_key_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| op(UpdateCustomerError::NotFound))?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(op(UpdateCustomerError::PreconditionFailed));
    }
    let before = current.account().map_err(op)?;
    let actor = ctx
        .actor
        .ok_or_else(|| op(UpdateCustomerError::ActorNotAdmin))?;
    let others = other_active_admins(conn, id).await?;
    let Some(after) = decide_account_change(actor.id, id, before, change, others).map_err(op)?
    else {
        let customer = get_on(conn, id)
            .await?
            .ok_or_else(|| op(UpdateCustomerError::NotFound))?;
        return Ok(CustomerUpdate {
            customer: customer.customer().map_err(op)?,
            revoked_below: None,
        });
    };
    if !is_active_admin(conn, actor.id).await? {
        return Err(op(UpdateCustomerError::ActorNotAdmin));
    }
    let generation: i64 = diesel::update(users::table.find(id))
        .set((
            users::role.eq(after.role.as_str()),
            users::status.eq(after.status.as_str()),
            users::token_generation.eq(users::token_generation + 1),
            users::tokens_revoked_at.eq(diesel::dsl::now),
            users::version.eq(users::version + 1),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(users::token_generation)
        .get_result(conn)
        .await?;
    let mut changes = Changes::new();
    changes
        .field("status", before.status.as_str(), after.status.as_str())
        .field("role", before.role.as_str(), after.role.as_str());
    let entry = ctx
        .entry(
            action::CUSTOMER_UPDATED,
            Some(AuditTarget::new(target::USER, id)),
        )
        .with_changes(changes);
    crate::audit::insert(conn, &entry).await?;
    notify_user_generation(
        conn,
        UserGeneration {
            user_id: id,
            min_generation: generation,
        },
    )
    .await?;
    let customer = get_on(conn, id)
        .await?
        .ok_or_else(|| op(UpdateCustomerError::NotFound))?;
    Ok(CustomerUpdate {
        customer: customer.customer().map_err(op)?,
        revoked_below: Some(generation),
    })
}

#[async_trait]
impl CustomerRepository for PgCustomerRepository {
    async fn list(&self, query: &CustomerQuery) -> Result<Vec<Customer>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let mut sql = format!("{SELECT_CUSTOMERS} WHERE TRUE");
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let q = query
            .q
            .as_deref()
            .filter(|q| !q.is_empty())
            .map(like_pattern);
        let searching = q.is_some();
        if searching {
            sql.push_str(&format!(" AND u.email ILIKE ${} ESCAPE '\\'", next()));
        }
        if query.role.is_some() {
            sql.push_str(&format!(" AND u.role = ${}", next()));
        }
        if query.status.is_some() {
            sql.push_str(&format!(" AND u.status = ${}", next()));
        }
        if query.after.is_some() {
            let (at, id) = (next(), next());
            sql.push_str(&format!(" AND (u.created_at, u.id) < (${at}, ${id})"));
        }
        sql.push_str(&format!(
            " ORDER BY u.created_at DESC, u.id DESC LIMIT ${}",
            next()
        ));
        let mut statement = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
        if let Some(pattern) = q {
            statement = statement.bind::<Text, _>(pattern);
        }
        if let Some(role) = query.role {
            statement = statement.bind::<Text, _>(role.as_str());
        }
        if let Some(status) = query.status {
            statement = statement.bind::<Text, _>(status.as_str());
        }
        if let Some(after) = query.after {
            statement = statement
                .bind::<Timestamptz, _>(after.created_at)
                .bind::<BigInt, _>(after.id);
        }
        statement = statement.bind::<BigInt, _>(i64::from(query.limit));
        // With `q`, planned for its pattern each time (not a cached statement's generic plan): a
        // pattern that matches few users is found through `users_email_trgm_idx`, one that
        // matches most by walking `users_created_idx` newest first.
        let rows: Vec<CustomerRow> = if searching {
            statement.load(&mut conn).await
        } else {
            Cached(statement).load(&mut conn).await
        }
        .map_err(store_error)?;
        rows.into_iter().map(CustomerRow::customer).collect()
    }

    async fn get(&self, id: i64) -> Result<Option<Customer>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        get_on(&mut conn, id)
            .await
            .map_err(store_error)?
            .map(CustomerRow::customer)
            .transpose()
    }

    async fn update(
        &self,
        id: i64,
        change: AccountChange,
        expected_version: Option<i64>,
        ctx: &AuditContext,
    ) -> Result<CustomerUpdate, UpdateCustomerError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        conn.transaction(async |conn| update_on(conn, id, change, expected_version, ctx).await)
            .await
            .map_err(TxError::into_op)
    }
}
