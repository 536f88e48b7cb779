//! Demo data (`oms seed-demo`) and a generator of large order tables for benchmarks
//! (`oms seed-demo --orders N`).
//!
//! - [`seed_demo`]: a realistic catalogue of [`DEMO_PRODUCTS`], the demo customers of
//!   [`DEMO_CUSTOMERS`] and a few dozen orders of theirs in every status, each with its events.
//!   Idempotent: when any demo product exists it does nothing.
//! - [`generate_orders`]: `n` more orders (with items and events) spread over a year and over
//!   `n / 10` new customers (at most 100,000), in transactions of [`GENERATOR_CHUNK`] orders, each a
//!   handful of `INSERT … SELECT … FROM generate_series(…)` statements: a million orders (two million items,
//!   2.65 million events) take 3 to 4 minutes on 2 cores.
//!
//! Both write the orders the same way ([`insert_orders`]), so the demo and the benchmark data look
//! alike:
//! - the status comes from the order's number `g` modulo 20: 1 in 20 `PENDING`, 1 in 20 cancelled
//!   while pending (expired, `unpaid`), 1 in 20 cancelled after payment (`refunded`), 4 in 20
//!   `PAID`, 13 in 20 `FULFILLED` (with tracking);
//! - `PENDING` orders are from the last 25 minutes (older ones would be expired by the reconciler
//!   at once), the others spread over the span asked for;
//! - 1 to 3 lines of distinct products, 1 to 3 units each, priced at the product's price; shipping
//!   by the default rules (500, free from 5000), no tax, currency [`SEED_CURRENCY`], so every order
//!   adds up (`total_amount = subtotal + shipping_amount + tax_amount`);
//! - the events a real order would have (`order.created`, then `order.paid`,
//!   `order.status_changed` or `order.cancelled`), each at its own time, `version` = their number.
//!   Changes an admin makes (fulfilment, the cancel of a paid order) name the first admin as actor
//!   when one exists. Events are inserted under the event lock (`EVENT_LOCK_KEY`) like every other
//!   writer's, but not notified: they are history, found by replay.
//!
//! Order ids are UUID v7 built in SQL (rather than `gen_random_uuid()`, a v4) from `created_at` (48 bits of Unix milliseconds, version 7,
//! the variant, random bits from `md5(random())`), so they sort by creation time as the app's
//! `Uuid::now_v7()` ids do; PostgreSQL 15 has no `uuidv7()`.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ports::StoreError;

use crate::errors::store_error;
use crate::events::EVENT_LOCK_KEY;
use crate::pool::PgPool;

/// The currency of seeded orders (the default `CURRENCY`).
pub const SEED_CURRENCY: &str = "USD";
/// Orders per transaction of [`generate_orders`].
pub const GENERATOR_CHUNK: u64 = 100_000;
/// Customers [`generate_orders`] makes, at most.
pub const GENERATOR_MAX_CUSTOMERS: u64 = 100_000;
/// Demo orders [`seed_demo`] makes.
pub const DEMO_ORDERS: i64 = 40;
/// Serialises seeders ("oms_seed").
const SEED_LOCK_KEY: i64 = 0x6f6d_735f_7365_6564;
/// The password hash of generated customers: argon2id of 32 random bytes that were thrown away,
/// so they cannot sign in (and verifying against it works like any other hash).
const UNUSABLE_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$rg/neesfhqpW29N8J2HfIw$kEcXOTw/sbs/i+R0mhcB7DpJZPfXgnLLajja17Sh4Wo";

/// The demo customers; they sign in with the password whose hash [`seed_demo`] is given.
pub const DEMO_CUSTOMERS: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];

/// One product of the demo catalogue.
#[derive(Debug, Clone, Copy)]
pub struct DemoProduct {
    pub sku: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// Cents.
    pub price: i64,
    pub stock_quantity: i64,
}

impl DemoProduct {
    /// `/images/<sku, lower case>.svg`: a placeholder the web app serves from
    /// `web/public/images/`.
    pub fn image_url(&self) -> String {
        format!("/images/{}.svg", self.sku.to_ascii_lowercase())
    }
}

