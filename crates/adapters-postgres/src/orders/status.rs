//! Moving an order through the state machine, and payment-status updates.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::{InvalidTransition, OrderStatus, PaymentEffect, PaymentStatus, transition};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use ports::{ChangeStatusError, Order, PaymentUpdateError, StatusChange, StoreError};
use uuid::Uuid;

use crate::batch::{BatchJob, answers};
use crate::cached::Cached;
use crate::errors::store_error;
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow, group_items};
use crate::schema::{order_items, orders};

/// One status change waiting for its transaction.
pub(super) struct StatusJob(pub(super) StatusChange);

impl BatchJob for StatusJob {
    type Output = Result<Order, ChangeStatusError>;

    fn key(&self) -> Option<Uuid> {
        // Two changes of one order never share a transaction: the second sees the first's commit.
        Some(self.0.order_id)
    }

    fn run<'a>(
        conn: &'a mut AsyncPgConnection,
        jobs: &'a [StatusJob],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>, DieselError>> {
        change_all(conn, jobs).boxed()
    }

    fn failed(error: StoreError) -> Self::Output {
        Err(ChangeStatusError::Store(error))
    }
}

/// A change that passed its checks: what the order becomes.
struct Planned<'a> {
    index: usize,
    change: &'a StatusChange,
    from: OrderStatus,
    kind: domain::EventType,
    to: OrderStatus,
    release_stock: bool,
    payment_status: PaymentStatus,
    collected: bool,
    reference: Option<String>,
    carrier: Option<String>,
    number: Option<String>,
}

