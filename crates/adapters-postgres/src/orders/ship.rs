//! Shipments: some of a `PAID` order's units, in one transaction with the lines' counts, the
//! order's fulfilment and its event.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use domain::{
    FulfillmentStatus, InvalidTransition, LineUnits, OrderStatus, ShipmentError,
    apply_refund_units, apply_shipment, plan_shipment, shipment_event,
};
use ports::{NewShipment, Order, ShipError, Shipment, StoreError, Tracking};
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow};
use crate::schema::{orders, shipment_items, shipments};

use super::status::load_items;

/// A refusal found inside the transaction (it rolls back).
enum Refused {
    Ship(ShipError),
    Db(DieselError),
}

impl From<DieselError> for Refused {
    fn from(e: DieselError) -> Refused {
        Refused::Db(e)
    }
}

/// See `OrderRepository::ship`. Steps, one transaction: the order `FOR UPDATE`; its checks
/// (version, `PAID`); its lines; the domain's plan; the shipment, its items and the lines' counts
/// (two statements); the order (status, fulfilment, tracking, version); the event.
pub(super) async fn ship(pool: &PgPool, new: &NewShipment) -> Result<(Order, Shipment), ShipError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let result = conn
        .transaction(async |conn| ship_in(conn, new).await)
        .await;
    match result {
        Ok(done) => Ok(done),
        Err(Refused::Ship(refused)) => Err(refused),
        Err(Refused::Db(e)) => Err(ShipError::Store(store_error(e))),
    }
}

async fn ship_in(
    conn: &mut AsyncPgConnection,
    new: &NewShipment,
) -> Result<(Order, Shipment), Refused> {
    let current: Option<OrderRow> = Cached(
        orders::table
            .find(new.order_id)
            .select(OrderRow::as_select())
            .for_update(),
    )
    .get_result(conn)
    .await
    .optional()?;
    let Some(current) = current else {
        return Err(Refused::Ship(ShipError::NotFound));
    };
    if new.expected_version.is_some_and(|v| v != current.version) {
        return Err(Refused::Ship(ShipError::PreconditionFailed));
    }
    let status = current.status().map_err(store)?;
    if status != OrderStatus::Paid {
        return Err(Refused::Ship(ShipError::InvalidTransition(
            InvalidTransition {
                from: status,
                to: OrderStatus::Fulfilled,
            },
        )));
    }
    let rows = load_items(conn, new.order_id).await?;
    let mut lines: Vec<LineUnits> = rows.iter().map(ItemRow::units).collect();
    // Units a pending refund holds to cancel are not open to ship: plan as if it succeeded.
    let held = super::refund::pending_cancels(conn, new.order_id)
        .await
        .map_err(store)?;
    let mut open_lines = lines.clone();
    apply_refund_units(&mut open_lines, &held).map_err(|e| {
        store(StoreError::Internal(format!(
            "pending refunds do not fit the order: {e}"
        )))
    })?;
    let plan = plan_shipment(&open_lines, new.items.as_deref()).map_err(refusal)?;
    let fulfilment = apply_shipment(&mut lines, &plan).map_err(refusal)?;

    let created_at = insert_shipment(conn, new, &plan).await?;
    let to = if fulfilment == FulfillmentStatus::Fulfilled {
        OrderStatus::Fulfilled
    } else {
        status
    };
    let (carrier, number) = match &new.tracking {
        Some(t) => (Some(t.carrier.as_str()), Some(t.tracking_number.as_str())),
        None => (
            current.tracking_carrier.as_deref(),
            current.tracking_number.as_deref(),
        ),
    };
    let row: OrderRow = Cached(
        diesel::update(orders::table.find(new.order_id))
            .set((
                orders::status.eq(to.as_str()),
                orders::fulfillment_status.eq(fulfilment.as_str()),
                orders::tracking_carrier.eq(carrier),
                orders::tracking_number.eq(number),
                orders::version.eq(orders::version + 1),
                orders::updated_at.eq(diesel::dsl::now),
            ))
            .returning(OrderRow::as_returning()),
    )
    .get_result(conn)
    .await?;
    if let Some(entry) = &new.audit {
        // Before the event: `append_events` takes the event lock, held until the commit.
        crate::audit::insert(
            conn,
            &shipment_entry(entry.clone(), new, &plan, &current, &row),
        )
        .await?;
    }
    let event = shipment_event(status, &lines);
    let mut new_event = NewEvent::of(
        &row,
        event.kind,
        event.from_status,
        new.actor,
        new.note.clone(),
    );
    new_event.shipment_id = Some(new.id);
    append_events(conn, &[new_event]).await?;

    let shipment = Shipment {
        id: new.id,
        order_id: new.order_id,
        items: plan,
        tracking: new.tracking.clone(),
        created_at,
    };
    let items = load_items(conn, new.order_id).await?;
    let with_refunds = super::refund::with_refunds(&[&row]);
    let mut order = row.into_order(items).map_err(store)?;
    order.shipments = shipments_of(conn, &[new.order_id])
        .await?
        .remove(&new.order_id)
        .unwrap_or_default();
    let mut order = [order];
    super::refund::attach(conn, &mut order, &with_refunds)
        .await
        .map_err(store)?;
    let [order] = order;
    Ok((order, shipment))
}

