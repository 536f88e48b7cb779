//! Placing an order: one transaction of eight round trips (`BEGIN`, six statements, `COMMIT`;
//! counted by the `round_trips` test).
//!
//! 1. `SELECT … FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE` — every placement (and
//!    every stock release) locks product rows in id order, so two orders over the same products
//!    in opposite line orders wait for each other instead of deadlocking. A batched
//!    `UPDATE … FROM (VALUES …)` alone would lock in plan order.
//! 2. Unknown or archived products, then short lines (every one of them), are refused before
//!    anything is written; the domain prices the order from the locked prices.
//! 3. `INSERT INTO orders … RETURNING`.
//! 4. One statement takes the stock (`UPDATE products … FROM unnest(…)`, in a data-modifying CTE)
//!    and inserts every item (`INSERT … SELECT FROM unnest(…)`).
//! 5. [`append_events`]: the `order.created` event and its `NOTIFY` (three statements).
//!
//! The stock check is done on the locked rows, and `stock_quantity >= 0` is CHECKed by the
//! database as a backstop: overselling is impossible, not merely unlikely.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{Cents, EventType, OrderStatus, PaymentStatus, PricedLine, price_order};
use ports::{NewOrder, Order, PlaceOrderError, Shortage, StoreError, UnknownProduct};

use crate::errors::{TxError, store_error};
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow};
use crate::schema::orders;

#[derive(Debug, QueryableByName)]
struct LockedProduct {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = BigInt)]
    price: i64,
    #[diesel(sql_type = BigInt)]
    stock_quantity: i64,
    #[diesel(sql_type = Bool)]
    archived: bool,
}

type Tx<T> = Result<T, TxError<PlaceOrderError>>;

pub(super) async fn place(pool: &PgPool, order: &NewOrder) -> Result<Order, PlaceOrderError> {
    if order.lines.is_empty() {
        // The domain's validation refuses this first; never store an order of nothing.
        return Err(PlaceOrderError::Store(StoreError::Internal(
            "an order needs at least one line".into(),
        )));
    }
    let mut conn = pool.get().await.map_err(store_error)?;
    conn.transaction(async |conn| place_in(conn, order).await)
        .await
        .map_err(TxError::into_op)
}

