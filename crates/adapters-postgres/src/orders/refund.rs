//! Refunds: reserved `pending` under the order's row lock (units and money held against every
//! other refund), then settled exactly once with the provider's answer: the units, stock, money
//! and fulfilment move in one transaction with the event, or the reservation is released.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use domain::{
    Cents, LineUnits, OrderAmounts, RefundItem, RefundUnitsError, Restock, accepts_refund,
    apply_refund_units, fulfillment_status, goodwill_amount, payment_status_after_refund,
    plan_refund_units, refund_amount, refund_event, remaining_captured, status_after, stock_back,
};
use ports::{NewRefund, Order, Refund, RefundError, RefundSettlement, RefundStatus, StoreError};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow};
use crate::schema::{orders, refund_items, refunds};

use super::status::{give_back_stock, load_items};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
struct RefundRow {
    id: Uuid,
    order_id: Uuid,
    amount: i64,
    shipping: bool,
    reason: String,
    status: String,
    created_at: OffsetDateTime,
}

impl RefundRow {
    fn into_refund(self, items: Vec<RefundItem>) -> Result<Refund, StoreError> {
        Ok(Refund {
            id: self.id,
            order_id: self.order_id,
            amount: self.amount,
            items,
            shipping: self.shipping,
            reason: self.reason,
            status: RefundStatus::parse(&self.status).ok_or_else(|| {
                StoreError::Internal(format!("unexpected refund status {:?}", self.status))
            })?,
            created_at: self.created_at,
        })
    }
}

/// A refusal found inside a transaction (it rolls back).
enum Refused {
    Refund(RefundError),
    Db(DieselError),
}

impl From<DieselError> for Refused {
    fn from(e: DieselError) -> Refused {
        Refused::Db(e)
    }
}

fn store(error: StoreError) -> Refused {
    Refused::Refund(RefundError::Store(error))
}

pub(super) async fn reserve(pool: &PgPool, new: &NewRefund) -> Result<Refund, RefundError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    match conn
        .transaction(async |conn| reserve_in(conn, new).await)
        .await
    {
        Ok(refund) => Ok(refund),
        Err(Refused::Refund(refused)) => Err(refused),
        Err(Refused::Db(e)) => Err(RefundError::Store(store_error(e))),
    }
}

