//! Reading orders. Lists are keyset-paginated on `(created_at, id)` descending: a row comparison
//! `(created_at, id) < ($1, $2)` that the `(… created_at DESC, id DESC)` indexes serve directly,
//! so equal timestamps neither repeat nor skip an order and a deep page costs what the first does.

use std::collections::HashMap;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::OrderStatus;
use ports::{Order, OrderCursor, OrderFilter, ReconcileHorizon, StoreError, StoredEvent};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::{TxError, store_error};
use crate::pool::PgPool;
use crate::rows::{EventRow, ItemRow, OrderRow, events_from_rows, group_items};
use crate::schema::{order_events, order_items, orders, users};
use crate::users::lower;

/// The order with its items, shipments and refunds, read in one `REPEATABLE READ` snapshot: a
/// shipment or a refund settling between two of the reads would otherwise show a mix (a refund
/// `succeeded` on an order whose `refunded_amount` is still 0).
pub(super) async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Order>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| read_one(conn, id).await.map_err(TxError::Op))
        .await
        .map_err(TxError::into_op)
}

async fn read_one(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Order>, StoreError> {
    let row: Option<OrderRow> = orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(store_error)?;
    match row {
        None => Ok(None),
        Some(row) => {
            let items = super::status::load_items(conn, id)
                .await
                .map_err(store_error)?;
            let with_refunds = super::refund::with_refunds(&[&row]);
            let mut order = [row.into_order(items)?];
            super::ship::attach(conn, &mut order).await?;
            super::refund::attach(conn, &mut order, &with_refunds).await?;
            let [order] = order;
            Ok(Some(order))
        }
    }
}

/// `query` restricted by every filter given, after `after`, newest first, `limit` rows.
fn filtered<'a, ST: 'a>(
    mut query: orders::BoxedQuery<'a, Pg, ST>,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u32,
) -> orders::BoxedQuery<'a, Pg, ST> {
    match filter.statuses.as_slice() {
        [] => {}
        // `status = $1`, not `= ANY($1)`: PostgreSQL 15 walks `(status, created_at DESC, id DESC)`
        // in order only for an equality (75 ms → 1.7 ms for a first page on 1M orders, see
        // docs/admin-queries.md).
        [status] => query = query.filter(orders::status.eq(status.as_str())),
        statuses => {
            let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
            query = query.filter(orders::status.eq_any(statuses));
        }
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(orders::user_id.eq(user_id));
    }
    if let Some(email) = &filter.email {
        query = query.filter(
            orders::user_id.eq_any(
                users::table
                    .select(users::id)
                    .filter(lower(users::email).eq(lower(email.clone()))),
            ),
        );
    }
    if let Some(from) = filter.created_from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(orders::created_at.lt(to));
    }
    if let Some(min) = filter.min_total {
        query = query.filter(orders::total_amount.ge(min));
    }
    if let Some(max) = filter.max_total {
        query = query.filter(orders::total_amount.le(max));
    }
    if let Some(cursor) = after {
        query = query.filter(
            diesel::dsl::sql::<Bool>("(orders.created_at, orders.id) < (")
                .bind::<Timestamptz, _>(cursor.created_at)
                .sql(", ")
                .bind::<diesel::sql_types::Uuid, _>(cursor.id)
                .sql(")"),
        );
    }
    query
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(i64::from(limit))
}

/// Orders matching `filter`, newest first, with their items (two statements).
pub(super) async fn list(
    pool: &PgPool,
    filter: &OrderFilter,
    after: Option<OrderCursor>,
    limit: u32,
) -> Result<Vec<Order>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let query = filtered(
        orders::table.select(OrderRow::as_select()).into_boxed(),
        filter,
        after,
        limit,
    );
    let rows: Vec<OrderRow> = query.load(&mut conn).await.map_err(store_error)?;
    with_items(&mut conn, rows).await
}

