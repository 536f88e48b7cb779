//! `oms seed-demo`'s data: the demo seed is idempotent and consistent, its customers can sign in,
//! and the bulk generator writes orders the API reads like any other.

use adapters_postgres::seed::{
    DEMO_CUSTOMERS, DEMO_ORDERS, DEMO_PRODUCTS, generate_orders, seed_demo,
};
use api::auth::password::Argon2Hasher;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use e2e::{PASSWORD, TestApp, spawn_app};
use ports::PasswordHasher;
use reqwest::StatusCode;

use crate::admin_support::{all_pages, get_json};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.pool.get().await.expect("connection");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// Checks that every order adds up, has items, events matching its version, and a v7 id made
/// from its creation time.
async fn assert_consistent(app: &TestApp) {
    let broken = [
        "SELECT count(*) AS n FROM orders o WHERE o.subtotal <> \
           (SELECT sum(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id)",
        "SELECT count(*) AS n FROM orders o WHERE o.version <> \
           (SELECT count(*) FROM order_events e WHERE e.order_id = o.id)",
        "SELECT count(*) AS n FROM orders o WHERE o.total_amount <> \
           (SELECT e.total_amount FROM order_events e WHERE e.order_id = o.id ORDER BY e.id DESC LIMIT 1)",
        "SELECT count(*) AS n FROM orders o WHERE o.status <> \
           (SELECT e.to_status FROM order_events e WHERE e.order_id = o.id \
            ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)",
        "SELECT count(*) AS n FROM orders WHERE substr(id::text, 15, 1) <> '7' \
           OR ('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint \
              <> floor(extract(epoch FROM created_at) * 1000)::bigint",
        "SELECT count(*) AS n FROM orders WHERE status = 'PENDING' \
           AND created_at < now() - interval '30 minutes'",
    ];
    for sql in broken {
        assert_eq!(count(app, sql).await, 0, "{sql}");
    }
}

#[tokio::test]
async fn the_demo_seed_is_idempotent_consistent_and_usable() {
    let app = spawn_app().await;
    let hash = Argon2Hasher::new()
        .await
        .expect("hasher")
        .hash(PASSWORD)
        .await
        .expect("hash");
    let first = seed_demo(&app.pool, &hash).await.expect("seed");
    assert!(!first.already_seeded);
    assert_eq!(first.products, DEMO_PRODUCTS.len() as u64);
    assert_eq!(first.customers, DEMO_CUSTOMERS.len() as u64);
    assert_eq!(first.orders, DEMO_ORDERS as u64);
    let again = seed_demo(&app.pool, &hash).await.expect("seed again");
    assert!(again.already_seeded);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM orders").await,
        DEMO_ORDERS
    );
    assert_eq!(
        count(&app, "SELECT count(DISTINCT status) AS n FROM orders").await,
        4,
        "every status"
    );
    assert_consistent(&app).await;
    // the statistics' rollups were kept by the seed's own inserts
    assert_eq!(crate::admin_stats::rollup_mismatches(&app).await, 0);
    // every demo product has its placeholder image, which the web app serves
    let images = format!("{}/../web/public", env!("CARGO_MANIFEST_DIR"));
    for product in &DEMO_PRODUCTS {
        let url = product.image_url();
        assert!(url.starts_with("/images/"), "{url}");
        assert!(
            std::path::Path::new(&format!("{images}{url}")).is_file(),
            "{images}{url}"
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM products WHERE image_url LIKE '/images/%.svg'"
        )
        .await,
        DEMO_PRODUCTS.len() as i64
    );

    // the demo customers sign in and see their own orders
    let alice = app.login(DEMO_CUSTOMERS[0]).await;
    let (status, mine) = get_json(&alice, &app, "/api/orders?limit=200").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|o| o["user_id"] == alice.user_id)
    );
    // the admin API reads every one of them
    let admin = app.admin().await;
    let all = all_pages(&admin, &app, "/api/admin/orders?limit=7").await;
    assert_eq!(all.len(), DEMO_ORDERS as usize);
    let (status, catalogue) = get_json(&alice, &app, "/api/products?limit=200").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        catalogue["items"].as_array().expect("items").len(),
        DEMO_PRODUCTS.len()
    );
}

#[tokio::test]
async fn the_generator_writes_orders_the_api_reads() {
    let app = spawn_app().await;
    assert!(
        generate_orders(&app.pool, 10).await.is_err(),
        "no products: refused"
    );
    seed_demo(&app.pool, "unused-hash").await.expect("seed");
    assert_eq!(
        generate_orders(&app.pool, 2500).await.expect("generate"),
        2500
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM orders").await,
        DEMO_ORDERS + 2500
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM users WHERE email LIKE 'shopper-%@example.test'"
        )
        .await,
        250
    );
    assert!(
        count(&app, "SELECT count(DISTINCT user_id) AS n FROM orders").await > 200,
        "spread over many customers"
    );
    assert!(
        count(
            &app,
            "SELECT count(*) AS n FROM orders WHERE created_at < now() - interval '300 days'"
        )
        .await
            > 0,
        "spread over a year"
    );
    assert_consistent(&app).await;
    // the generator skips foreign-key triggers (`session_replication_role`), not the rollups'
    assert_eq!(crate::admin_stats::rollup_mismatches(&app).await, 0);
    let admin = app.admin().await;
    let (status, page) =
        get_json(&admin, &app, "/api/admin/orders?status=FULFILLED&limit=200").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().expect("items").len(), 200);
    assert!(page["items"][0]["tracking"]["carrier"].is_string());
}