const fn product(
    sku: &'static str,
    name: &'static str,
    description: &'static str,
    price: i64,
    stock_quantity: i64,
) -> DemoProduct {
    DemoProduct {
        sku,
        name,
        description,
        price,
        stock_quantity,
    }
}

/// The demo catalogue.
pub const DEMO_PRODUCTS: [DemoProduct; 20] = [
    product(
        "MUG-CER-350",
        "Ceramic Mug 350 ml",
        "Stoneware mug, dishwasher safe.\nMatte glaze.",
        1250,
        240,
    ),
    product(
        "MUG-TRV-450",
        "Insulated Travel Mug",
        "Double-walled steel, keeps coffee hot for 6 hours.",
        2490,
        120,
    ),
    product(
        "TEE-ORG-M",
        "Organic Cotton T-Shirt (M)",
        "Heavyweight organic cotton, relaxed fit.",
        2200,
        300,
    ),
    product(
        "TEE-ORG-L",
        "Organic Cotton T-Shirt (L)",
        "Heavyweight organic cotton, relaxed fit.",
        2200,
        280,
    ),
    product(
        "HOOD-GRY-L",
        "Grey Hoodie (L)",
        "Brushed fleece inside, kangaroo pocket.",
        4900,
        90,
    ),
    product(
        "CAP-BLK",
        "Baseball Cap",
        "Six-panel cotton twill cap, adjustable strap.",
        1800,
        150,
    ),
    product(
        "BAG-TOTE-CN",
        "Canvas Tote Bag",
        "12 oz canvas, reinforced handles.",
        1500,
        400,
    ),
    product(
        "BAG-BKP-20",
        "Daypack 20 L",
        "Water-resistant backpack with laptop sleeve.",
        7900,
        60,
    ),
    product(
        "NB-A5-DOT",
        "A5 Dotted Notebook",
        "192 pages of 100 gsm paper, lay-flat binding.",
        1400,
        500,
    ),
    product(
        "PEN-GEL-BLK3",
        "Gel Pens, Black (3-pack)",
        "0.5 mm quick-drying ink.",
        650,
        800,
    ),
    product(
        "BTL-STL-750",
        "Steel Water Bottle 750 ml",
        "Vacuum insulated, leak-proof lid.",
        2900,
        200,
    ),
    product(
        "KB-MECH-TKL",
        "Mechanical Keyboard TKL",
        "Tenkeyless, hot-swappable switches, USB-C.",
        11900,
        35,
    ),
    product(
        "MS-WL-ERGO",
        "Ergonomic Wireless Mouse",
        "Vertical grip, silent clicks, 2.4 GHz and Bluetooth.",
        4500,
        75,
    ),
    product(
        "PAD-DESK-XL",
        "Desk Mat XL",
        "90 × 40 cm, stitched edges, non-slip base.",
        2600,
        140,
    ),
    product(
        "CBL-USBC-2M",
        "USB-C Cable 2 m",
        "Braided, 100 W power delivery.",
        1300,
        600,
    ),
    product(
        "LMP-LED-DSK",
        "LED Desk Lamp",
        "Dimmable, three colour temperatures, USB charging port.",
        5400,
        45,
    ),
    product(
        "PLT-SUC-3",
        "Succulent Trio",
        "Three potted succulents in ceramic pots.",
        3200,
        30,
    ),
    product(
        "CND-SOY-CED",
        "Soy Candle, Cedar",
        "Hand-poured, 40-hour burn.",
        1900,
        110,
    ),
    product(
        "PZL-1000-MAP",
        "1000-Piece Puzzle: Old World Map",
        "Recycled board, poster included.",
        2400,
        70,
    ),
    product(
        "GFT-CARD-50",
        "Gift Card $50",
        "Delivered by email; never expires.",
        5000,
        10_000,
    ),
];

/// What [`seed_demo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedReport {
    /// `true` when demo products were already there and nothing was written.
    pub already_seeded: bool,
    pub products: u64,
    /// Demo customers created (existing ones are kept as they are).
    pub customers: u64,
    pub orders: u64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Seeds the demo catalogue, customers and orders, unless a demo product exists already.
/// `customer_password_hash` is stored as the demo customers' password hash (the caller hashes the
/// demo password with the server's hasher). One transaction: all or nothing.
pub async fn seed_demo(
    pool: &PgPool,
    customer_password_hash: &str,
) -> Result<SeedReport, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    let hash = customer_password_hash.to_owned();
    conn.transaction(async |conn| seed_demo_in(conn, &hash).await)
        .await
        .map_err(store_error)
}