async fn reserve_in(conn: &mut AsyncPgConnection, new: &NewRefund) -> Result<Refund, Refused> {
    let Some(order) = lock_order(conn, new.order_id).await? else {
        return Err(Refused::Refund(RefundError::NotFound));
    };
    if new.expected_version.is_some_and(|v| v != order.version) {
        return Err(Refused::Refund(RefundError::PreconditionFailed));
    }
    if !accepts_refund(order.payment_status().map_err(store)?) {
        return Err(Refused::Refund(RefundError::NotRefundable));
    }
    let rows = load_items(conn, new.order_id).await?;
    // Pending refunds hold their units and money: plan against the lines as if they succeeded.
    let pending = refunds_of(conn, &[new.order_id], Some(RefundStatus::Pending))
        .await?
        .remove(&new.order_id)
        .unwrap_or_default();
    let mut lines: Vec<LineUnits> = rows.iter().map(ItemRow::units).collect();
    for refund in &pending {
        apply_refund_units(&mut lines, &refund.items).map_err(|e| store(broken(&e)))?;
    }
    let held: i64 = pending.iter().map(|r| r.amount).sum();
    let remaining = remaining_captured(
        Cents(order.total_amount),
        Cents(order.refunded_amount.saturating_add(held)),
    );
    if new.shipping && (order.shipping_refunded || pending.iter().any(|r| r.shipping)) {
        return Err(Refused::Refund(RefundError::ShippingRefunded));
    }
    let amount = match new.amount {
        Some(amount) => {
            goodwill_amount(amount, remaining)
                .map_err(|_| {
                    Refused::Refund(RefundError::ExceedsCaptured {
                        remaining: remaining.0,
                    })
                })?
                .0
        }
        None => {
            let items = plan_refund_units(&lines, &new.items).map_err(|e| match e {
                RefundUnitsError::ExceedsRefundable(lines) => {
                    Refused::Refund(RefundError::ExceedsRefundable(lines))
                }
                other => store(broken(&other)),
            })?;
            let amounts = OrderAmounts {
                subtotal: Cents(order.subtotal),
                shipping_amount: Cents(order.shipping_amount),
                tax_amount: Cents(order.tax_amount),
                total_amount: Cents(order.total_amount),
            };
            refund_amount(&amounts, &lines, &items, new.shipping, remaining)
                .map_err(|e| store(StoreError::Internal(format!("refund amount: {e}"))))?
                .0
        }
    };
    let row: RefundRow = Cached(
        diesel::insert_into(refunds::table)
            .values((
                refunds::id.eq(new.id),
                refunds::order_id.eq(new.order_id),
                refunds::amount.eq(amount),
                refunds::shipping.eq(new.shipping),
                refunds::reason.eq(&new.reason),
                refunds::actor_id.eq(new.actor.map(|a| a.id)),
                // When the row lock was had, not when the transaction began: refunds of one
                // order are listed in the order they were made.
                refunds::created_at.eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
                    "clock_timestamp()",
                )),
            ))
            .returning(RefundRow::as_returning()),
    )
    .get_result(conn)
    .await?;
    if !new.items.is_empty() {
        let products: Vec<i64> = new.items.iter().map(|i| i.product_id).collect();
        let quantities: Vec<i64> = new.items.iter().map(|i| i.quantity).collect();
        let restocks: Vec<&str> = new.items.iter().map(|i| i.restock.as_str()).collect();
        // Entries of the same product and restock kind add up into one row.
        Cached(
            diesel::sql_query(
                "INSERT INTO refund_items (refund_id, order_id, product_id, quantity, restock) \
                 SELECT $1, $2, v.product_id, sum(v.quantity), v.restock \
                   FROM unnest($3::bigint[], $4::bigint[], $5::text[]) \
                        AS v(product_id, quantity, restock) \
                  GROUP BY v.product_id, v.restock",
            )
            .bind::<diesel::sql_types::Uuid, _>(new.id)
            .bind::<diesel::sql_types::Uuid, _>(new.order_id)
            .bind::<Array<BigInt>, _>(&products)
            .bind::<Array<BigInt>, _>(&quantities)
            .bind::<Array<Text>, _>(&restocks),
        )
        .execute(conn)
        .await?;
    }
    // Counted on the order (without a new version: nothing a client sees moved yet), so that
    // reading an order looks for refunds only when it has some.
    Cached(
        diesel::update(orders::table.find(new.order_id))
            .set(orders::refund_count.eq(orders::refund_count + 1)),
    )
    .execute(conn)
    .await?;
    let items = items_of(conn, &[new.id])
        .await?
        .remove(&new.id)
        .unwrap_or_default();
    let refund = row.into_refund(items).map_err(store)?;
    if let Some(entry) = &new.audit {
        crate::audit::insert(conn, &refund_entry(entry.clone(), &refund)).await?;
    }
    Ok(refund)
}

/// The audit entry of a reserved refund: `entry` about the order, with the refund (`[null,
/// {"id", "amount", "items", "shipping", "reason"}]`, the amount as reserved).
fn refund_entry(mut entry: ports::AuditEntry, refund: &Refund) -> ports::AuditEntry {
    let items: Vec<serde_json::Value> = refund
        .items
        .iter()
        .map(|i| {
            serde_json::json!({
                "product_id": i.product_id,
                "quantity": i.quantity,
                "restock": i.restock.as_str(),
            })
        })
        .collect();
    let mut changes = ports::Changes::new();
    changes.field(
        "refund",
        serde_json::Value::Null,
        serde_json::json!({
            "id": refund.id,
            "amount": refund.amount,
            "items": items,
            "shipping": refund.shipping,
            "reason": refund.reason,
        }),
    );
    entry.target = Some(ports::AuditTarget::new(
        ports::audit::target::ORDER,
        refund.order_id,
    ));
    entry.changes = changes.into_option();
    entry
}