/// The audit entry of a shipment: `entry` about the order, with the shipment made (`[null,
/// {...}]`) and the order's fields that moved (`fulfillment_status`, and `status` when it
/// completes the order).
fn shipment_entry(
    mut entry: ports::AuditEntry,
    new: &NewShipment,
    plan: &[(i64, i64)],
    before: &OrderRow,
    after: &OrderRow,
) -> ports::AuditEntry {
    let mut changes = super::status::order_changes(before, after);
    let items: Vec<serde_json::Value> = plan
        .iter()
        .map(|(product_id, quantity)| {
            serde_json::json!({"product_id": product_id, "quantity": quantity})
        })
        .collect();
    changes.field(
        "shipment",
        serde_json::Value::Null,
        serde_json::json!({
            "id": new.id,
            "items": items,
            "carrier": new.tracking.as_ref().map(|t| t.carrier.as_str()),
            "tracking_number": new.tracking.as_ref().map(|t| t.tracking_number.as_str()),
        }),
    );
    entry.target = Some(ports::AuditTarget::new(
        ports::audit::target::ORDER,
        new.order_id,
    ));
    entry.changes = changes.into_option();
    entry
}

/// The shipment and its items, and the lines' shipped counts (the CHECK refuses more than
/// ordered); returns the shipment's time.
pub(super) async fn insert_shipment(
    conn: &mut AsyncPgConnection,
    new: &NewShipment,
    plan: &[(i64, i64)],
) -> Result<time::OffsetDateTime, DieselError> {
    let (products, quantities): (Vec<i64>, Vec<i64>) = plan.iter().copied().unzip();
    #[derive(QueryableByName)]
    struct Made {
        #[diesel(sql_type = Timestamptz)]
        created_at: time::OffsetDateTime,
    }
    let made: Made = Cached(
        diesel::sql_query(
            "WITH s AS ( \
               INSERT INTO shipments (id, order_id, carrier, tracking_number, note, actor_id, \
                                      created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp()) RETURNING id, created_at), \
             i AS ( \
               INSERT INTO shipment_items (shipment_id, order_id, product_id, quantity) \
               SELECT $1, $2, v.product_id, v.quantity \
                 FROM unnest($7::bigint[], $8::bigint[]) AS v(product_id, quantity)), \
             u AS ( \
               UPDATE order_items oi SET quantity_shipped = oi.quantity_shipped + v.quantity \
                 FROM unnest($7::bigint[], $8::bigint[]) AS v(product_id, quantity) \
                WHERE oi.order_id = $2 AND oi.product_id = v.product_id) \
             SELECT created_at FROM s",
        )
        .bind::<diesel::sql_types::Uuid, _>(new.id)
        .bind::<diesel::sql_types::Uuid, _>(new.order_id)
        .bind::<Nullable<Text>, _>(new.tracking.as_ref().map(|t| t.carrier.as_str()))
        .bind::<Nullable<Text>, _>(new.tracking.as_ref().map(|t| t.tracking_number.as_str()))
        .bind::<Nullable<Text>, _>(new.note.as_deref())
        .bind::<Nullable<BigInt>, _>(new.actor.map(|a| a.id))
        .bind::<Array<BigInt>, _>(&products)
        .bind::<Array<BigInt>, _>(&quantities),
    )
    .get_result(conn)
    .await?;
    Ok(made.created_at)
}