async fn seed_demo_in(
    conn: &mut AsyncPgConnection,
    password_hash: &str,
) -> Result<SeedReport, diesel::result::Error> {
    lock_seeders(conn).await?;
    let skus: Vec<String> = DEMO_PRODUCTS.iter().map(|p| p.sku.to_lowercase()).collect();
    let existing: Count =
        diesel::sql_query("SELECT count(*) AS count FROM products WHERE lower(sku) = ANY($1)")
            .bind::<Array<Text>, _>(&skus)
            .get_result(conn)
            .await?;
    if existing.count > 0 {
        return Ok(SeedReport {
            already_seeded: true,
            ..SeedReport::default()
        });
    }
    let products = insert_demo_products(conn).await?;
    let emails: Vec<String> = DEMO_CUSTOMERS.iter().map(|e| (*e).to_owned()).collect();
    let customers = diesel::sql_query(
        "INSERT INTO users (email, password_hash, role) \
         SELECT e, $2, 'CUSTOMER' FROM unnest($1::text[]) e \
         ON CONFLICT ((lower(email))) DO NOTHING",
    )
    .bind::<Array<Text>, _>(&emails)
    .bind::<Text, _>(password_hash)
    .execute(conn)
    .await?;
    let users_sql = "SELECT id FROM users WHERE lower(email) = ANY($1) AND role = 'CUSTOMER'";
    stage_users(conn, users_sql, Some(&emails)).await?;
    stage_products(conn, Some(&skus)).await?;
    let orders = insert_orders(conn, 1, DEMO_ORDERS, 60).await?;
    Ok(SeedReport {
        already_seeded: false,
        products: count(products),
        customers: count(customers),
        orders,
    })
}