pub(super) async fn settle(
    pool: &PgPool,
    refund_id: Uuid,
    settlement: &RefundSettlement,
) -> Result<(Order, Refund), StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let settled = conn
        .transaction(async |conn| settle_in(conn, refund_id, settlement).await)
        .await;
    match settled {
        Ok(done) => Ok(done),
        Err(Refused::Refund(RefundError::Store(e))) => Err(e),
        Err(Refused::Refund(other)) => Err(StoreError::Internal(other.to_string())),
        Err(Refused::Db(e)) => Err(store_error(e)),
    }
}

/// [`settle_in`] within the caller's transaction, for a refund still `pending`; `false` (nothing
/// done) when it is settled already or unknown.
pub(super) async fn settle_pending_in(
    conn: &mut AsyncPgConnection,
    refund_id: Uuid,
    settlement: &RefundSettlement,
) -> Result<bool, super::notice::NoticeFailure> {
    let status: Option<String> = refunds::table
        .find(refund_id)
        .select(refunds::status)
        .for_update()
        .get_result(conn)
        .await
        .optional()?;
    if status.as_deref() != Some(RefundStatus::Pending.as_str()) {
        return Ok(false);
    }
    match settle_in(conn, refund_id, settlement).await {
        Ok(_) => Ok(true),
        Err(Refused::Db(e)) => Err(e.into()),
        Err(Refused::Refund(RefundError::Store(e))) => Err(e.into()),
        Err(Refused::Refund(other)) => Err(StoreError::Internal(other.to_string()).into()),
    }
}

async fn settle_in(
    conn: &mut AsyncPgConnection,
    refund_id: Uuid,
    settlement: &RefundSettlement,
) -> Result<(Order, Refund), Refused> {
    let row: Option<RefundRow> = Cached(
        refunds::table
            .find(refund_id)
            .select(RefundRow::as_select())
            .for_update(),
    )
    .get_result(conn)
    .await
    .optional()?;
    let Some(row) = row else {
        return Err(store(StoreError::Internal(format!(
            "refund {refund_id} not found"
        ))));
    };
    let order_id = row.order_id;
    let Some(order) = lock_order(conn, order_id).await? else {
        return Err(store(StoreError::Internal(
            "a refund's order vanished".into(),
        )));
    };
    let items = items_of(conn, &[refund_id])
        .await?
        .remove(&refund_id)
        .unwrap_or_default();
    if row.status != RefundStatus::Pending.as_str() {
        // Settled before (by the request or the reconciler): as it stands.
        let refund = row.into_refund(items).map_err(store)?;
        return Ok((read_order(conn, order).await?, refund));
    }
    let (status, reference) = match settlement {
        RefundSettlement::Succeeded { reference } => (RefundStatus::Succeeded, Some(reference)),
        RefundSettlement::Failed => (RefundStatus::Failed, None),
    };
    Cached(diesel::update(refunds::table.find(refund_id)).set((
        refunds::status.eq(status.as_str()),
        refunds::provider_reference.eq(reference),
        refunds::updated_at.eq(diesel::dsl::now),
    )))
    .execute(conn)
    .await?;
    let mut refund = row.into_refund(items).map_err(store)?;
    refund.status = status;
    if status == RefundStatus::Failed {
        return Ok((read_order(conn, order).await?, refund));
    }

    // Succeeded: units, stock, money, fulfilment and the event, once.
    let rows = load_items(conn, order_id).await?;
    let mut lines: Vec<LineUnits> = rows.iter().map(ItemRow::units).collect();
    apply_refund_units(&mut lines, &refund.items).map_err(|e| store(broken(&e)))?;
    let back = stock_back(&refund.items);
    if !back.is_empty() {
        give_back_stock(conn, &back).await?;
    }
    if !refund.items.is_empty() {
        let products: Vec<i64> = refund.items.iter().map(|i| i.product_id).collect();
        let cancelled: Vec<i64> = refund.items.iter().map(|i| units(i, true)).collect();
        let returned: Vec<i64> = refund.items.iter().map(|i| units(i, false)).collect();
        Cached(
            diesel::sql_query(
                "UPDATE order_items oi \
                    SET quantity_cancelled = oi.quantity_cancelled + v.cancelled, \
                        quantity_returned = oi.quantity_returned + v.returned \
                   FROM (SELECT product_id, sum(cancelled) AS cancelled, \
                                sum(returned) AS returned \
                           FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) \
                                AS u(product_id, cancelled, returned) \
                          GROUP BY product_id) v \
                  WHERE oi.order_id = $1 AND oi.product_id = v.product_id",
            )
            .bind::<diesel::sql_types::Uuid, _>(order_id)
            .bind::<Array<BigInt>, _>(&products)
            .bind::<Array<BigInt>, _>(&cancelled)
            .bind::<Array<BigInt>, _>(&returned),
        )
        .execute(conn)
        .await?;
    }
    let from = order.status().map_err(store)?;
    let to = status_after(from, &lines);
    let refunded = order.refunded_amount.saturating_add(refund.amount);
    let payment = payment_status_after_refund(Cents(order.total_amount), Cents(refunded));
    let updated: OrderRow = Cached(
        diesel::update(orders::table.find(order_id))
            .set((
                orders::status.eq(to.as_str()),
                orders::payment_status.eq(payment.as_str()),
                orders::refunded_amount.eq(refunded),
                orders::shipping_refunded.eq(order.shipping_refunded || refund.shipping),
                orders::fulfillment_status.eq(fulfillment_status(&lines).as_str()),
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(diesel::dsl::now),
            ))
            .returning(OrderRow::as_returning()),
    )
    .get_result(conn)
    .await?;
    let event = refund_event(from, &lines);
    let mut new_event = NewEvent::of(&updated, event.kind, event.from_status, None, None);
    new_event.refund_id = Some(refund_id);
    new_event.amount = Some(refund.amount);
    append_events(conn, &[new_event]).await?;
    Ok((read_order(conn, updated).await?, refund))
}

