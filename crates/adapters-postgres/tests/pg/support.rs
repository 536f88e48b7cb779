//! What the tests share: a database with the repositories on it, and a few builders.

use std::sync::{Arc, Mutex};

use adapters_postgres::testing::TestDb;
use adapters_postgres::{
    PgAuditLog, PgEventLog, PgIdempotencyStore, PgOrderRepository, PgPool, PgProductRepository,
    PgTokenRevocations, PgUserRepository, build_pool,
};
use diesel::connection::InstrumentationEvent;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::order::placement::ShippingAddress;
use domain::product::NewProduct;
use domain::{OrderLine, PaymentStatus, PricingRules, Role};
use ports::{
    NewOrder, Order, OrderItem, OrderRepository, Product, ProductRepository, User, UserRepository,
};
use uuid::Uuid;

pub struct Ctx {
    pub db: TestDb,
    pub pool: PgPool,
    pub users: PgUserRepository,
    pub products: PgProductRepository,
    pub orders: PgOrderRepository,
    pub events: PgEventLog,
    pub idempotency: PgIdempotencyStore,
    pub revocations: PgTokenRevocations,
    pub audit: PgAuditLog,
}

pub async fn ctx() -> Ctx {
    let db = TestDb::new().await;
    let pool = db.pool();
    Ctx {
        users: PgUserRepository::new(pool.clone()),
        products: PgProductRepository::new(pool.clone()),
        orders: PgOrderRepository::new(pool.clone()),
        events: PgEventLog::new(pool.clone()),
        idempotency: PgIdempotencyStore::new(pool.clone(), std::time::Duration::from_secs(60)),
        revocations: PgTokenRevocations::new(pool.clone()),
        audit: PgAuditLog::new(pool.clone()),
        pool,
        db,
    }
}

impl Ctx {
    pub async fn customer(&self, email: &str) -> User {
        self.users
            .create(email, "$argon2id$fake", Role::Customer)
            .await
            .unwrap()
    }

    pub async fn product(&self, sku: &str, price: i64, stock: i64) -> Product {
        self.products
            .create(
                &NewProduct {
                    name: format!("Product {sku}"),
                    description: None,
                    price,
                    stock_quantity: stock,
                    sku: sku.to_owned(),
                    image_url: None,
                },
                None,
            )
            .await
            .unwrap()
    }

    pub async fn place(&self, user_id: i64, lines: &[(i64, u32)]) -> Order {
        self.orders.place(&new_order(user_id, lines)).await.unwrap()
    }

    pub async fn stock(&self, product_id: i64) -> i64 {
        self.products
            .get(product_id)
            .await
            .unwrap()
            .unwrap()
            .stock_quantity
    }

    /// Runs SQL directly (test set-up, or checking what the database refuses).
    pub async fn sql(&self, sql: &str) -> Result<usize, diesel::result::Error> {
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query(sql).execute(&mut conn).await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.unwrap();
        let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
        row.n
    }
}

/// The statements a connection ran, as diesel's instrumentation saw them.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A one-connection pool whose connection records every statement, and its log.
pub async fn one_connection(c: &Ctx) -> (PgPool, Log) {
    one_connection_with(c, |_| {}).await
}

/// [`one_connection`] with other settings.
pub async fn one_connection_with(
    c: &Ctx,
    adjust: impl FnOnce(&mut adapters_postgres::PgSettings),
) -> (PgPool, Log) {
    let mut settings = c.db.settings();
    settings.max_size = 1;
    adjust(&mut settings);
    let pool = build_pool(&settings).unwrap();
    let log: Log = Arc::default();
    {
        let recorder = log.clone();
        let mut conn = pool.get().await.unwrap();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                recorder.lock().unwrap().push(query.to_string());
            }
        });
    }
    (pool, log)
}

pub fn address(country: &str) -> ShippingAddress {
    ShippingAddress {
        name: "Ada Lovelace".into(),
        line1: "1 Main St".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: Some("N1 9GU".into()),
        country: country.into(),
    }
}

/// An unpaid order shipped to the US (no tax) with default pricing rules.
pub fn new_order(user_id: i64, lines: &[(i64, u32)]) -> NewOrder {
    NewOrder {
        id: Uuid::now_v7(),
        user_id,
        lines: lines
            .iter()
            .enumerate()
            .map(|(first_index, &(product_id, quantity))| OrderLine {
                product_id,
                quantity,
                first_index,
            })
            .collect(),
        address: address("US"),
        currency: "USD".into(),
        rules: PricingRules::default(),
        payment_status: PaymentStatus::Unpaid,
    }
}

/// The order's line of `product_id`.
pub fn line(order: &Order, product_id: i64) -> &OrderItem {
    order
        .items
        .iter()
        .find(|i| i.product_id == product_id)
        .unwrap_or_else(|| panic!("no line of product {product_id}"))
}

/// `(product, shipped, cancelled, returned)` of each line, in line order.
pub fn units(order: &Order) -> Vec<(i64, i64, i64, i64)> {
    order
        .items
        .iter()
        .map(|i| {
            (
                i.product_id,
                i.quantity_shipped,
                i.quantity_cancelled,
                i.quantity_returned,
            )
        })
        .collect()
}

/// The order as the store reads it now.
pub async fn get(c: &Ctx, id: Uuid) -> Order {
    c.orders.get(id).await.unwrap().unwrap()
}