/// Waits for any other seeder (transaction-scoped lock).
async fn lock_seeders(conn: &mut AsyncPgConnection) -> Result<(), diesel::result::Error> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(SEED_LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_demo_products(
    conn: &mut AsyncPgConnection,
) -> Result<usize, diesel::result::Error> {
    let column = |f: fn(&DemoProduct) -> String| DEMO_PRODUCTS.iter().map(f).collect::<Vec<_>>();
    let skus = column(|p| p.sku.to_owned());
    let names = column(|p| p.name.to_owned());
    let descriptions = column(|p| p.description.to_owned());
    let prices: Vec<i64> = DEMO_PRODUCTS.iter().map(|p| p.price).collect();
    let stock: Vec<i64> = DEMO_PRODUCTS.iter().map(|p| p.stock_quantity).collect();
    let images = column(DemoProduct::image_url);
    diesel::sql_query(
        "INSERT INTO products (sku, name, description, price, stock_quantity, image_url) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], \
                              $6::text[]) \
         ON CONFLICT ((lower(sku))) DO NOTHING",
    )
    .bind::<Array<Text>, _>(&skus)
    .bind::<Array<Text>, _>(&names)
    .bind::<Array<Text>, _>(&descriptions)
    .bind::<Array<BigInt>, _>(&prices)
    .bind::<Array<BigInt>, _>(&stock)
    .bind::<Array<Text>, _>(&images)
    .execute(conn)
    .await
}

/// `seed_users (n, id)`: the customers orders are spread over, numbered from 1 (dropped at commit).
/// `select_ids` selects `id`, with `$1` bound to `emails` when given.
async fn stage_users(
    conn: &mut AsyncPgConnection,
    select_ids: &str,
    emails: Option<&Vec<String>>,
) -> Result<(), diesel::result::Error> {
    let sql = format!(
        "CREATE TEMP TABLE seed_users ON COMMIT DROP AS \
         SELECT row_number() OVER (ORDER BY id) AS n, id FROM ({select_ids}) u"
    );
    match emails {
        Some(emails) => {
            diesel::sql_query(sql)
                .bind::<Array<Text>, _>(emails)
                .execute(conn)
                .await?
        }
        None => diesel::sql_query(sql).execute(conn).await?,
    };
    Ok(())
}

/// `seed_products (n, id, sku, name, price)`: the active products orders are made of, numbered
/// from 0; only those of `skus` (lower-cased) when given (dropped at commit).
async fn stage_products(
    conn: &mut AsyncPgConnection,
    skus: Option<&Vec<String>>,
) -> Result<(), diesel::result::Error> {
    let sql = "CREATE TEMP TABLE seed_products ON COMMIT DROP AS \
               SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, sku, name, price \
               FROM products WHERE NOT archived AND ($1::text[] IS NULL OR lower(sku) = ANY($1))";
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Nullable<Array<Text>>, _>(skus)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts orders number `first..=last` (see the module documentation) for the staged users and
/// products, with their items and events; returns how many orders were written. `span_days`: how
/// far back non-pending orders go.
async fn insert_orders(
    conn: &mut AsyncPgConnection,
    first: i64,
    last: i64,
    span_days: i32,
) -> Result<u64, diesel::result::Error> {
    diesel::sql_query(STAGE_ORDERS_SQL)
        .bind::<BigInt, _>(first)
        .bind::<BigInt, _>(last)
        .bind::<Integer, _>(span_days)
        .execute(conn)
        .await?;
    diesel::sql_query(STAGE_ITEMS_SQL).execute(conn).await?;
    diesel::sql_query(STAGE_TOTALS_SQL).execute(conn).await?;
    let orders = diesel::sql_query(INSERT_ORDERS_SQL)
        .bind::<Text, _>(SEED_CURRENCY)
        .execute(conn)
        .await?;
    diesel::sql_query(INSERT_ITEMS_SQL).execute(conn).await?;
    diesel::sql_query(INSERT_SHIPMENTS_SQL)
        .execute(conn)
        .await?;
    diesel::sql_query(INSERT_CHARGES_SQL)
        .bind::<Text, _>(SEED_CURRENCY)
        .execute(conn)
        .await?;
    // Last, like every event writer: the event lock, held to the commit.
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(EVENT_LOCK_KEY)
        .execute(conn)
        .await?;
    diesel::sql_query(INSERT_EVENTS_SQL).execute(conn).await?;
    Ok(count(orders))
}

/// `seed_orders`: one row per order number in `$1..=$2`: its status bucket, times, customer,
/// address and id. `$3`: the span in days.
const STAGE_ORDERS_SQL: &str = r#"
CREATE TEMP TABLE seed_orders ON COMMIT DROP AS
WITH users_count AS (SELECT count(*) AS c FROM seed_users),
numbered AS (
    SELECT g,
           g % 20 AS bucket,
           CASE WHEN g % 20 = 0
                THEN now() - random() * interval '25 minutes'
                ELSE now() - interval '30 minutes' - random() * make_interval(days => $3)
           END AS created_at,
           1 + floor(random() * (SELECT c FROM users_count))::bigint AS user_n,
           floor(random() * 1000)::int AS product_base,
           1 + floor(random() * 3)::int AS lines,
           floor(random() * 20)::int AS name_n,
           floor(random() * 12)::int AS city_n,
           md5(random()::text || g::text) AS hex
    FROM generate_series($1::bigint, $2::bigint) AS g
)
SELECT n.g,
       n.bucket,
       date_trunc('microseconds', n.created_at) AS created_at,
       CASE WHEN n.bucket = 0 THEN date_trunc('microseconds', n.created_at)
            ELSE date_trunc('microseconds',
                            least(now(), n.created_at + interval '5 minutes' + random() * interval '3 days'))
       END AS updated_at,
       u.id AS user_id,
       n.product_base,
       n.lines,
       (lpad(to_hex(floor(extract(epoch FROM n.created_at) * 1000)::bigint), 12, '0')
        || '7' || substr(n.hex, 1, 3)
        || substr('89ab', 1 + (get_byte(decode(substr(n.hex, 4, 2), 'hex'), 0) % 4), 1)
        || substr(n.hex, 6, 15))::uuid AS id,
       jsonb_build_object(
           'name', (ARRAY['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson',
                          'Linus Pauling', 'Marie Curie', 'Niels Bohr', 'Emmy Noether',
                          'Srinivasa Ramanujan', 'Hedy Lamarr', 'Tim Berners-Lee', 'Zoë Martin',
                          'Seán O''Brien', 'Björn Andersson', 'Chiara Rossi', 'Lucía García',
                          'Kenji Sato', 'Amara Okafor', 'Priya Sharma', 'Jean-Luc Picard'])[n.name_n + 1],
           'line1', (1 + n.g % 250)::text || ' ' ||
                    (ARRAY['Main St', 'High Street', 'Church Road', 'Station Road', 'Park Avenue',
                           'Mill Lane'])[1 + n.g % 6],
           'line2', NULL,
           'city', (ARRAY['London', 'Manchester', 'Berlin', 'Munich', 'Paris', 'Lyon', 'New York',
                          'San Francisco', 'Toronto', 'Madrid', 'Dublin', 'Amsterdam'])[n.city_n + 1],
           'region', NULL,
           'postal_code', (ARRAY['N1 9GU', 'M1 1AE', '10115', '80331', '75001', '69001', '10001',
                                 '94103', 'M5V 2T6', '28013', 'D02 X285', '1012 JS'])[n.city_n + 1],
           'country', (ARRAY['GB', 'GB', 'DE', 'DE', 'FR', 'FR', 'US', 'US', 'CA', 'ES', 'IE',
                             'NL'])[n.city_n + 1]
       ) AS shipping_address
FROM numbered n
JOIN seed_users u ON u.n = n.user_n
"#;

/// `seed_items`: 1 to 3 lines of distinct products per staged order, 1 to 3 units each.
const STAGE_ITEMS_SQL: &str = r#"
CREATE TEMP TABLE seed_items ON COMMIT DROP AS
WITH products_count AS (SELECT count(*) AS c FROM seed_products)
SELECT o.id AS order_id, p.id AS product_id, p.sku, p.name,
       1 + floor(random() * 3)::bigint AS quantity, p.price AS unit_price, o.created_at
FROM seed_orders o
CROSS JOIN products_count pc
CROSS JOIN LATERAL generate_series(1, least(o.lines, pc.c)::int) AS j
JOIN seed_products p ON p.n = (o.product_base + j) % pc.c
"#;

/// `seed_totals`: each staged order's subtotal, shipping (default rules: 500, free from 5000) and
/// number of units.
const STAGE_TOTALS_SQL: &str = r#"
CREATE TEMP TABLE seed_totals ON COMMIT DROP AS
SELECT order_id, subtotal, CASE WHEN subtotal >= 5000 THEN 0 ELSE 500 END AS shipping, units
FROM (SELECT order_id, sum(quantity * unit_price) AS subtotal, sum(quantity)::bigint AS units
      FROM seed_items GROUP BY order_id) s
"#;

/// The orders, priced from their staged items. `$1`: the currency.
const INSERT_ORDERS_SQL: &str = r#"
INSERT INTO orders (id, user_id, status, payment_status, payment_collected, payment_reference,
                    subtotal, shipping_amount, tax_amount, total_amount, currency,
                    shipping_address, tracking_carrier, tracking_number, version,
                    fulfillment_status, refunded_amount, item_count, created_at, updated_at)
SELECT o.id, o.user_id,
       CASE WHEN o.bucket = 0 THEN 'PENDING'
            WHEN o.bucket IN (1, 2) THEN 'CANCELLED'
            WHEN o.bucket BETWEEN 3 AND 6 THEN 'PAID'
            ELSE 'FULFILLED' END,
       CASE WHEN o.bucket IN (0, 1) THEN 'unpaid'
            WHEN o.bucket = 2 THEN 'refunded'
            ELSE 'captured' END,
       o.bucket >= 2,
       CASE WHEN o.bucket >= 2 THEN 'sim_' || replace(o.id::text, '-', '') END,
       t.subtotal,
       t.shipping,
       0,
       t.subtotal + t.shipping,
       $1,
       o.shipping_address,
       CASE WHEN o.bucket >= 7 THEN (ARRAY['DHL', 'UPS', 'FedEx', 'Royal Mail'])[1 + o.g % 4] END,
       CASE WHEN o.bucket >= 7 THEN 'TRK' || lpad(o.g::text, 10, '0') END,
       CASE WHEN o.bucket = 0 THEN 1 WHEN o.bucket IN (1, 3, 4, 5, 6) THEN 2 ELSE 3 END,
       CASE WHEN o.bucket >= 7 THEN 'fulfilled' ELSE 'unfulfilled' END,
       CASE WHEN o.bucket = 2 THEN t.subtotal + t.shipping ELSE 0 END,
       t.units,
       o.created_at, o.updated_at
FROM seed_orders o
JOIN seed_totals t ON t.order_id = o.id
ORDER BY o.created_at, o.id
"#;

/// The simulated provider's books for the orders that were paid, so that it knows their charges
/// (an admin's cancel of a seeded paid order refunds it as it would a real one).
const INSERT_CHARGES_SQL: &str = r#"
INSERT INTO simulated_charges (order_id, token, amount, currency, status, reference,
                               created_at, updated_at)
SELECT o.id, 'tok_visa', t.subtotal + t.shipping, $1,
       CASE WHEN o.bucket = 2 THEN 'refunded' ELSE 'captured' END,
       'sim_' || replace(o.id::text, '-', ''), o.created_at, o.updated_at
FROM seed_orders o
JOIN seed_totals t ON t.order_id = o.id
WHERE o.bucket >= 2
"#;

/// Fulfilled orders shipped every unit (in one shipment: [`INSERT_SHIPMENTS_SQL`]); cancelled
/// ones cancelled every unit.
const INSERT_ITEMS_SQL: &str = r#"
INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price, created_at,
                         quantity_shipped, quantity_cancelled)
SELECT i.order_id, i.product_id, i.sku, i.name, i.quantity, i.unit_price, i.created_at,
       CASE WHEN o.bucket >= 7 THEN i.quantity ELSE 0 END,
       CASE WHEN o.bucket IN (1, 2) THEN i.quantity ELSE 0 END
FROM seed_items i
JOIN seed_orders o ON o.id = i.order_id
ORDER BY i.order_id, i.product_id
"#;

/// One shipment of every unit for each fulfilled order, with its tracking, at its update time.
const INSERT_SHIPMENTS_SQL: &str = r#"
WITH s AS (
    INSERT INTO shipments (id, order_id, carrier, tracking_number, note, created_at)
    SELECT o.id, o.id, o.tracking_carrier, o.tracking_number, 'Shipped', o.updated_at
    FROM orders o JOIN seed_orders so ON so.id = o.id
    WHERE so.bucket >= 7
    RETURNING id, order_id)
INSERT INTO shipment_items (shipment_id, order_id, product_id, quantity)
SELECT s.id, i.order_id, i.product_id, i.quantity
FROM s JOIN order_items i ON i.order_id = s.order_id
"#;

/// Each order's history, in time order. The actor of an admin's change is the first admin, if any.
const INSERT_EVENTS_SQL: &str = r#"
WITH admin AS (SELECT (SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id LIMIT 1) AS id),
history AS (
    SELECT o.id, o.user_id, 'order.created' AS type, NULL AS from_status, 'PENDING' AS to_status,
           'unpaid' AS payment_status, false AS by_admin, NULL AS note, o.created_at AS occurred_at
    FROM seed_orders o
    UNION ALL
    SELECT o.id, o.user_id, 'order.paid', 'PENDING', 'PAID', 'captured', false, NULL,
           o.created_at + interval '2 seconds'
    FROM seed_orders o WHERE o.bucket >= 2
    UNION ALL
    SELECT o.id, o.user_id, 'order.status_changed', 'PAID', 'FULFILLED', 'captured', true,
           'Shipped', o.updated_at
    FROM seed_orders o WHERE o.bucket >= 7
    UNION ALL
    SELECT o.id, o.user_id, 'order.cancelled', 'PENDING', 'CANCELLED', 'unpaid', false,
           'Payment not received in time', o.updated_at
    FROM seed_orders o WHERE o.bucket = 1
    UNION ALL
    SELECT o.id, o.user_id, 'order.cancelled', 'PAID', 'CANCELLED', 'refunded', true,
           'Cancelled at the customer''s request', o.updated_at
    FROM seed_orders o WHERE o.bucket = 2
)
INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status,
                          total_amount, actor_id, actor_role, note, occurred_at,
                          fulfillment_status, refunded_amount, shipment_id)