/// Attaches their items to `rows` (one statement for the whole page).
async fn with_items(
    conn: &mut AsyncPgConnection,
    rows: Vec<OrderRow>,
) -> Result<Vec<Order>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let items: Vec<ItemRow> = order_items::table
        .filter(order_items::order_id.eq_any(&ids))
        .select(ItemRow::as_select())
        .order((order_items::order_id, order_items::id))
        .load(conn)
        .await
        .map_err(store_error)?;
    let mut by_order: HashMap<Uuid, Vec<ItemRow>> = group_items(items);
    let with_refunds = super::refund::with_refunds(&rows.iter().collect::<Vec<_>>());
    let mut orders = rows
        .into_iter()
        .map(|row| {
            let items = by_order.remove(&row.id).unwrap_or_default();
            row.into_order(items)
        })
        .collect::<Result<Vec<Order>, StoreError>>()?;
    super::ship::attach(conn, &mut orders).await?;
    super::refund::attach(conn, &mut orders, &with_refunds).await?;
    Ok(orders)
}

pub(super) async fn history(pool: &PgPool, order_id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let rows: Vec<EventRow> = order_events::table
        .filter(order_events::order_id.eq(order_id))
        .select(EventRow::as_select())
        .order(order_events::id.asc())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
    events_from_rows(rows)
}

/// `PENDING` orders created before `created_before`, or whose charge is `processing`, oldest
/// first (the partial index on pending orders serves it).
///
/// `FOR UPDATE SKIP LOCKED` here runs in its own implicit transaction, so its locks end with the
/// statement: it only skips orders that another instance is changing at this very moment. It is
/// not what makes reconciliation exactly-once: the caller then calls `change_status`, which
/// re-locks the order, re-checks its status and payment status, and updates
/// `WHERE status = <from>`, so of two instances reconciling the same order only one moves it.
pub(super) async fn pending_to_reconcile(
    pool: &PgPool,
    created_before: OffsetDateTime,
    attempted_before: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Order>, StoreError> {
    use domain::PaymentStatus;
    let mut conn = pool.get().await.map_err(store_error)?;
    let rows: Vec<OrderRow> = orders::table
        .select(OrderRow::as_select())
        .filter(orders::status.eq(OrderStatus::Pending.as_str()))
        .filter(
            orders::created_at
                .lt(created_before)
                .and(orders::payment_status.ne(PaymentStatus::Processing.as_str()))
                .or(orders::payment_status
                    .eq(PaymentStatus::Processing.as_str())
                    .and(orders::payment_attempted_at.lt(attempted_before))),
        )
        .order((orders::created_at.asc(), orders::id.asc()))
        .limit(i64::from(limit))
        .load(&mut conn)
        .await
        .map_err(store_error)?;
    with_items(&mut conn, rows).await
}

/// Two index lookups: `orders_pending_idx` (the oldest unpaid or failed order, read in creation
/// order past the few `processing` ones) and `orders_processing_idx`.
pub(super) async fn reconcile_horizon(pool: &PgPool) -> Result<ReconcileHorizon, StoreError> {
    use diesel::sql_types::{Nullable, Timestamptz};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        oldest_unpaid: Option<OffsetDateTime>,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        oldest_processing: Option<OffsetDateTime>,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        oldest_pending_refund: Option<OffsetDateTime>,
    }
    let mut conn = pool.get().await.map_err(store_error)?;
    let row: Row = Cached(diesel::sql_query(
        "SELECT (SELECT created_at FROM orders \
                  WHERE status = 'PENDING' AND payment_status IN ('unpaid', 'failed') \
                  ORDER BY created_at LIMIT 1) AS oldest_unpaid, \
                (SELECT payment_attempted_at FROM orders \
                  WHERE status = 'PENDING' AND payment_status = 'processing' \
                  ORDER BY payment_attempted_at LIMIT 1) AS oldest_processing, \
                (SELECT created_at FROM refunds WHERE status = 'pending' \
                  ORDER BY created_at LIMIT 1) AS oldest_pending_refund",
    ))
    .get_result(&mut conn)
    .await
    .map_err(store_error)?;
    Ok(ReconcileHorizon {
        oldest_unpaid: row.oldest_unpaid,
        oldest_processing: row.oldest_processing,
        oldest_pending_refund: row.oldest_pending_refund,
    })
}
