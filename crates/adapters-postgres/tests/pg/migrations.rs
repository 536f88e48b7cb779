//! The migrations of version 3 applied to a database that already holds orders of version 2 (a
//! deploy, not a fresh install): fulfilled orders become shipped in one shipment, cancelled ones
//! cancelled, refunded ones refunded in full, and every new CHECK holds.

use adapters_postgres::run_migrations;
use diesel_async::SimpleAsyncConnection as _;

use crate::support::{ctx, get, units};

/// Undone newest first (the statistics' triggers read the columns the refunds migration adds).
const V3: [(&str, &str); 3] = [
    (
        "20261209000001",
        include_str!("../../../../migrations/2026-12-09-000001_catalogue_stats/down.sql"),
    ),
    (
        "20261203000003",
        include_str!("../../../../migrations/2026-12-03-000003_refunds/down.sql"),
    ),
    (
        "20261203000002",
        include_str!("../../../../migrations/2026-12-03-000002_shipments/down.sql"),
    ),
];

#[tokio::test]
async fn version_3_migrates_a_database_with_fulfilled_cancelled_and_refunded_orders() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    // Back to the schema before shipments and refunds.
    let mut conn = c.pool.get().await.unwrap();
    for (version, down) in V3 {
        conn.batch_execute(down).await.unwrap();
        assert_eq!(
            c.sql(&format!(
                "DELETE FROM __diesel_schema_migrations WHERE version = '{version}'"
            ))
            .await
            .unwrap(),
            1,
            "migration {version} was applied"
        );
    }
    drop(conn);
    // Orders as version 2 wrote them.
    for (n, status, payment) in [
        (1, "FULFILLED", "captured"),
        (2, "CANCELLED", "refunded"),
        (3, "PAID", "captured"),
    ] {
        c.sql(&format!(
            "INSERT INTO orders (id, user_id, status, payment_status, payment_collected, subtotal, \
               shipping_amount, tax_amount, total_amount, currency, shipping_address, \
               tracking_carrier, tracking_number) \
             VALUES ('00000000-0000-7000-8000-00000000000{n}', {}, '{status}', '{payment}', true, \
               300, 0, 0, 300, 'USD', '{{\"name\": \"Ada\", \"line1\": \"1 Main St\", \
               \"line2\": null, \"city\": \"London\", \"region\": null, \
               \"postal_code\": null, \"country\": \"GB\"}}', \
               CASE WHEN '{status}' = 'FULFILLED' THEN 'DHL' END, \
               CASE WHEN '{status}' = 'FULFILLED' THEN 'JD1' END)",
            ada.id
        ))
        .await
        .unwrap();
        c.sql(&format!(
            "INSERT INTO order_items (order_id, product_id, sku, name, quantity, unit_price) \
             VALUES ('00000000-0000-7000-8000-00000000000{n}', {}, 'A-1', 'A', 3, 100)",
            a.id
        ))
        .await
        .unwrap();
    }

    assert_eq!(run_migrations(&c.db.url).await.unwrap(), 3);
    // the statistics' backfill counts the migrated orders
    assert_eq!(
        c.count("SELECT sum(orders)::bigint AS n FROM order_stats_hourly")
            .await,
        3
    );
    assert_eq!(
        c.count("SELECT sum(units_to_ship)::bigint AS n FROM order_stats_counters")
            .await,
        3
    );

    let id = |n: u8| uuid::Uuid::parse_str(&format!("00000000-0000-7000-8000-00000000000{n}"));
    let fulfilled = get(&c, id(1).unwrap()).await;
    assert_eq!(
        fulfilled.fulfillment_status,
        domain::FulfillmentStatus::Fulfilled
    );
    assert_eq!(units(&fulfilled), [(a.id, 3, 0, 0)]);
    assert_eq!(fulfilled.shipments.len(), 1);
    assert_eq!(fulfilled.shipments[0].items, [(a.id, 3)]);
    assert_eq!(
        fulfilled.shipments[0]
            .tracking
            .as_ref()
            .map(|t| t.carrier.as_str()),
        Some("DHL")
    );
    let cancelled = get(&c, id(2).unwrap()).await;
    assert_eq!(units(&cancelled), [(a.id, 0, 3, 0)]);
    assert_eq!(cancelled.refunded_amount, 300);
    let paid = get(&c, id(3).unwrap()).await;
    assert_eq!(
        paid.fulfillment_status,
        domain::FulfillmentStatus::Unfulfilled
    );
    assert_eq!(units(&paid), [(a.id, 0, 0, 0)]);
    assert_eq!(paid.refunded_amount, 0);
}