SELECT h.id, h.user_id, h.type, h.from_status, h.to_status, h.payment_status,
       t.subtotal + t.shipping,
       CASE WHEN h.by_admin THEN admin.id END,
       CASE WHEN h.by_admin AND admin.id IS NOT NULL THEN 'ADMIN' END,
       h.note, h.occurred_at,
       CASE WHEN h.to_status = 'FULFILLED' THEN 'fulfilled' ELSE 'unfulfilled' END,
       CASE WHEN h.payment_status = 'refunded' THEN t.subtotal + t.shipping ELSE 0 END,
       CASE WHEN h.to_status = 'FULFILLED' THEN h.id END
FROM history h
JOIN seed_totals t ON t.order_id = h.id
CROSS JOIN admin
ORDER BY h.occurred_at, h.id
"#;

/// Adds `n` orders (with items and events) over a year for `n / 10` new customers (at least 1,
/// at most [`GENERATOR_MAX_CUSTOMERS`]), in transactions of [`GENERATOR_CHUNK`] orders; returns how
/// many orders were written. The active products in the database are what is bought: fails with
/// `Internal` when there are none (run [`seed_demo`] first).
pub async fn generate_orders(pool: &PgPool, n: u64) -> Result<u64, StoreError> {
    if n == 0 {
        return Ok(0);
    }
    let mut conn = pool.get().await.map_err(store_error)?;
    let active: Count =
        diesel::sql_query("SELECT count(*) AS count FROM products WHERE NOT archived")
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
    if active.count == 0 {
        return Err(StoreError::Internal(
            "no active products to order: seed the demo catalogue first".into(),
        ));
    }
    let label = uuid::Uuid::now_v7().simple().to_string();
    let run = label
        .get(label.len().saturating_sub(10)..)
        .unwrap_or("run")
        .to_owned();
    let customers = (n / 10).clamp(1, GENERATOR_MAX_CUSTOMERS);
    create_customers(&mut conn, &run, customers).await?;
    let users_sql =
        format!("SELECT id FROM users WHERE role = 'CUSTOMER' AND email LIKE 'shopper-{run}-%'");
    let total = i64::try_from(n).map_err(|_| StoreError::Internal("n is too large".into()))?;
    let chunk = i64::try_from(GENERATOR_CHUNK).unwrap_or(i64::MAX);
    let mut written = 0;
    let mut first = 1;
    while first <= total {
        let last = first.saturating_add(chunk - 1).min(total);
        let users_sql = users_sql.as_str();
        written += conn
            .transaction(async |conn| {
                skip_foreign_key_checks_if_allowed(conn).await?;
                stage_users(conn, users_sql, None).await?;
                stage_products(conn, None).await?;
                insert_orders(conn, first, last, 365).await
            })
            .await
            .map_err(store_error)?;
        tracing::info!(written, total, "generated orders");
        first = last + 1;
    }
    Ok(written)
}