/// Units a refund item adds to the cancelled (`cancel`) or returned count.
fn units(item: &RefundItem, cancelled: bool) -> i64 {
    if (item.restock == Restock::Cancel) == cancelled {
        item.quantity
    } else {
        0
    }
}

async fn lock_order(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> Result<Option<OrderRow>, DieselError> {
    Cached(
        orders::table
            .find(order_id)
            .select(OrderRow::as_select())
            .for_update(),
    )
    .get_result(conn)
    .await
    .optional()
}

/// The order with its items, shipments and refunds.
async fn read_order(conn: &mut AsyncPgConnection, row: OrderRow) -> Result<Order, Refused> {
    let items = load_items(conn, row.id).await?;
    let with_refunds = with_refunds(&[&row]);
    let mut order = [row.into_order(items).map_err(store)?];
    super::ship::attach(conn, &mut order).await.map_err(store)?;
    attach(conn, &mut order, &with_refunds)
        .await
        .map_err(store)?;
    let [order] = order;
    Ok(order)
}

/// The refunds of `orders` (of one status, or all), oldest first, by order.
async fn refunds_of(
    conn: &mut AsyncPgConnection,
    orders: &[Uuid],
    status: Option<RefundStatus>,
) -> Result<HashMap<Uuid, Vec<Refund>>, Refused> {
    let mut query = refunds::table
        .filter(refunds::order_id.eq_any(orders))
        .order((refunds::order_id, refunds::created_at, refunds::id))
        .select(RefundRow::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(refunds::status.eq(status.as_str()));
    }
    let rows: Vec<RefundRow> = query.load(conn).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items = items_of(conn, &ids).await?;
    let mut by_order: HashMap<Uuid, Vec<Refund>> = HashMap::new();
    for row in rows {
        let mine = items.remove(&row.id).unwrap_or_default();
        let order_id = row.order_id;
        by_order
            .entry(order_id)
            .or_default()
            .push(row.into_refund(mine).map_err(store)?);
    }
    Ok(by_order)
}

async fn items_of(
    conn: &mut AsyncPgConnection,
    refunds: &[Uuid],
) -> Result<HashMap<Uuid, Vec<RefundItem>>, Refused> {
    if refunds.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64, i64, String)> = Cached(
        refund_items::table
            .filter(refund_items::refund_id.eq_any(refunds))
            .order((
                refund_items::refund_id,
                refund_items::product_id,
                refund_items::restock,
            ))
            .select((
                refund_items::refund_id,
                refund_items::product_id,
                refund_items::quantity,
                refund_items::restock,
            )),
    )
    .load(conn)
    .await?;
    let mut by_refund: HashMap<Uuid, Vec<RefundItem>> = HashMap::new();
    for (refund_id, product_id, quantity, restock) in rows {
        let restock = Restock::parse(&restock).ok_or_else(|| {
            store(StoreError::Internal(format!(
                "unexpected restock {restock:?}"
            )))
        })?;
        by_refund.entry(refund_id).or_default().push(RefundItem {
            product_id,
            quantity,
            restock,
        });
    }
    Ok(by_refund)
}