/// One transaction for every change of the batch (each of a different order):
/// 1. `SELECT … FOR UPDATE` the orders, in id order; concurrent changes of the same order queue
///    here, and each sees the status the previous one committed;
/// 2. their items;
/// 3. in Rust, for each change: the owner (another user's order is `NotFound`), the `If-Match`
///    version, the domain's transition, the expected payment statuses; a refused change writes
///    nothing;
/// 4. on moves to `CANCELLED`, the orders' open units go back to stock (products locked in id
///    order first, like placement, so the two never deadlock) and are counted cancelled;
///    `CANCELLED` is final, so this happens once;
/// 5. `UPDATE orders … FROM unnest(…) WHERE id = v.id AND status = v.from` (one row per change,
///    or the change is refused);
/// 6. on moves to `FULFILLED`, every open unit ships in one shipment (one statement);
/// 7. the events and their `NOTIFY`.
pub(super) async fn change_all(
    conn: &mut AsyncPgConnection,
    jobs: &[StatusJob],
) -> Result<Vec<Result<Order, ChangeStatusError>>, DieselError> {
    let mut ids: Vec<Uuid> = jobs.iter().map(|job| job.0.order_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let current: Vec<OrderRow> = Cached(
        orders::table
            .filter(orders::id.eq_any(&ids))
            .order(orders::id.asc())
            .select(OrderRow::as_select())
            .for_update(),
    )
    .load(conn)
    .await?;
    let mut current: HashMap<Uuid, OrderRow> = current.into_iter().map(|o| (o.id, o)).collect();
    let mut items = load_items_of(conn, &ids).await?;
    // A cancel or a fulfilment must not overtake a refund in flight (it would settle against
    // units cancelled or shipped meanwhile).
    let refunding = if jobs
        .iter()
        .any(|job| matches!(job.0.to, OrderStatus::Cancelled | OrderStatus::Fulfilled))
    {
        refunding_of(conn, &ids).await?
    } else {
        Vec::new()
    };

    let mut outputs: Vec<Option<Result<Order, ChangeStatusError>>> = Vec::with_capacity(jobs.len());
    let mut planned = Vec::new();
    for (index, StatusJob(change)) in jobs.iter().enumerate() {
        let lines = items.get(&change.order_id).map_or(&[][..], Vec::as_slice);
        let refund_pending = refunding.contains(&change.order_id);
        match plan(
            index,
            change,
            current.get(&change.order_id),
            lines,
            refund_pending,
        ) {
            Ok(p) => {
                planned.push(p);
                outputs.push(None);
            }
            Err(refused) => outputs.push(Some(Err(refused))),
        }
    }
    if !planned.is_empty() {
        let released: Vec<&ItemRow> = planned
            .iter()
            .filter(|p| p.release_stock)
            .flat_map(|p| items.get(&p.change.order_id).into_iter().flatten())
            .collect();
        if !released.is_empty() {
            release_stock(conn, &released).await?;
            let cancelled: Vec<Uuid> = planned
                .iter()
                .filter(|p| p.release_stock)
                .map(|p| p.change.order_id)
                .collect();
            cancel_open_units(conn, &cancelled).await?;
            for id in &cancelled {
                for item in items.get_mut(id).into_iter().flatten() {
                    item.quantity_cancelled = item.quantity - item.quantity_shipped;
                }
            }
        }
        let updated = update_orders(conn, &planned).await?;
        let mut updated: HashMap<Uuid, OrderRow> = updated.into_iter().map(|o| (o.id, o)).collect();
        let shipped: Vec<&Planned<'_>> = planned
            .iter()
            .filter(|p| p.to == OrderStatus::Fulfilled && updated.contains_key(&p.change.order_id))
            .collect();
        let mut shipments = ship_all_open(conn, &shipped, &items).await?;
        for p in &shipped {
            for item in items.get_mut(&p.change.order_id).into_iter().flatten() {
                item.quantity_shipped = item.quantity - item.quantity_cancelled;
            }
        }
        let mut events = Vec::with_capacity(planned.len());
        let mut entries = Vec::new();
        let mut done = Vec::with_capacity(planned.len());
        for p in &planned {
            match updated.remove(&p.change.order_id) {
                Some(row) => {
                    // Only a change that was made has its entry, in this transaction.
                    if let (Some(entry), Some(before)) =
                        (&p.change.audit, current.get(&p.change.order_id))
                    {
                        entries.push(status_entry(
                            entry.clone(),
                            before,
                            &row,
                            p.change.tracking.is_some(),
                        ));
                    }
                    let mut event = NewEvent::of(
                        &row,
                        p.kind,
                        Some(p.from),
                        p.change.actor,
                        p.change.note.clone(),
                    );
                    event.shipment_id = shipments.get(&row.id).map(|s| s.id);
                    events.push(event);
                    done.push((p.index, Some(row)));
                }
                // Impossible while we hold the row lock; refuse rather than report a change.
                None => done.push((p.index, None)),
            }
        }
        // Before the events: `append_events` takes the event lock, held until the commit.
        crate::audit::insert_all(conn, &entries).await?;
        append_events(conn, &events).await?;
        for (index, row) in done {
            let output = match row {
                Some(row) => {
                    let mine = items.remove(&row.id).unwrap_or_default();
                    let with_refunds = super::refund::with_refunds(&[&row]);
                    match row.into_order(mine) {
                        // Every shipment of the order, this one's and earlier ones, and its
                        // refunds (read within the transaction: committed or ours). Most changes
                        // (a payment, an unpaid order's cancel) have neither and read nothing
                        // more.
                        Ok(order)
                            if shipments.remove(&order.id).is_some()
                                || !with_refunds.is_empty() =>
                        {
                            let mut order = [order];
                            let read = match super::ship::attach(conn, &mut order).await {
                                Ok(()) => {
                                    super::refund::attach(conn, &mut order, &with_refunds).await
                                }
                                Err(e) => Err(e),
                            };
                            read.map(|()| {
                                let [order] = order;
                                order
                            })
                            .map_err(ChangeStatusError::Store)
                        }
                        other => other.map_err(ChangeStatusError::Store),
                    }
                }
                None => match jobs.get(index) {
                    Some(job) => Err(ChangeStatusError::from(InvalidTransition {
                        from: current
                            .remove(&job.0.order_id)
                            .and_then(|o| o.status().ok())
                            .unwrap_or(job.0.to),
                        to: job.0.to,
                    })),
                    None => continue,
                },
            };
            if let Some(slot) = outputs.get_mut(index) {
                *slot = Some(output);
            }
        }
    }
    Ok(answers::<StatusJob>(outputs))
}

/// The audit entry of a status change: `entry` about the order, with the fields that differ
/// between the locked row and the updated one (`status`, `payment_status`,
/// `fulfillment_status`), and `tracking` when the change set it.
fn status_entry(
    mut entry: ports::AuditEntry,
    before: &OrderRow,
    after: &OrderRow,
    with_tracking: bool,
) -> ports::AuditEntry {
    let mut changes = order_changes(before, after);
    if with_tracking {
        changes.field("tracking", tracking_json(before), tracking_json(after));
    }
    entry.target = Some(ports::AuditTarget::new(
        ports::audit::target::ORDER,
        after.id,
    ));
    entry.changes = changes.into_option();
    entry
}

/// The order's status, payment status and fulfilment that differ between `before` and `after`.
pub(super) fn order_changes(before: &OrderRow, after: &OrderRow) -> ports::Changes {
    let mut changes = ports::Changes::new();
    changes
        .field("status", &before.status, &after.status)
        .field(
            "payment_status",
            &before.payment_status,
            &after.payment_status,
        )
        .field(
            "fulfillment_status",
            &before.fulfillment_status,
            &after.fulfillment_status,
        );
    changes
}

/// `{"carrier", "tracking_number"}` of the order's tracking, or `null`.
fn tracking_json(row: &OrderRow) -> serde_json::Value {
    match (&row.tracking_carrier, &row.tracking_number) {
        (Some(carrier), Some(number)) => {
            serde_json::json!({"carrier": carrier, "tracking_number": number})
        }
        _ => serde_json::Value::Null,
    }
}

/// What `change` makes of the locked order `current`, or why it is refused.
fn plan<'a>(
    index: usize,
    change: &'a StatusChange,
    current: Option<&OrderRow>,
    lines: &[ItemRow],
    refund_pending: bool,
) -> Result<Planned<'a>, ChangeStatusError> {
    let Some(current) = current.filter(|o| change.owner.is_none_or(|owner| owner == o.user_id))
    else {
        return Err(ChangeStatusError::NotFound);
    };
    if change
        .expected_version
        .is_some_and(|v| v != current.version)
    {
        return Err(ChangeStatusError::PreconditionFailed);
    }
    let from = current.status()?;
    let payment_status = current.payment_status()?;
    let moved = transition(from, change.to)?;
    let refused = InvalidTransition {
        from,
        to: change.to,
    };
    if !change.payment_status_in.is_empty() && !change.payment_status_in.contains(&payment_status) {
        return Err(refused.into());
    }
    // Once anything shipped the order is refunded, not cancelled, and a refund in flight settles
    // before the order may be cancelled; a fulfilment ships something, so an order with no open
    // unit left cannot be fulfilled this way.
    let shipped_any = lines.iter().any(|l| l.quantity_shipped > 0);
    let open_any = lines
        .iter()
        .any(|l| l.quantity > l.quantity_shipped + l.quantity_cancelled);
    if (change.to == OrderStatus::Cancelled && (shipped_any || refund_pending))
        || (change.to == OrderStatus::Fulfilled && (!open_any || refund_pending))
    {
        return Err(refused.into());
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
    Ok(Planned {
        index,
        change,
        from,
        kind: moved.event.kind,
        to: moved.to,
        release_stock: moved.release_stock,
        payment_status,
        collected,
        reference,
        carrier,
        number,
    })
}