/// For the rest of the transaction, skips the foreign-key triggers when the database user may
/// (a superuser: `session_replication_role = replica`); else does nothing. The generated rows
/// reference only users and products read in the same transaction (never deleted), so the keys
/// hold by construction, and the checks would be about 40% of the generator's time. CHECK
/// constraints and unique indexes still apply.
async fn skip_foreign_key_checks_if_allowed(
    conn: &mut AsyncPgConnection,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(
        "SELECT set_config('session_replication_role', 'replica', true) \
         FROM pg_roles WHERE rolname = current_user AND rolsuper",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `count` customers `shopper-<run>-<i>@example.test` who cannot sign in.
async fn create_customers(
    conn: &mut AsyncPgConnection,
    run: &str,
    count: u64,
) -> Result<(), StoreError> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    diesel::sql_query(
        "INSERT INTO users (email, password_hash, role, created_at, updated_at) \
         SELECT format('shopper-%s-%s@example.test', $1::text, g), $2, 'CUSTOMER', \
                now() - interval '400 days', now() - interval '400 days' \
         FROM generate_series(1, $3::bigint) AS g",
    )
    .bind::<Text, _>(run)
    .bind::<Text, _>(UNUSABLE_PASSWORD_HASH)
    .bind::<BigInt, _>(count)
    .execute(conn)
    .await
    .map_err(store_error)?;
    Ok(())
}
