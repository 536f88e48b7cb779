//! Placing orders: one transaction for every placement that arrives while the previous one runs
//! ([`crate::batch`]), of nine round trips whatever their number (`BEGIN`, `SET LOCAL
//! enable_seqscan`, six statements, `COMMIT`; counted by the `round_trips` test).
//!
//! 1. `SELECT … FROM products WHERE id = ANY($1) ORDER BY id FOR UPDATE`: the products of every
//!    order of the batch, locked in id order. Every placement (and every stock release) locks
//!    product rows in id order, so two transactions over the same products in opposite line
//!    orders wait for each other instead of deadlocking.
//! 2. In Rust, each order in arrival order against the stock the earlier ones left: unknown or
//!    archived products, then short lines (every one of them), refuse that order, which writes
//!    nothing; the domain prices the others from the locked prices.
//! 3. `INSERT INTO orders … SELECT FROM unnest(…) RETURNING`: every accepted order.
//! 4. One statement takes the stock (`UPDATE products … FROM unnest(…)`, one row per product, in
//!    a data-modifying CTE) and inserts every item of every order (`INSERT … SELECT FROM
//!    unnest(…)`).
//! 5. [`append_events`]: the `order.created` events and their `NOTIFY` (three statements).
//!
//! The stock check is done on the locked rows, and `stock_quantity >= 0` is CHECKed by the
//! database as a backstop: overselling is impossible, not merely unlikely.
//!
//! [`quote`] runs step 2 alone on the products as they are (one `SELECT` without a lock or a
//! transaction): the same checks and the same pricing, nothing written.

use std::collections::{BTreeMap, HashMap};

use diesel::QueryableByName;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Array, BigInt, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::{Cents, EventType, OrderStatus, PricedLine, PricingRules, Totals, price_order};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use ports::{
    NewOrder, Order, PlaceOrderError, Quote, QuoteLine, Shortage, StoreError, UnknownProduct,
};
use uuid::Uuid;

use crate::batch::{BatchJob, answers};
use crate::cached::Cached;
use crate::errors::store_error;
use crate::events::{NewEvent, append_events};
use crate::pool::PgPool;
use crate::rows::{ItemRow, OrderRow, group_items};

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

/// One placement waiting for its transaction.
pub(super) struct PlaceJob(pub(super) NewOrder);

impl BatchJob for PlaceJob {
    type Output = Result<Order, PlaceOrderError>;

    fn key(&self) -> Option<Uuid> {
        // New ids: placements never conflict with each other's rows.
        None
    }

    fn run<'a>(
        conn: &'a mut AsyncPgConnection,
        jobs: &'a [PlaceJob],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>, DieselError>> {
        place_all(conn, jobs).boxed()
    }

    fn failed(error: StoreError) -> Self::Output {
        Err(PlaceOrderError::Store(error))
    }
}

/// An order line with the locked row of its product.
type Line<'a> = (&'a domain::OrderLine, &'a LockedProduct);

/// An order that passed its checks, with its lines' products and its totals.
struct Accepted<'a> {
    index: usize,
    order: &'a NewOrder,
    lines: Vec<Line<'a>>,
    totals: Totals,
}

