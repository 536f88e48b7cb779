//! What must hold when many customers act at once.

use std::sync::Arc;

use adapters_postgres::listener::{Notice, spawn_listener};
use domain::{InvalidTransition, OrderStatus};
use ports::{ChangeStatusError, OrderRepository, PlaceOrderError, StatusChange};
use tokio::sync::{mpsc, watch};

use crate::support::{ctx, new_order};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_buyers_never_oversell_fifty() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let p = c.product("HOT-1", 100, 50).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let orders = c.orders.clone();
        let barrier = barrier.clone();
        let order = new_order(ada.id, &[(p.id, 1)]);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            orders.place(&order).await
        }));
    }
    let (mut placed, mut short) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(PlaceOrderError::InsufficientStock(lines)) => {
                assert_eq!(lines.len(), 1);
                assert_eq!(lines[0].available, 0);
                short += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((placed, short), (50, 150));
    assert_eq!(c.stock(p.id).await, 0);
    assert_eq!(
        c.count(&format!(
            "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM order_items WHERE product_id = {}",
            p.id
        ))
        .await,
        50
    );
    assert_eq!(c.count("SELECT count(*) AS n FROM orders").await, 50);
    assert_eq!(c.count("SELECT count(*) AS n FROM order_events").await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_line_orders_and_cancels_never_deadlock() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10_000).await;
    let b = c.product("B-1", 100, 10_000).await;
    let mut tasks = Vec::new();
    for i in 0..120 {
        let orders = c.orders.clone();
        let lines = if i % 2 == 0 {
            [(a.id, 1), (b.id, 2)]
        } else {
            [(b.id, 2), (a.id, 1)]
        };
        let order = new_order(ada.id, &lines);
        tasks.push(tokio::spawn(async move {
            let placed = orders.place(&order).await?;
            // A third of them cancel at once: releases take the same locks in the same order.
            if i % 3 == 0 {
                orders
                    .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
                    .await
                    .map_err(|e| {
                        PlaceOrderError::Store(ports::StoreError::Internal(e.to_string()))
                    })?;
            }
            Ok::<_, PlaceOrderError>(())
        }));
    }
    let finished = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    })
    .await;
    assert!(finished.is_ok(), "placements did not finish");
    // 120 orders, 40 cancelled: 80 kept.
    assert_eq!(c.stock(a.id).await, 10_000 - 80);
    assert_eq!(c.stock(b.id).await, 10_000 - 160);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cancels_of_a_paid_order_release_stock_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    for _ in 0..10 {
        let placed = c.place(ada.id, &[(a.id, 4)]).await;
        c.orders
            .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
            .await
            .unwrap();
        assert_eq!(c.stock(a.id).await, 6);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let id = placed.id;
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                orders
                    .change_status(&StatusChange::new(id, OrderStatus::Cancelled))
                    .await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{results:?}");
        assert!(results.contains(&Err(ChangeStatusError::InvalidTransition(
            InvalidTransition {
                from: OrderStatus::Cancelled,
                to: OrderStatus::Cancelled
            }
        ))));
        assert_eq!(c.stock(a.id).await, 10, "released exactly once");
        assert_eq!(c.orders.history(placed.id).await.unwrap().len(), 3);
    }
}

/// Event ids are committed in order: a listener (which hears commits in commit order) sees them
/// strictly increasing even with 8 writers racing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_ids_are_committed_in_order() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 100_000).await;
    let (tx, mut rx) = mpsc::channel(1024);
    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = spawn_listener(c.db.url.clone(), tx, stop_rx);
    // Wait until it listens: it says so.
    let first = tokio::time::timeout(std::time::Duration::from_secs(15), rx.recv()).await;
    assert_eq!(first.unwrap(), Some(Notice::Reconnected));

    let mut writers = Vec::new();
    for _ in 0..8 {
        let orders = c.orders.clone();
        let user = ada.id;
        let product = a.id;
        writers.push(tokio::spawn(async move {
            for _ in 0..25 {
                let placed = orders
                    .place(&new_order(user, &[(product, 1)]))
                    .await
                    .unwrap();
                orders
                    .change_status(&StatusChange::new(placed.id, OrderStatus::Cancelled))
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 8 * 25 * 2 {
        match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Notice::Events(events))) => seen.extend(events.into_iter().map(|e| e.id)),
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) | Err(_) => panic!("only {} events heard", seen.len()),
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ids heard out of order: {seen:?}"
    );
    stop_tx.send(true).unwrap();
    listener.await.unwrap();
}
