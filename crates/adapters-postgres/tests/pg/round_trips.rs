//! How many round trips a placement and a status change cost, counted by diesel's
//! instrumentation on the only connection of a one-connection pool.

use std::sync::{Arc, Mutex};

use adapters_postgres::{PgOrderRepository, build_pool};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::AsyncConnection;
use domain::OrderStatus;
use ports::{OrderRepository, StatusChange};

use crate::support::{ctx, new_order};

type Log = Arc<Mutex<Vec<String>>>;

fn recorder(log: Log) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let sql = query.to_string();
            log.lock()
                .unwrap()
                .push(sql.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
}

#[tokio::test]
async fn a_placement_is_eight_round_trips() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let b = c.product("B-1", 100, 100).await;
    let mut settings = c.db.settings();
    settings.max_size = 1;
    let pool = build_pool(&settings).unwrap();
    let log: Log = Arc::default();
    {
        let mut conn = pool.get().await.unwrap();
        conn.set_instrumentation(recorder(log.clone()));
    }
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
    // BEGIN; lock products; insert order; take stock + insert items; event lock; insert event;
    // NOTIFY; COMMIT.
    assert_eq!(
        starts,
        [
            "BEGIN", "SELECT", "INSERT", "WITH", "SELECT", "INSERT", "SELECT", "COMMIT"
        ],
        "{statements:#?}"
    );

    orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    let statements = std::mem::take(&mut *log.lock().unwrap());
    // BEGIN; lock order; items; lock products; release stock; update order; event lock; insert
    // event; NOTIFY; COMMIT.
    assert_eq!(statements.len(), 10, "{statements:#?}");
}