async fn place_all(
    conn: &mut AsyncPgConnection,
    jobs: &[PlaceJob],
) -> Result<Vec<Result<Order, PlaceOrderError>>, DieselError> {
    let mut ids: Vec<i64> = jobs
        .iter()
        .flat_map(|job| job.0.lines.iter().map(|l| l.product_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let locked: Vec<LockedProduct> = Cached(
        diesel::sql_query(
            "SELECT id, name, sku, price, stock_quantity, archived FROM products \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind::<Array<BigInt>, _>(&ids),
    )
    .load(conn)
    .await?;
    let products: HashMap<i64, &LockedProduct> = locked.iter().map(|p| (p.id, p)).collect();
    let mut stock: HashMap<i64, i64> = locked.iter().map(|p| (p.id, p.stock_quantity)).collect();

    let mut outputs: Vec<Option<Result<Order, PlaceOrderError>>> = Vec::with_capacity(jobs.len());
    let mut accepted = Vec::new();
    for (index, PlaceJob(order)) in jobs.iter().enumerate() {
        match check(order, &products, &stock) {
            Ok((lines, totals)) => {
                for (line, _) in &lines {
                    if let Some(left) = stock.get_mut(&line.product_id) {
                        *left -= i64::from(line.quantity);
                    }
                }
                accepted.push(Accepted {
                    index,
                    order,
                    lines,
                    totals,
                });
                outputs.push(None);
            }
            Err(refused) => outputs.push(Some(Err(refused))),
        }
    }
    if !accepted.is_empty() {
        for (index, order) in write(conn, &accepted).await? {
            if let Some(slot) = outputs.get_mut(index) {
                *slot = Some(order);
            }
        }
    }
    Ok(answers::<PlaceJob>(outputs))
}

/// The order's lines with their locked products and its totals, or why it is refused.
fn check<'a>(
    order: &'a NewOrder,
    products: &HashMap<i64, &'a LockedProduct>,
    stock: &HashMap<i64, i64>,
) -> Result<(Vec<Line<'a>>, Totals), PlaceOrderError> {
    check_and_price(
        &order.lines,
        &order.address.country,
        &order.rules,
        products,
        stock,
    )
}

/// The checks and pricing of placement, shared with [`quote`]: `lines`' products (unknown or
/// archived ones refuse), their stock (every short line refuses), the domain's totals.
fn check_and_price<'a>(
    order_lines: &'a [domain::OrderLine],
    country: &str,
    rules: &PricingRules,
    products: &HashMap<i64, &'a LockedProduct>,
    stock: &HashMap<i64, i64>,
) -> Result<(Vec<Line<'a>>, Totals), PlaceOrderError> {
    if order_lines.is_empty() {
        // The domain's validation refuses this first; never store an order of nothing.
        return Err(PlaceOrderError::Store(StoreError::Internal(
            "an order needs at least one line".into(),
        )));
    }
    let lines = check_lines(order_lines, products, stock)?;
    let priced: Vec<PricedLine> = lines
        .iter()
        .map(|(line, product)| PricedLine {
            unit_price: Cents(product.price),
            quantity: line.quantity,
        })
        .collect();
    let totals = price_order(&priced, country, rules).map_err(PlaceOrderError::Pricing)?;
    Ok((lines, totals))
}

/// What placing `lines` would cost now: [`check_and_price`] on the products read without a lock
/// (the stock each line may take is the product's stock now).
pub(super) async fn quote(
    pool: &PgPool,
    lines: &[domain::OrderLine],
    country: &str,
    rules: &PricingRules,
) -> Result<Quote, PlaceOrderError> {
    let mut ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut conn = pool.get().await.map_err(store_error)?;
    let read: Vec<LockedProduct> = Cached(
        diesel::sql_query(
            "SELECT id, name, sku, price, stock_quantity, archived FROM products \
             WHERE id = ANY($1)",
        )
        .bind::<Array<BigInt>, _>(&ids),
    )
    .load(&mut conn)
    .await
    .map_err(store_error)?;
    let products: HashMap<i64, &LockedProduct> = read.iter().map(|p| (p.id, p)).collect();
    let stock: HashMap<i64, i64> = read.iter().map(|p| (p.id, p.stock_quantity)).collect();
    let (priced, totals) = check_and_price(lines, country, rules, &products, &stock)?;
    Ok(Quote {
        lines: priced
            .iter()
            .zip(&totals.line_totals)
            .map(|((line, product), line_total)| QuoteLine {
                product_id: product.id,
                sku: product.sku.clone(),
                name: product.name.clone(),
                quantity: i64::from(line.quantity),
                unit_price: product.price,
                line_total: line_total.0,
                available: product.stock_quantity,
            })
            .collect(),
        subtotal: totals.subtotal.0,
        shipping_amount: totals.shipping.0,
        tax_amount: totals.tax.0,
        total_amount: totals.total.0,
    })
}

/// Every line's locked product, or the error naming every unknown (or archived) product, else
/// every short line (against the stock left by the orders before it in the batch).
fn check_lines<'a>(
    order_lines: &'a [domain::OrderLine],
    products: &HashMap<i64, &'a LockedProduct>,
    stock: &HashMap<i64, i64>,
) -> Result<Vec<Line<'a>>, PlaceOrderError> {
    let unknown: Vec<UnknownProduct> = order_lines
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
    let mut wanted: HashMap<i64, i64> = HashMap::new();
    for line in order_lines {
        *wanted.entry(line.product_id).or_default() += i64::from(line.quantity);
    }
    let mut lines = Vec::with_capacity(order_lines.len());
    let mut shortages = Vec::new();
    for line in order_lines {
        let Some(product) = products.get(&line.product_id).copied() else {
            continue;
        };
        let available = stock.get(&line.product_id).copied().unwrap_or(0);
        if wanted.get(&line.product_id).copied().unwrap_or(0) > available {
            shortages.push(Shortage {
                product_id: line.product_id,
                first_index: line.first_index,
                requested: line.quantity,
                available,
            });
        }
        lines.push((line, product));
    }
    if !shortages.is_empty() {
        return Err(PlaceOrderError::InsufficientStock(shortages));
    }
    Ok(lines)
}