/// The ids of the orders (as read) that have refunds to read.
pub(crate) fn with_refunds(rows: &[&OrderRow]) -> Vec<Uuid> {
    rows.iter()
        .filter(|row| row.refund_count > 0)
        .map(|row| row.id)
        .collect()
}

/// Fills `refunds` of the orders among `orders` named in `with_refunds` (see [`with_refunds`]):
/// one query for those, none when there are none (most reads).
pub(crate) async fn attach(
    conn: &mut AsyncPgConnection,
    orders: &mut [Order],
    with_refunds: &[Uuid],
) -> Result<(), StoreError> {
    if with_refunds.is_empty() {
        return Ok(());
    }
    let mut by_order = match refunds_of(conn, with_refunds, None).await {
        Ok(found) => found,
        Err(Refused::Db(e)) => return Err(store_error(e)),
        Err(Refused::Refund(e)) => return Err(StoreError::Internal(e.to_string())),
    };
    for order in orders {
        if let Some(refunds) = by_order.remove(&order.id) {
            order.refunds = refunds;
        }
    }
    Ok(())
}

pub(super) async fn one(pool: &PgPool, id: Uuid) -> Result<Option<Refund>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let row: Option<RefundRow> = Cached(refunds::table.find(id).select(RefundRow::as_select()))
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(store_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let items = match items_of(&mut conn, &[id]).await {
        Ok(mut items) => items.remove(&id).unwrap_or_default(),
        Err(Refused::Db(e)) => return Err(store_error(e)),
        Err(Refused::Refund(e)) => return Err(StoreError::Internal(e.to_string())),
    };
    row.into_refund(items).map(Some)
}

pub(super) async fn pending(
    pool: &PgPool,
    before: OffsetDateTime,
    limit: u32,
) -> Result<Vec<Refund>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let ids: Vec<Uuid> = refunds::table
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .filter(refunds::created_at.lt(before))
        .order(refunds::created_at.asc())
        .limit(i64::from(limit))
        .select(refunds::id)
        .load(&mut conn)
        .await
        .map_err(store_error)?;
    drop(conn);
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        found.extend(one(pool, id).await?);
    }
    Ok(found)
}

/// The units pending refunds of the order hold with `cancel`: they must not ship.
pub(crate) async fn pending_cancels(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
) -> Result<Vec<RefundItem>, StoreError> {
    let pending = match refunds_of(conn, &[order_id], Some(RefundStatus::Pending)).await {
        Ok(mut found) => found.remove(&order_id).unwrap_or_default(),
        Err(Refused::Db(e)) => return Err(store_error(e)),
        Err(Refused::Refund(e)) => return Err(StoreError::Internal(e.to_string())),
    };
    Ok(pending
        .into_iter()
        .flat_map(|r| r.items)
        .filter(|i| i.restock == Restock::Cancel)
        .collect())
}

fn broken(error: &RefundUnitsError) -> StoreError {
    StoreError::Internal(format!("stored refund units do not fit the order: {error}"))
}
