//! Moving an order through the state machine, and payment-status updates.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{InvalidTransition, OrderStatus, PaymentEffect, PaymentStatus, transition};
use ports::{ChangeStatusError, Order, PaymentUpdateError, StatusChange, StoreError};
use uuid::Uuid;

use crate::errors::{TxError, store_error};
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow};
use crate::schema::{order_items, orders};

type Tx<T> = Result<T, TxError<ChangeStatusError>>;

fn op<T>(e: impl Into<ChangeStatusError>) -> Tx<T> {
    Err(TxError::Op(e.into()))
}

/// One transaction:
/// 1. `SELECT … FOR UPDATE` the order (another user's order is `NotFound`); concurrent changes of
///    the same order queue here, and each sees the status the previous one committed;
/// 2. the `If-Match` version, the domain's transition, the expected payment statuses;
/// 3. on a move to `CANCELLED`, the order's stock goes back (products locked in id order first,
///    like placement, so the two never deadlock); `CANCELLED` is final, so this happens once;
/// 4. `UPDATE orders … WHERE id = $1 AND status = <from>` (one row, or the change is refused);
/// 5. the event and its `NOTIFY`.
pub(super) async fn change_status(
    pool: &PgPool,
    change: &StatusChange,
) -> Result<Order, ChangeStatusError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    conn.transaction(async |conn| change_in(conn, change).await)
        .await
        .map_err(TxError::into_op)
}