/// Writes every accepted order (three statements and the events): each one's batch index and
/// stored order.
async fn write(
    conn: &mut AsyncPgConnection,
    accepted: &[Accepted<'_>],
) -> Result<Vec<(usize, Result<Order, PlaceOrderError>)>, DieselError> {
    let rows = insert_orders(conn, accepted).await?;
    let mut items = group_items(take_stock_and_insert_items(conn, accepted).await?);

    let events: Vec<NewEvent> = accepted
        .iter()
        .map(|a| {
            NewEvent::new(
                a.order.id,
                a.order.user_id,
                EventType::OrderCreated,
                None,
                OrderStatus::Pending,
                a.order.payment_status,
                a.totals.total.0,
                None,
                None,
            )
        })
        .collect();
    append_events(conn, &events).await?;

    let mut by_id: HashMap<Uuid, OrderRow> = rows.into_iter().map(|r| (r.id, r)).collect();
    Ok(accepted
        .iter()
        .map(|a| {
            let order = match by_id.remove(&a.order.id) {
                Some(row) => {
                    let mut mine = items.remove(&a.order.id).unwrap_or_default();
                    mine.sort_by_key(|item| item.id);
                    row.into_order(mine).map_err(PlaceOrderError::Store)
                }
                None => Err(PlaceOrderError::Store(StoreError::Internal(
                    "an inserted order was not returned".into(),
                ))),
            };
            (a.index, order)
        })
        .collect())
}

/// One `INSERT` of every accepted order. A charge that starts right after placement
/// (`processing`) is dated by the database's clock, for the reconciler.
async fn insert_orders(
    conn: &mut AsyncPgConnection,
    accepted: &[Accepted<'_>],
) -> Result<Vec<OrderRow>, DieselError> {
    let mut ids = Vec::with_capacity(accepted.len());
    let mut user_ids = Vec::with_capacity(accepted.len());
    let mut payment_statuses = Vec::with_capacity(accepted.len());
    let mut subtotals = Vec::with_capacity(accepted.len());
    let mut shippings = Vec::with_capacity(accepted.len());
    let mut taxes = Vec::with_capacity(accepted.len());
    let mut totals = Vec::with_capacity(accepted.len());
    let mut currencies = Vec::with_capacity(accepted.len());
    let mut addresses = Vec::with_capacity(accepted.len());
    let mut units = Vec::with_capacity(accepted.len());
    for a in accepted {
        ids.push(a.order.id);
        user_ids.push(a.order.user_id);
        payment_statuses.push(a.order.payment_status.as_str());
        subtotals.push(a.totals.subtotal.0);
        shippings.push(a.totals.shipping.0);
        taxes.push(a.totals.tax.0);
        totals.push(a.totals.total.0);
        currencies.push(a.order.currency.as_str());
        addresses.push(
            serde_json::to_string(&a.order.address)
                .map_err(|e| DieselError::SerializationError(Box::new(e)))?,
        );
        units.push(
            a.lines
                .iter()
                .map(|(line, _)| i64::from(line.quantity))
                .sum::<i64>(),
        );
    }
    let query = diesel::sql_query(INSERT_ORDERS)
        .bind::<Array<diesel::sql_types::Uuid>, _>(&ids)
        .bind::<Array<BigInt>, _>(&user_ids)
        .bind::<Array<Text>, _>(&payment_statuses)
        .bind::<Array<BigInt>, _>(&subtotals)
        .bind::<Array<BigInt>, _>(&shippings)
        .bind::<Array<BigInt>, _>(&taxes)
        .bind::<Array<BigInt>, _>(&totals)
        .bind::<Array<Text>, _>(&currencies)
        .bind::<Array<Text>, _>(&addresses)
        .bind::<Array<BigInt>, _>(&units);
    Cached(query).load(conn).await
}

/// `'processing'` is `PaymentStatus::Processing`'s text; `item_count` is the order's units (for the
/// export).
const INSERT_ORDERS: &str = "INSERT INTO orders (id, user_id, status, payment_status, payment_attempted_at, subtotal, \
                         shipping_amount, tax_amount, total_amount, currency, shipping_address, \
                         item_count) \
     SELECT v.id, v.user_id, 'PENDING', v.payment_status, \
            CASE WHEN v.payment_status = 'processing' THEN now() END, \
            v.subtotal, v.shipping, v.tax, v.total, v.currency, v.address::jsonb, v.units \
       FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], \
                   $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[]) \
            AS v(id, user_id, payment_status, subtotal, shipping, tax, total, currency, address, \
                 units) \
     RETURNING id, user_id, status, payment_status, payment_collected, payment_reference, \
               payment_attempt, fulfillment_status, refunded_amount, shipping_refunded, \
               refund_count, subtotal, shipping_amount, tax_amount, total_amount, currency, shipping_address, \
               tracking_carrier, tracking_number, version, created_at, updated_at";

/// One statement: the stock decrement of every product (rows already locked; one row per
/// product, the batch's quantities summed) and the insert of every item, in line order.
async fn take_stock_and_insert_items(
    conn: &mut AsyncPgConnection,
    accepted: &[Accepted<'_>],
) -> Result<Vec<ItemRow>, DieselError> {
    let mut taken: BTreeMap<i64, i64> = BTreeMap::new();
    let mut order_ids = Vec::new();
    let mut product_ids = Vec::new();
    let mut skus = Vec::new();
    let mut names = Vec::new();
    let mut quantities = Vec::new();
    let mut prices = Vec::new();
    for a in accepted {
        for (line, product) in &a.lines {
            *taken.entry(line.product_id).or_default() += i64::from(line.quantity);
            order_ids.push(a.order.id);
            product_ids.push(line.product_id);
            skus.push(product.sku.as_str());
            names.push(product.name.as_str());
            quantities.push(i64::from(line.quantity));
            prices.push(product.price);
        }
    }
    let (stock_ids, stock_quantities): (Vec<i64>, Vec<i64>) = taken.into_iter().unzip();
    let query = diesel::sql_query(
        "WITH taken AS ( \
           UPDATE products p \
              SET stock_quantity = p.stock_quantity - v.quantity, \
                  version = p.version + 1, updated_at = now() \
             FROM unnest($1::bigint[], $2::bigint[]) AS v(product_id, quantity) \
            WHERE p.id = v.product_id) \
         INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) \
         SELECT v.order_id, v.product_id, v.sku, v.name, v.quantity, v.unit_price \
           FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], \
                       $8::bigint[]) \
                WITH ORDINALITY AS v(order_id, product_id, sku, name, quantity, unit_price, n) \
          ORDER BY v.n \
         RETURNING id, order_id, product_id, sku, name, quantity, unit_price, quantity_shipped, \
                   quantity_cancelled, quantity_returned",
    )
    .bind::<Array<BigInt>, _>(&stock_ids)
    .bind::<Array<BigInt>, _>(&stock_quantities)
    .bind::<Array<diesel::sql_types::Uuid>, _>(&order_ids)
    .bind::<Array<BigInt>, _>(&product_ids)
    .bind::<Array<Text>, _>(&skus)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<BigInt>, _>(&quantities)
    .bind::<Array<BigInt>, _>(&prices);
    Cached(query).load(conn).await
}
