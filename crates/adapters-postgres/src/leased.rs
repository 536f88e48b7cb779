//! What the leased delivery queues (`webhook_deliveries`, `email_deliveries`) share: the same
//! columns for the pending state (`status`, `next_attempt_at`, `leased_until`, `created_at`), so
//! the same statements for the next due time and the retention purge.

use std::time::Duration;

use diesel::sql_types::{Nullable, Timestamptz};
use diesel::{QueryableByName, sql_query};
use diesel_async::RunQueryDsl;
use ports::StoreError;
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::pool::PgPool;

/// A leased queue's table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Queue {
    Webhooks,
    Email,
}

impl Queue {
    fn table(self) -> &'static str {
        match self {
            Queue::Webhooks => "webhook_deliveries",
            Queue::Email => "email_deliveries",
        }
    }
}

#[derive(QueryableByName)]
struct NextDue {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<OffsetDateTime>,
}

/// Microseconds of `duration`, for `$n * interval '1 microsecond'`.
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// The soonest future time a pending row falls due or a lease runs out.
pub(crate) async fn next_due(
    pool: &PgPool,
    queue: Queue,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let table = queue.table();
    let mut conn = pool.get().await.map_err(store_error)?;
    let next: NextDue = sql_query(format!(
        "SELECT LEAST( \
             (SELECT min(next_attempt_at) FROM {table} \
              WHERE status = 'pending' AND next_attempt_at > now()), \
             (SELECT min(leased_until) FROM {table} \
              WHERE status = 'pending' AND leased_until IS NOT NULL)) AS at"
    ))
    .get_result(&mut conn)
    .await
    .map_err(store_error)?;
    Ok(next.at)
}

/// Deletes the rows queued before `cutoff`; returns how many.
pub(crate) async fn purge_before(
    pool: &PgPool,
    queue: Queue,
    cutoff: OffsetDateTime,
) -> Result<u64, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let deleted = sql_query(format!(
        "DELETE FROM {} WHERE created_at < $1",
        queue.table()
    ))
    .bind::<Timestamptz, _>(cutoff)
    .execute(&mut conn)
    .await
    .map_err(store_error)?;
    Ok(deleted as u64)
}
