//! The statistics' rollups (triggers of migrations `2026-12-09-000001_catalogue_stats` and
//! `2026-12-11-000001_stats_triggers_inline`), with refunds among the writes: equal to
//! a recount from the orders after concurrent writers on many connections, after the
//! migration's backfill of orders that existed before it, and read back by `PgStatsRepository`.

use std::sync::Arc;

use adapters_postgres::{PgOrderRepository, PgStatsRepository, run_migrations};
use diesel_async::SimpleAsyncConnection as _;
use domain::OrderStatus;
use domain::stats::Interval;
use domain::{RefundItem, Restock};
use ports::{
    NewRefund, NewShipment, OrderRepository, RefundSettlement, StatsRepository, StatusChange,
};
use time::{Duration, OffsetDateTime, Time};
use uuid::Uuid;

use crate::support::{Ctx, ctx, new_order};

/// The rows of the rollups, slots summed, that differ from a recount (0 when they agree).
async fn mismatches(c: &Ctx) -> i64 {
    c.count(
        "WITH r AS ( \
           SELECT date_trunc('hour', o.created_at, 'UTC') AS hour, count(*)::bigint AS a, \
                  count(*) FILTER (WHERE o.payment_collected)::bigint AS b, \
                  coalesce(sum(u.units) FILTER (WHERE o.payment_collected), 0)::bigint AS c, \
                  coalesce(sum(o.total_amount) FILTER (WHERE o.payment_collected), 0)::bigint AS d, \
                  coalesce(sum(o.refunded_amount) FILTER (WHERE o.payment_collected), 0)::bigint \
                      AS e \
             FROM orders o \
             LEFT JOIN (SELECT order_id, sum(quantity) AS units FROM order_items \
                         GROUP BY order_id) u ON u.order_id = o.id \
            GROUP BY 1), \
         h AS ( \
           SELECT hour, sum(orders)::bigint, sum(paid_orders)::bigint, sum(units)::bigint, \
                  sum(gross)::bigint, sum(refunded)::bigint \
             FROM order_stats_hourly GROUP BY hour HAVING sum(orders) <> 0), \
         counters AS ( \
           SELECT coalesce(sum(pending), 0)::bigint AS a, coalesce(sum(paid), 0)::bigint AS b, \
                  coalesce(sum(fulfilled), 0)::bigint AS c, \
                  coalesce(sum(cancelled), 0)::bigint AS d, \
                  coalesce(sum(awaiting_payment), 0)::bigint AS e, \
                  coalesce(sum(units_to_ship), 0)::bigint AS f \
             FROM order_stats_counters), \
         recount AS ( \
           SELECT count(*) FILTER (WHERE status = 'PENDING') AS a, \
                  count(*) FILTER (WHERE status = 'PAID') AS b, \
                  count(*) FILTER (WHERE status = 'FULFILLED') AS c, \
                  count(*) FILTER (WHERE status = 'CANCELLED') AS d, \
                  count(*) FILTER (WHERE status = 'PENDING' \
                                     AND payment_status IN ('unpaid', 'failed')) AS e, \
                  (SELECT coalesce(sum(i.quantity - i.quantity_shipped - i.quantity_cancelled), \
                                   0)::bigint \
                     FROM order_items i JOIN orders p ON p.id = i.order_id \
                    WHERE p.status = 'PAID') AS f \
             FROM orders) \
         SELECT ((SELECT count(*) FROM ((SELECT * FROM r EXCEPT SELECT * FROM h) \
                   UNION ALL (SELECT * FROM h EXCEPT SELECT * FROM r)) x) \
                 + (SELECT count(*) FROM ((SELECT * FROM counters EXCEPT SELECT * FROM recount) \
                   UNION ALL (SELECT * FROM recount EXCEPT SELECT * FROM counters)) y))::bigint \
                AS n",
    )
    .await
}

