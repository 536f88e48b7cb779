//! Group commit: writes that arrive while one of their kind is being written share the next
//! transaction. Each test holds the only connection of a one-connection pool while the writes
//! queue up, so the batches are known: the first write alone, then all the others together.

use std::time::{Duration, Instant};

use adapters_postgres::{PgOrderRepository, PgPool};
use diesel_async::SimpleAsyncConnection;
use domain::{OrderStatus, PaymentStatus};
use ports::{
    ChangeStatusError, EventLog, Order, OrderRepository, PlaceOrderError, StatusChange, StoreError,
};
use tokio::task::JoinHandle;

use crate::support::{Log, ctx, new_order, one_connection, one_connection_with};

pub(crate) type Write<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
type Placed = Result<Order, PlaceOrderError>;
type Changed = Result<Order, ChangeStatusError>;

fn transactions(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.trim_start().starts_with("BEGIN"))
        .count()
}

/// Starts `writes` while the pool's only connection is taken, and lets them go once they have
/// all queued: the first runs alone, the rest share one transaction.
///
/// Each write is started once the one before it is seen waiting (so they queue in this order):
/// the first waits for the connection, the others in `orders`' queue.
pub(crate) async fn queued<T: Send + 'static>(
    pool: &PgPool,
    orders: &PgOrderRepository,
    writes: Vec<Write<T>>,
) -> Vec<T> {
    let held = pool.get().await.unwrap();
    let mut tasks: Vec<JoinHandle<T>> = Vec::new();
    for (i, write) in writes.into_iter().enumerate() {
        tasks.push(tokio::spawn(write));
        if i == 0 {
            // It took itself from the queue, alone, and asks the pool for the held connection.
            until("the first write to wait for the connection", || {
                pool.status().waiting == 1 && orders.queued_writes() == 0
            })
            .await;
        } else {
            until(&format!("write {i} to queue"), || {
                orders.queued_writes() == i
            })
            .await;
        }
    }
    drop(held);
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

/// Polls `condition` (cheap, in this process) every millisecond until it holds; fails the test
/// naming `what` if it does not within five seconds.
pub(crate) async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn concurrent_placements_share_a_transaction_and_never_oversell() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let scarce = c.product("SCARCE", 100, 6).await;
    let plenty = c.product("PLENTY", 100, 1000).await;
    let (pool, log) = one_connection(&c).await;
    let orders = PgOrderRepository::new(pool.clone());

    // Ten orders of 1 scarce + 2 plenty: the first six fit.
    let writes: Vec<Write<Placed>> = (0..10)
        .map(|_| {
            let orders = orders.clone();
            let order = new_order(ada.id, &[(scarce.id, 1), (plenty.id, 2)]);
            Box::pin(async move { orders.place(&order).await }) as _
        })
        .collect();
    let results = queued(&pool, &orders, writes).await;

    assert_eq!(
        transactions(&log),
        2,
        "the first alone, then the other nine together"
    );
    let statements = log.lock().unwrap().len();
    assert_eq!(
        statements, 18,
        "nine round trips per transaction, whatever its size"
    );
    let placed: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(placed.len(), 6);
    for refused in results.iter().skip(6) {
        match refused {
            Err(PlaceOrderError::InsufficientStock(short)) => {
                assert_eq!(short.len(), 1);
                assert_eq!(short[0].product_id, scarce.id);
                assert_eq!(short[0].available, 0);
            }
            other => panic!("expected a shortage, got {other:?}"),
        }
    }
    // Arrival order is kept: the first six are the ones placed, each with its own two items.
    assert!(results.iter().take(6).all(Result::is_ok));
    for order in &placed {
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[0].product_id, scarce.id);
        assert_eq!(order.items[1].quantity, 2);
        assert_eq!(order.total_amount, order.subtotal + order.shipping_amount);
    }
    assert_eq!(c.stock(scarce.id).await, 0);
    assert_eq!(c.stock(plenty.id).await, 1000 - 12);
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 6);
    assert_eq!(c.count("SELECT count(*) AS n FROM order_items").await, 12);

    // One `order.created` per order placed, ids in arrival order.
    let events = c.events.events_after(0, None, 100).await.unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.order_id).collect();
    let placed_ids: Vec<_> = placed.iter().map(|o| o.id).collect();
    assert_eq!(ids, placed_ids);
}

