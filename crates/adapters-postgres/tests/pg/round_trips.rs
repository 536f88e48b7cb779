//! How many round trips a placement and a status change cost, counted by diesel's
//! instrumentation on the only connection of a one-connection pool.

use adapters_postgres::PgOrderRepository;
use domain::OrderStatus;
use ports::{OrderRepository, StatusChange};

use crate::support::{ctx, new_order, one_connection};

#[tokio::test]
async fn a_placement_is_nine_round_trips() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let b = c.product("B-1", 100, 100).await;
    let (pool, log) = one_connection(&c).await;
    let orders = PgOrderRepository::new(pool);

    let placed = orders
        .place(&new_order(ada.id, &[(a.id, 1), (b.id, 2)]))
        .await
        .unwrap();
    let statements = std::mem::take(&mut *log.lock().unwrap());
    let starts: Vec<&str> = statements
        .iter()
        .map(|s| s.split(' ').next().unwrap_or(""))
        .collect();
    // BEGIN; plan for these values; lock products; insert order; take stock + insert items;
    // event lock; insert event; NOTIFY; COMMIT.
    assert_eq!(
        starts,
        [
            "BEGIN", "SET", "SELECT", "INSERT", "WITH", "SELECT", "INSERT", "SELECT", "COMMIT"
        ],
        "{statements:#?}"
    );

    orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    let statements = std::mem::take(&mut *log.lock().unwrap());
    // BEGIN; plan for these values; lock order; items; refunds in flight; lock products;
    // release stock; cancel the open units; update order; event lock; insert event; NOTIFY;
    // COMMIT.
    assert_eq!(statements.len(), 13, "{statements:#?}");
}