/// Places, pays, ships and cancels on `writers` repositories at once (each its own group commit,
/// so their transactions run side by side on different connections).
async fn busy_writers(c: &Ctx, writers: usize, per_writer: usize) {
    let user = c
        .customer(&format!("w{}@example.com", Uuid::now_v7()))
        .await;
    let a = c
        .product(&format!("A-{}", Uuid::now_v7().simple()), 700, 100_000)
        .await;
    let b = c
        .product(&format!("B-{}", Uuid::now_v7().simple()), 300, 100_000)
        .await;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let repo = Arc::new(PgOrderRepository::new(c.pool.clone()));
        let (a, b, user) = (a.id, b.id, user.id);
        tasks.push(tokio::spawn(async move {
            for n in 0..per_writer {
                let lines = if (w + n) % 2 == 0 {
                    vec![(a, 2), (b, 1)]
                } else {
                    vec![(b, 3)]
                };
                let placed = repo.place(&new_order(user, &lines)).await.unwrap();
                match n % 4 {
                    0 => {}
                    1 => {
                        repo.change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
                            .await
                            .unwrap();
                    }
                    _ => {
                        let mut pay = StatusChange::new(placed.id, OrderStatus::Paid);
                        pay.payment_reference = Some(format!("ref-{}", placed.id));
                        repo.change_status(&pay).await.unwrap();
                        if n % 4 == 3 {
                            repo.ship(&NewShipment {
                                id: Uuid::now_v7(),
                                order_id: placed.id,
                                items: Some(vec![(lines[0].0, 1)]),
                                tracking: None,
                                note: None,
                                actor: None,
                                expected_version: None,
                                audit: None,
                            })
                            .await
                            .unwrap();
                        }
                        // a unit refunded: returned (shipped) or cancelled (open)
                        let restock = if n % 4 == 3 {
                            Restock::Return
                        } else {
                            Restock::Cancel
                        };
                        if n % 8 >= 6 {
                            refund_one(&repo, placed.id, lines[0].0, restock).await;
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Refunds one unit of `product` and settles the refund: refunded amount, cancelled or returned
/// units move.
async fn refund_one(repo: &PgOrderRepository, order_id: Uuid, product: i64, restock: Restock) {
    let reserved = repo
        .reserve_refund(&NewRefund {
            id: Uuid::now_v7(),
            order_id,
            items: vec![RefundItem {
                product_id: product,
                quantity: 1,
                restock,
            }],
            shipping: false,
            amount: None,
            reason: "stats".into(),
            actor: None,
            expected_version: None,
            audit: None,
        })
        .await
        .unwrap();
    repo.settle_refund(
        reserved.id,
        &RefundSettlement::Succeeded {
            reference: format!("re_{}", reserved.id),
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn concurrent_writers_keep_the_rollups_equal_to_a_recount() {
    let c = ctx().await;
    busy_writers(&c, 6, 12).await;
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 72);
    assert_eq!(mismatches(&c).await, 0);
    // the writers' sessions took slots of their own
    assert!(
        c.count("SELECT count(*) AS n FROM order_stats_counters")
            .await
            > 1,
        "one slot for every writer"
    );
    let stats = PgStatsRepository::new(c.pool.clone());
    let day = OffsetDateTime::now_utc().replace_time(Time::MIDNIGHT);
    let summary = stats.summary(day, day + Duration::days(1)).await.unwrap();
    assert_eq!(
        summary.pending + summary.paid + summary.fulfilled + summary.cancelled,
        72
    );
    assert_eq!(summary.cancelled, 18);
    assert_eq!(summary.today.orders, 72);
    assert_eq!(summary.today.paid_orders, 36);
}

#[tokio::test]
async fn the_migration_backfills_the_rollups_from_existing_orders() {
    let c = ctx().await;
    busy_writers(&c, 2, 8).await;
    let mut conn = c.pool.get().await.unwrap();
    conn.batch_execute(include_str!(
        "../../../../migrations/2026-12-11-000001_stats_triggers_inline/down.sql"
    ))
    .await
    .unwrap();
    conn.batch_execute(include_str!(
        "../../../../migrations/2026-12-09-000001_catalogue_stats/down.sql"
    ))
    .await
    .unwrap();
    drop(conn);
    assert_eq!(
        c.sql(
            "DELETE FROM __diesel_schema_migrations \
              WHERE version IN ('20261209000001', '20261211000001')"
        )
        .await
        .unwrap(),
        2
    );
    // drop(pool) is not needed: the migration locks what it backfills
    assert_eq!(run_migrations(&c.db.url).await.unwrap(), 2);
    assert!(
        c.count("SELECT count(*) AS n FROM order_stats_hourly")
            .await
            > 0
    );
    assert_eq!(mismatches(&c).await, 0);
    // and the triggers keep them from there
    busy_writers(&c, 2, 4).await;
    assert_eq!(mismatches(&c).await, 0);
}

#[tokio::test]
async fn boundaries_follow_the_zone_s_days_and_hours() {
    let c = ctx().await;
    let stats = PgStatsRepository::new(c.pool.clone());
    let at =
        |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    // Europe/London's days around the start of summer time: 24, 23 and 24 hours
    let days = stats
        .bucket_boundaries(
            at("2026-03-28T12:00:00Z"),
            at("2026-03-30T00:00:00Z"),
            Interval::Day,
            "Europe/London",
        )
        .await
        .unwrap();
    assert_eq!(
        days,
        [
            at("2026-03-28T00:00:00Z"),
            at("2026-03-29T00:00:00Z"),
            at("2026-03-29T23:00:00Z"),
            at("2026-03-30T23:00:00Z"),
        ]
    );
    // Asia/Kolkata's hours start at half past
    let hours = stats
        .bucket_boundaries(
            at("2026-03-29T00:20:00Z"),
            at("2026-03-29T01:30:00Z"),
            Interval::Hour,
            "asia/kolkata",
        )
        .await
        .unwrap();
    assert_eq!(
        hours,
        [
            at("2026-03-28T23:30:00Z"),
            at("2026-03-29T00:30:00Z"),
            at("2026-03-29T01:30:00Z"),
        ]
    );
    assert_eq!(
        stats
            .bucket_boundaries(
                at("2026-03-29T00:00:00Z"),
                at("2026-03-30T00:00:00Z"),
                Interval::Day,
                "Mars/Olympus_Mons",
            )
            .await,
        Err(ports::BoundariesError::UnknownTimeZone)
    );
}