async fn change_in(conn: &mut AsyncPgConnection, change: &StatusChange) -> Tx<Order> {
    let current: Option<OrderRow> = orders::table
        .find(change.order_id)
        .select(OrderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some(current) = current.filter(|o| change.owner.is_none_or(|owner| owner == o.user_id))
    else {
        return op(ChangeStatusError::NotFound);
    };
    if change
        .expected_version
        .is_some_and(|v| v != current.version)
    {
        return op(ChangeStatusError::PreconditionFailed);
    }
    let from = current.status().map_err(store)?;
    let payment_status = current.payment_status().map_err(store)?;
    let moved = match transition(from, change.to) {
        Ok(moved) => moved,
        Err(e) => return op(e),
    };
    if !change.payment_status_in.is_empty() && !change.payment_status_in.contains(&payment_status) {
        return op(InvalidTransition {
            from,
            to: change.to,
        });
    }
    let (payment_status, collected, reference) = match moved.payment {
        PaymentEffect::None => (
            payment_status,
            current.payment_collected,
            current.payment_reference.clone(),
        ),
        PaymentEffect::Capture => (
            PaymentStatus::Captured,
            true,
            change
                .payment_reference
                .clone()
                .or_else(|| current.payment_reference.clone()),
        ),
        PaymentEffect::Refund => (
            PaymentStatus::Refunded,
            current.payment_collected,
            current.payment_reference.clone(),
        ),
    };
    let (carrier, number) = match &change.tracking {
        Some(t) => (Some(t.carrier.clone()), Some(t.tracking_number.clone())),
        None => (
            current.tracking_carrier.clone(),
            current.tracking_number.clone(),
        ),
    };

    let items = load_items(conn, change.order_id).await?;
    if moved.release_stock {
        release_stock(conn, &items).await?;
    }
    let updated: Option<OrderRow> = diesel::update(
        orders::table
            .filter(orders::id.eq(change.order_id))
            .filter(orders::status.eq(from.as_str())),
    )
    .set((
        orders::status.eq(moved.to.as_str()),
        orders::payment_status.eq(payment_status.as_str()),
        orders::payment_collected.eq(collected),
        orders::payment_reference.eq(reference),
        orders::tracking_carrier.eq(carrier),
        orders::tracking_number.eq(number),
        orders::version.eq(orders::version + 1),
        orders::updated_at.eq(diesel::dsl::now),
    ))
    .returning(OrderRow::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    let Some(updated) = updated else {
        // Impossible while we hold the row lock; refuse rather than write a second change.
        return op(InvalidTransition {
            from,
            to: change.to,
        });
    };
    let event = NewEvent::new(
        updated.id,
        updated.user_id,
        moved.event.kind,
        Some(from),
        moved.to,
        payment_status,
        updated.total_amount,
        change.actor,
        change.note.clone(),
    );
    append_events(conn, &[event]).await?;
    updated.into_order(items).map_err(store)
}

fn store(e: StoreError) -> TxError<ChangeStatusError> {
    TxError::Op(ChangeStatusError::Store(e))
}

pub(super) async fn load_items(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> Result<Vec<ItemRow>, diesel::result::Error> {
    order_items::table
        .filter(order_items::order_id.eq(order_id))
        .select(ItemRow::as_select())
        .order(order_items::id.asc())
        .load(conn)
        .await
}

/// Gives the items' quantities back to their products: locks the products in id order (the
/// order placement uses), then one batched `UPDATE`. Stock is capped at the maximum the schema
/// allows rather than failing a cancellation (only reachable if an admin set it near 2^31 − 1).
async fn release_stock(
    conn: &mut AsyncPgConnection,
    items: &[ItemRow],
) -> Result<(), diesel::result::Error> {
    let mut ids: Vec<i64> = items.iter().map(|i| i.product_id).collect();
    ids.sort_unstable();
    let quantities: Vec<i64> = {
        let mut by_id: Vec<(i64, i64)> = items.iter().map(|i| (i.product_id, i.quantity)).collect();
        by_id.sort_unstable();
        by_id.into_iter().map(|(_, q)| q).collect()
    };
    diesel::sql_query("SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind::<Array<BigInt>, _>(&ids)
        .execute(conn)
        .await?;
    diesel::sql_query(
        "UPDATE products p \
            SET stock_quantity = LEAST(p.stock_quantity + v.quantity, 2147483647), \
                version = p.version + 1, updated_at = now() \
           FROM unnest($1::bigint[], $2::bigint[]) AS v(product_id, quantity) \
          WHERE p.id = v.product_id",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<BigInt>, _>(&quantities)
    .execute(conn)
    .await?;
    Ok(())
}

/// `UPDATE … WHERE status = 'PENDING' AND payment_status = ANY(from)`: no lock to take, no event.
/// When nothing matched, one read tells `NotFound` from `NotPayable`.
pub(super) async fn set_payment_status(
    pool: &PgPool,
    order_id: Uuid,
    from: &[PaymentStatus],
    to: PaymentStatus,
) -> Result<Order, PaymentUpdateError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    // A charge in flight is dated by the database's clock, for the reconciler.
    let attempted_at =
        diesel::dsl::sql::<Nullable<Timestamptz>>(if to == PaymentStatus::Processing {
            "now()"
        } else {
            "orders.payment_attempted_at"
        });
    let updated: Option<OrderRow> = diesel::update(
        orders::table
            .filter(orders::id.eq(order_id))
            .filter(orders::status.eq(OrderStatus::Pending.as_str()))
            .filter(orders::payment_status.eq_any(from)),
    )
    .set((
        orders::payment_status.eq(to.as_str()),
        orders::payment_attempted_at.eq(attempted_at),
        orders::version.eq(orders::version + 1),
        orders::updated_at.eq(diesel::dsl::now),
    ))
    .returning(OrderRow::as_returning())
    .get_result(&mut conn)
    .await
    .optional()
    .map_err(store_error)?;
    let row = match updated {
        Some(row) => row,
        None => {
            let current: Option<OrderRow> = orders::table
                .find(order_id)
                .select(OrderRow::as_select())
                .first(&mut conn)
                .await
                .optional()
                .map_err(store_error)?;
            return Err(match current {
                None => PaymentUpdateError::NotFound,
                Some(row) => PaymentUpdateError::NotPayable {
                    status: row.status()?,
                    payment_status: row.payment_status()?,
                },
            });
        }
    };
    let items = load_items(&mut conn, order_id).await.map_err(store_error)?;
    Ok(row.into_order(items)?)
}