#[tokio::test]
async fn a_write_that_fails_in_the_database_does_not_fail_its_neighbours() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let (pool, log) = one_connection(&c).await;
    let orders = PgOrderRepository::new(pool.clone());

    // The third order's user does not exist: its insert breaks a foreign key, which only the
    // database sees, and rolls the shared transaction back.
    let writes: Vec<Write<Placed>> = [ada.id, ada.id, ada.id + 1000, ada.id]
        .into_iter()
        .map(|user| {
            let orders = orders.clone();
            let order = new_order(user, &[(a.id, 1)]);
            Box::pin(async move { orders.place(&order).await }) as _
        })
        .collect();
    let results = queued(&pool, &orders, writes).await;

    assert!(
        results[0].is_ok() && results[1].is_ok() && results[3].is_ok(),
        "{results:?}"
    );
    assert!(
        matches!(results[2], Err(PlaceOrderError::Store(_))),
        "{:?}",
        results[2]
    );
    // Alone; together (rolled back); then each of the three again alone.
    assert_eq!(transactions(&log), 5);
    assert_eq!(c.stock(a.id).await, 97);
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 3);
    assert_eq!(c.count("SELECT count(*) AS n FROM order_events").await, 3);
}

#[tokio::test]
async fn a_shared_transaction_the_database_gives_up_on_is_not_retried() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let (pool, log) =
        one_connection_with(&c, |s| s.statement_timeout = Duration::from_millis(300)).await;
    let orders = PgOrderRepository::new(pool.clone());

    // Another transaction holds the product: every placement's lock times out ("try again
    // later"), which the shared transaction must not turn into retries (after a failed COMMIT
    // they could write twice).
    let mut blocker = c.pool.get().await.unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT id FROM products WHERE id = {} FOR UPDATE",
            a.id
        ))
        .await
        .unwrap();
    let writes: Vec<Write<Placed>> = (0..4)
        .map(|_| {
            let orders = orders.clone();
            let order = new_order(ada.id, &[(a.id, 1)]);
            Box::pin(async move { orders.place(&order).await }) as _
        })
        .collect();
    let results = queued(&pool, &orders, writes).await;
    blocker.batch_execute("ROLLBACK").await.unwrap();

    for result in &results {
        assert!(
            matches!(
                result,
                Err(PlaceOrderError::Store(StoreError::Unavailable(_)))
            ),
            "{result:?}"
        );
    }
    assert_eq!(
        transactions(&log),
        2,
        "the first alone, the other three together; no retry"
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 0);
    // And the next placement goes through.
    orders
        .place(&new_order(ada.id, &[(a.id, 1)]))
        .await
        .unwrap();
    assert_eq!(c.stock(a.id).await, 99);
}

#[tokio::test]
async fn changes_of_one_order_never_share_a_transaction() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100).await;
    let first = c.place(ada.id, &[(a.id, 1)]).await;
    let second = c.place(ada.id, &[(a.id, 2)]).await;
    let third = c.place(ada.id, &[(a.id, 3)]).await;
    let (pool, log) = one_connection(&c).await;
    let orders = PgOrderRepository::new(pool.clone());

    let change = |id, to| -> Write<Changed> {
        let orders = orders.clone();
        Box::pin(async move { orders.change_status(&StatusChange::new(id, to)).await })
    };
    let writes: Vec<Write<Changed>> = vec![
        change(third.id, OrderStatus::Cancelled),
        change(first.id, OrderStatus::Paid),
        change(first.id, OrderStatus::Fulfilled),
        change(second.id, OrderStatus::Cancelled),
        change(second.id, OrderStatus::Cancelled),
    ];
    let results = queued(&pool, &orders, writes).await;

    // third alone; first → PAID with second → CANCELLED; then first → FULFILLED with the
    // second cancellation of second, which sees it cancelled already.
    assert_eq!(transactions(&log), 3);
    assert_eq!(results[0].as_ref().unwrap().status, OrderStatus::Cancelled);
    assert_eq!(results[1].as_ref().unwrap().status, OrderStatus::Paid);
    assert_eq!(
        results[1].as_ref().unwrap().payment_status,
        PaymentStatus::Captured
    );
    assert_eq!(results[2].as_ref().unwrap().status, OrderStatus::Fulfilled);
    assert_eq!(results[2].as_ref().unwrap().version, first.version + 2);
    assert_eq!(results[3].as_ref().unwrap().status, OrderStatus::Cancelled);
    assert!(
        matches!(results[4], Err(ChangeStatusError::InvalidTransition(_))),
        "{:?}",
        results[4]
    );
    // Stock of the two cancelled orders came back once each.
    assert_eq!(c.stock(a.id).await, 100 - 1);
    let history = c.orders.history(first.id).await.unwrap();
    assert_eq!(history.len(), 3, "created, paid, fulfilled");
}