/// A shipment row: id, order, carrier, tracking number, time.
type ShipmentHead = (
    Uuid,
    Uuid,
    Option<String>,
    Option<String>,
    time::OffsetDateTime,
);

/// The shipments of `orders`, oldest first, by order.
pub(crate) async fn shipments_of(
    conn: &mut AsyncPgConnection,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Shipment>>, DieselError> {
    let heads: Vec<ShipmentHead> = Cached(
        shipments::table
            .filter(shipments::order_id.eq_any(orders))
            .order((shipments::order_id, shipments::created_at, shipments::id))
            .select((
                shipments::id,
                shipments::order_id,
                shipments::carrier,
                shipments::tracking_number,
                shipments::created_at,
            )),
    )
    .load(conn)
    .await?;
    if heads.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = heads.iter().map(|h| h.0).collect();
    let lines: Vec<(Uuid, i64, i64)> = Cached(
        shipment_items::table
            .filter(shipment_items::shipment_id.eq_any(&ids))
            .order((shipment_items::shipment_id, shipment_items::product_id))
            .select((
                shipment_items::shipment_id,
                shipment_items::product_id,
                shipment_items::quantity,
            )),
    )
    .load(conn)
    .await?;
    let mut items: HashMap<Uuid, Vec<(i64, i64)>> = HashMap::new();
    for (shipment, product, quantity) in lines {
        items.entry(shipment).or_default().push((product, quantity));
    }
    let mut by_order: HashMap<Uuid, Vec<Shipment>> = HashMap::new();
    for (id, order_id, carrier, number, created_at) in heads {
        by_order.entry(order_id).or_default().push(Shipment {
            id,
            order_id,
            items: items.remove(&id).unwrap_or_default(),
            tracking: carrier
                .zip(number)
                .map(|(carrier, tracking_number)| Tracking {
                    carrier,
                    tracking_number,
                }),
            created_at,
        });
    }
    Ok(by_order)
}

/// Fills `shipments` of the orders that shipped anything (one query for those; none when no
/// order did).
pub(crate) async fn attach(
    conn: &mut AsyncPgConnection,
    orders: &mut [Order],
) -> Result<(), StoreError> {
    let shipped: Vec<Uuid> = orders
        .iter()
        .filter(|o| o.fulfillment_status != FulfillmentStatus::Unfulfilled)
        .map(|o| o.id)
        .collect();
    if shipped.is_empty() {
        return Ok(());
    }
    let mut by_order = shipments_of(conn, &shipped).await.map_err(store_error)?;
    for order in orders {
        if let Some(shipments) = by_order.remove(&order.id) {
            order.shipments = shipments;
        }
    }
    Ok(())
}

/// One shipment of an order.
pub(super) async fn shipment(
    pool: &PgPool,
    order_id: Uuid,
    id: Uuid,
) -> Result<Option<Shipment>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let mut all = shipments_of(&mut conn, &[order_id])
        .await
        .map_err(store_error)?;
    Ok(all
        .remove(&order_id)
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.id == id))
}

fn refusal(error: ShipmentError) -> Refused {
    Refused::Ship(match error {
        ShipmentError::ExceedsOpen(lines) => ShipError::ExceedsOpen(lines),
        ShipmentError::NothingToShip => ShipError::NothingToShip,
        // The use case validates quantities first; stored lines that break the accounting are
        // the database's fault (its CHECK makes them impossible).
        other => ShipError::Store(StoreError::Internal(format!("shipment refused: {other}"))),
    })
}

fn store(error: StoreError) -> Refused {
    Refused::Ship(ShipError::Store(error))
}