/// One `UPDATE` of every planned change, guarded by the status it was planned from.
async fn update_orders(
    conn: &mut AsyncPgConnection,
    planned: &[Planned<'_>],
) -> Result<Vec<OrderRow>, DieselError> {
    let ids: Vec<Uuid> = planned.iter().map(|p| p.change.order_id).collect();
    let from: Vec<&str> = planned.iter().map(|p| p.from.as_str()).collect();
    let to: Vec<&str> = planned.iter().map(|p| p.to.as_str()).collect();
    let payment: Vec<&str> = planned.iter().map(|p| p.payment_status.as_str()).collect();
    let collected: Vec<bool> = planned.iter().map(|p| p.collected).collect();
    let reference: Vec<Option<&str>> = planned.iter().map(|p| p.reference.as_deref()).collect();
    let carrier: Vec<Option<&str>> = planned.iter().map(|p| p.carrier.as_deref()).collect();
    let number: Vec<Option<&str>> = planned.iter().map(|p| p.number.as_deref()).collect();
    let query = diesel::sql_query(
        "UPDATE orders o \
            SET status = v.status, payment_status = v.payment_status, \
                payment_collected = v.collected, payment_reference = v.reference, \
                tracking_carrier = v.carrier, tracking_number = v.number, \
                fulfillment_status = CASE WHEN v.status = 'FULFILLED' THEN 'fulfilled' \
                                          ELSE o.fulfillment_status END, \
                refunded_amount = CASE WHEN v.payment_status = 'refunded' THEN o.total_amount \
                                       ELSE o.refunded_amount END, \
                version = o.version + 1, updated_at = now() \
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[], \
                       $6::text[], $7::text[], $8::text[]) \
                AS v(id, from_status, status, payment_status, collected, reference, carrier, \
                     number) \
          WHERE o.id = v.id AND o.status = v.from_status \
         RETURNING o.id, o.user_id, o.status, o.payment_status, o.payment_collected, \
                   o.payment_reference, o.payment_attempt, o.fulfillment_status, \
                   o.refunded_amount, o.shipping_refunded, o.refund_count, o.subtotal, o.shipping_amount, o.tax_amount, \
                   o.total_amount, o.currency, o.shipping_address, o.tracking_carrier, \
                   o.tracking_number, o.version, o.created_at, o.updated_at",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
    .bind::<Array<Text>, _>(&from)
    .bind::<Array<Text>, _>(&to)
    .bind::<Array<Text>, _>(&payment)
    .bind::<Array<Bool>, _>(&collected)
    .bind::<Array<Nullable<Text>>, _>(&reference)
    .bind::<Array<Nullable<Text>>, _>(&carrier)
    .bind::<Array<Nullable<Text>>, _>(&number);
    Cached(query).load(conn).await
}

/// The items of `orders`, by order, each order's in display (id) order.
async fn load_items_of(
    conn: &mut AsyncPgConnection,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ItemRow>>, DieselError> {
    let items: Vec<ItemRow> = Cached(
        order_items::table
            .filter(order_items::order_id.eq_any(orders))
            .select(ItemRow::as_select())
            .order(order_items::id.asc()),
    )
    .load(conn)
    .await?;
    Ok(group_items(items))
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

/// Which of `orders` have a refund `pending` (reserved, the provider's answer awaited).
async fn refunding_of(
    conn: &mut AsyncPgConnection,
    orders: &[Uuid],
) -> Result<Vec<Uuid>, DieselError> {
    use crate::schema::refunds;
    Cached(
        refunds::table
            .filter(refunds::order_id.eq_any(orders))
            .filter(refunds::status.eq("pending"))
            .select(refunds::order_id)
            .distinct(),
    )
    .load(conn)
    .await
}

/// The open units of the cancelled orders are cancelled (one statement).
async fn cancel_open_units(
    conn: &mut AsyncPgConnection,
    orders: &[Uuid],
) -> Result<(), DieselError> {
    Cached(
        diesel::sql_query(
            "UPDATE order_items SET quantity_cancelled = quantity - quantity_shipped \
              WHERE order_id = ANY($1)",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(orders),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `PAID → FULFILLED` by status: every open unit of each order ships in one shipment (with the
/// change's tracking and note), planned by the domain and written by the shipment code
/// (`ship::insert_shipment`) a shipment request uses. Returns the shipments by order.
async fn ship_all_open(
    conn: &mut AsyncPgConnection,
    planned: &[&Planned<'_>],
    items: &HashMap<Uuid, Vec<ItemRow>>,
) -> Result<HashMap<Uuid, ports::Shipment>, DieselError> {
    let mut shipments = HashMap::with_capacity(planned.len());
    for p in planned {
        let order_id = p.change.order_id;
        let lines: Vec<_> = items
            .get(&order_id)
            .into_iter()
            .flatten()
            .map(ItemRow::units)
            .collect();
        // `plan` refused a fulfilment with no open unit, so there is one to ship.
        let plan = domain::plan_shipment(&lines, None)
            .map_err(|e| DieselError::QueryBuilderError(e.to_string().into()))?;
        let new = ports::NewShipment {
            id: Uuid::now_v7(),
            order_id,
            items: None,
            tracking: p.change.tracking.clone(),
            note: p.change.note.clone(),
            actor: p.change.actor,
            expected_version: None,
            // The status change's own entry records the fulfilment.
            audit: None,
        };
        let created_at = super::ship::insert_shipment(conn, &new, &plan).await?;
        shipments.insert(
            order_id,
            ports::Shipment {
                id: new.id,
                order_id,
                items: plan,
                tracking: new.tracking,
                created_at,
            },
        );
    }
    Ok(shipments)
}

/// Gives the items' open units back to their products: locks the products in id order (the
/// order placement uses), then one batched `UPDATE` (one row per product, quantities summed).
/// Stock is capped at the maximum the schema allows rather than failing a cancellation (only
/// reachable if an admin set it near 2^31 − 1).
async fn release_stock(
    conn: &mut AsyncPgConnection,
    items: &[&ItemRow],
) -> Result<(), DieselError> {
    let open: Vec<(i64, i64)> = items
        .iter()
        .map(|item| {
            (
                item.product_id,
                item.quantity - item.quantity_shipped - item.quantity_cancelled,
            )
        })
        .collect();
    give_back_stock(conn, &open).await
}

/// Gives `(product_id, units)` back to stock: the products locked in id order (the order
/// placement uses, so the two never deadlock), then one batched `UPDATE` (quantities summed per
/// product; zero and negative ones skipped).
pub(super) async fn give_back_stock(
    conn: &mut AsyncPgConnection,
    units: &[(i64, i64)],
) -> Result<(), DieselError> {
    let mut by_product: BTreeMap<i64, i64> = BTreeMap::new();
    for &(product_id, quantity) in units.iter().filter(|(_, q)| *q > 0) {
        *by_product.entry(product_id).or_default() += quantity;
    }
    if by_product.is_empty() {
        return Ok(());
    }
    let (ids, quantities): (Vec<i64>, Vec<i64>) = by_product.into_iter().unzip();
    Cached(
        diesel::sql_query("SELECT id FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind::<Array<BigInt>, _>(&ids),
    )
    .execute(conn)
    .await?;
    Cached(
        diesel::sql_query(
            "UPDATE products p \
                SET stock_quantity = LEAST(p.stock_quantity + v.quantity, 2147483647), \
                    version = p.version + 1, updated_at = now() \
               FROM unnest($1::bigint[], $2::bigint[]) AS v(product_id, quantity) \
              WHERE p.id = v.product_id",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<BigInt>, _>(&quantities),
    )
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
    // A charge in flight is dated by the database's clock, for the reconciler; after a failed
    // attempt it is the next attempt.
    let starts = to == PaymentStatus::Processing;
    let attempted_at = diesel::dsl::sql::<Nullable<Timestamptz>>(if starts {
        "now()"
    } else {
        "orders.payment_attempted_at"
    });
    let attempt = diesel::dsl::sql::<Integer>(if starts {
        "orders.payment_attempt + (orders.payment_status = 'failed')::int"
    } else {
        "orders.payment_attempt"
    });
    // Two SQL texts (charge starts or not): kept prepared.
    let updated: Option<OrderRow> = Cached(
        diesel::update(
            orders::table
                .filter(orders::id.eq(order_id))
                .filter(orders::status.eq(OrderStatus::Pending.as_str()))
                .filter(orders::payment_status.eq_any(from)),
        )
        .set((
            orders::payment_status.eq(to.as_str()),
            orders::payment_attempted_at.eq(attempted_at),
            orders::payment_attempt.eq(attempt),
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(diesel::dsl::now),
        ))
        .returning(OrderRow::as_returning()),
    )
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