async fn place_in(conn: &mut AsyncPgConnection, order: &NewOrder) -> Tx<Order> {
    let ids: Vec<i64> = order.lines.iter().map(|l| l.product_id).collect();
    let locked: Vec<LockedProduct> = diesel::sql_query(
        "SELECT id, name, sku, price, stock_quantity, archived FROM products \
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .load(conn)
    .await?;
    let products: HashMap<i64, &LockedProduct> = locked.iter().map(|p| (p.id, p)).collect();
    let lines = check_lines(order, &products).map_err(TxError::Op)?;

    let priced: Vec<PricedLine> = lines
        .iter()
        .map(|(line, product)| PricedLine {
            unit_price: Cents(product.price),
            quantity: line.quantity,
        })
        .collect();
    let totals = price_order(&priced, &order.address.country, &order.rules)
        .map_err(|e| TxError::Op(PlaceOrderError::Pricing(e)))?;

    let address = serde_json::to_value(&order.address)
        .map_err(|e| TxError::Db(diesel::result::Error::SerializationError(Box::new(e))))?;
    // A charge starts right after placement: the reconciler dates it from the database's clock.
    let attempted_at = diesel::dsl::sql::<Nullable<Timestamptz>>(
        if order.payment_status == PaymentStatus::Processing {
            "now()"
        } else {
            "NULL"
        },
    );
    let row: OrderRow = diesel::insert_into(orders::table)
        .values((
            orders::id.eq(order.id),
            orders::user_id.eq(order.user_id),
            orders::status.eq(OrderStatus::Pending.as_str()),
            orders::payment_status.eq(order.payment_status.as_str()),
            orders::payment_attempted_at.eq(attempted_at),
            orders::subtotal.eq(totals.subtotal.0),
            orders::shipping_amount.eq(totals.shipping.0),
            orders::tax_amount.eq(totals.tax.0),
            orders::total_amount.eq(totals.total.0),
            orders::currency.eq(&order.currency),
            orders::shipping_address.eq(address),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await?;

    let items = take_stock_and_insert_items(conn, order, &lines).await?;

    let created = NewEvent::new(
        order.id,
        order.user_id,
        EventType::OrderCreated,
        None,
        OrderStatus::Pending,
        order.payment_status,
        totals.total.0,
        None,
        None,
    );
    append_events(conn, &[created]).await?;
    row.into_order(items)
        .map_err(|e| TxError::Op(PlaceOrderError::Store(e)))
}

/// Every line's locked product, or the error naming every unknown (or archived) product, else
/// every short line.
fn check_lines<'a>(
    order: &'a NewOrder,
    products: &HashMap<i64, &'a LockedProduct>,
) -> Result<Vec<(&'a domain::OrderLine, &'a LockedProduct)>, PlaceOrderError> {
    let unknown: Vec<UnknownProduct> = order
        .lines
        .iter()
        .filter(|line| products.get(&line.product_id).is_none_or(|p| p.archived))
        .map(|line| UnknownProduct {
            product_id: line.product_id,
            first_index: line.first_index,
        })
        .collect();
    if !unknown.is_empty() {
        return Err(PlaceOrderError::UnknownProducts(unknown));
    }
    let mut lines = Vec::with_capacity(order.lines.len());
    let mut shortages = Vec::new();
    for line in &order.lines {
        let Some(product) = products.get(&line.product_id).copied() else {
            continue;
        };
        if i64::from(line.quantity) > product.stock_quantity {
            shortages.push(Shortage {
                product_id: line.product_id,
                first_index: line.first_index,
                requested: line.quantity,
                available: product.stock_quantity,
            });
        }
        lines.push((line, product));
    }
    if !shortages.is_empty() {
        return Err(PlaceOrderError::InsufficientStock(shortages));
    }
    Ok(lines)
}

/// One statement: the stock decrement of every line (rows already locked) and the insert of every
/// item, in line order.
async fn take_stock_and_insert_items(
    conn: &mut AsyncPgConnection,
    order: &NewOrder,
    lines: &[(&domain::OrderLine, &LockedProduct)],
) -> Tx<Vec<ItemRow>> {
    let product_ids: Vec<i64> = lines.iter().map(|(l, _)| l.product_id).collect();
    let quantities: Vec<i64> = lines.iter().map(|(l, _)| i64::from(l.quantity)).collect();
    let skus: Vec<&str> = lines.iter().map(|(_, p)| p.sku.as_str()).collect();
    let names: Vec<&str> = lines.iter().map(|(_, p)| p.name.as_str()).collect();
    let prices: Vec<i64> = lines.iter().map(|(_, p)| p.price).collect();
    let mut items: Vec<ItemRow> = diesel::sql_query(
        "WITH taken AS ( \
           UPDATE products p \
              SET stock_quantity = p.stock_quantity - v.quantity, \
                  version = p.version + 1, updated_at = now() \
             FROM unnest($2::bigint[], $3::bigint[]) AS v(product_id, quantity) \
            WHERE p.id = v.product_id) \
         INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) \
         SELECT $1, v.product_id, v.sku, v.name, v.quantity, v.unit_price \
           FROM unnest($2::bigint[], $4::text[], $5::text[], $3::bigint[], $6::bigint[]) \
                WITH ORDINALITY AS v(product_id, sku, name, quantity, unit_price, n) \
          ORDER BY v.n \
         RETURNING id, order_id, product_id, sku, name, quantity, unit_price",
    )
    .bind::<diesel::sql_types::Uuid, _>(order.id)
    .bind::<Array<BigInt>, _>(&product_ids)
    .bind::<Array<BigInt>, _>(&quantities)
    .bind::<Array<Text>, _>(&skus)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<BigInt>, _>(&prices)
    .load(conn)
    .await?;
    items.sort_by_key(|item| item.id);
    Ok(items)
}
