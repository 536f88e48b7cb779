//! Shipments: part of a `PAID` order's units at a time, never more than are open, with the
//! order's fulfilment and events; and the status route's shipping and cancelling.

use std::sync::Arc;

use adapters_postgres::errors::check_violation;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use domain::{
    EventType, ExceedsOpen, FulfillmentStatus, InvalidTransition, OrderStatus, PaymentStatus, Role,
};
use ports::{
    Actor, ChangeStatusError, NewShipment, Order, OrderRepository, ShipError, StatusChange,
    Tracking, UserRepository,
};
use uuid::Uuid;

use crate::support::{Ctx, ctx, get, line, units};

/// A shipment of `items` (`None`: every open unit) of `order_id`, by nobody, with no tracking.
fn new_shipment(order_id: Uuid, items: Option<Vec<(i64, i64)>>) -> NewShipment {
    NewShipment {
        id: Uuid::now_v7(),
        order_id,
        items,
        tracking: None,
        note: None,
        actor: None,
        expected_version: None,
        audit: None,
    }
}

fn tracking(carrier: &str, number: &str) -> Tracking {
    Tracking {
        carrier: carrier.into(),
        tracking_number: number.into(),
    }
}

/// Places `lines` for `user_id` and marks the order `PAID`.
async fn paid(c: &Ctx, user_id: i64, lines: &[(i64, u32)]) -> Order {
    let placed = c.place(user_id, lines).await;
    let order = c
        .orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.fulfillment_status, FulfillmentStatus::Unfulfilled);
    order
}

/// The rows every refused shipment must leave as they were.
async fn counts(c: &Ctx) -> [i64; 4] {
    [
        c.count("SELECT count(*) AS n FROM shipments").await,
        c.count("SELECT count(*) AS n FROM shipment_items").await,
        c.count("SELECT count(*) AS n FROM order_events").await,
        c.count(
            "SELECT COALESCE(sum(quantity_shipped + quantity_cancelled + quantity_returned), 0)\
             ::bigint AS n FROM order_items",
        )
        .await,
    ]
}

#[tokio::test]
async fn partial_shipment_then_the_rest_completes_the_order() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let admin = c.users.upsert_admin("root@example.com", "h").await.unwrap();
    let a = c.product("A-1", 100, 10).await;
    let b = c.product("B-1", 250, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (7, 8));

    // 1×A with tracking, by an admin with a note: still PAID, partially fulfilled.
    let actor = Some(Actor {
        id: admin.id,
        role: Role::Admin,
    });
    let mut first = new_shipment(order.id, Some(vec![(a.id, 1)]));
    first.tracking = Some(tracking("UPS", "1Z001"));
    first.note = Some("first box".into());
    first.actor = actor;
    first.expected_version = Some(order.version);
    let (after_first, shipped_first) = c.orders.ship(&first).await.unwrap();
    assert_eq!(after_first.status, OrderStatus::Paid);
    assert_eq!(
        after_first.fulfillment_status,
        FulfillmentStatus::PartiallyFulfilled
    );
    assert_eq!(after_first.payment_status, PaymentStatus::Captured);
    assert_eq!(after_first.version, order.version + 1);
    assert_eq!(after_first.tracking, first.tracking);
    assert_eq!(
        units(&after_first),
        [(a.id, 1, 0, 0), (b.id, 0, 0, 0)],
        "only 1×A shipped"
    );
    assert_eq!(shipped_first.id, first.id);
    assert_eq!(shipped_first.order_id, order.id);
    assert_eq!(shipped_first.items, [(a.id, 1)]);
    assert_eq!(shipped_first.tracking, first.tracking);
    assert_eq!(after_first.shipments, std::slice::from_ref(&shipped_first));

    let history = c.orders.history(order.id).await.unwrap();
    let event = history.last().unwrap();
    assert_eq!(event.kind, EventType::Shipped);
    assert_eq!(event.from_status, Some(OrderStatus::Paid));
    assert_eq!(event.to_status, OrderStatus::Paid);
    assert_eq!(
        event.fulfillment_status,
        FulfillmentStatus::PartiallyFulfilled
    );
    assert_eq!(event.shipment_id, Some(first.id));
    assert_eq!(event.actor, actor);
    assert_eq!(event.note.as_deref(), Some("first box"));
    assert_eq!(event.payment_status, PaymentStatus::Captured);
    assert_eq!(event.refunded_amount, 0);
    // As stored.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM order_events WHERE order_id = '{}' \
               AND type = 'order.shipped' AND from_status = 'PAID' AND to_status = 'PAID' \
               AND fulfillment_status = 'partially_fulfilled' AND shipment_id = '{}'",
            order.id, first.id
        ))
        .await,
        1
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM shipments WHERE id = '{}' AND carrier = 'UPS' \
               AND tracking_number = '1Z001' AND note = 'first box' AND actor_id = {}",
            first.id, admin.id
        ))
        .await,
        1
    );

    // Everything left: 2×A and 2×B, completing the order (PAID → FULFILLED).
    let second = new_shipment(order.id, None);
    let (after_second, shipped_second) = c.orders.ship(&second).await.unwrap();
    assert_eq!(after_second.status, OrderStatus::Fulfilled);
    assert_eq!(
        after_second.fulfillment_status,
        FulfillmentStatus::Fulfilled
    );
    assert_eq!(after_second.version, after_first.version + 1);
    assert_eq!(
        units(&after_second),
        [(a.id, 3, 0, 0), (b.id, 2, 0, 0)],
        "every unit shipped"
    );
    assert_eq!(shipped_second.id, second.id);
    assert_eq!(shipped_second.items, [(a.id, 2), (b.id, 2)]);
    assert_eq!(shipped_second.tracking, None);
    // A shipment without tracking keeps the order's latest tracking.
    assert_eq!(after_second.tracking, first.tracking);
    assert_eq!(
        after_second.shipments,
        [shipped_first.clone(), shipped_second.clone()]
    );

    let history = c.orders.history(order.id).await.unwrap();
    let kinds: Vec<_> = history
        .iter()
        .map(|e| (e.kind, e.from_status, e.to_status, e.shipment_id))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventType::OrderCreated, None, OrderStatus::Pending, None),
            (
                EventType::OrderPaid,
                Some(OrderStatus::Pending),
                OrderStatus::Paid,
                None
            ),
            (
                EventType::Shipped,
                Some(OrderStatus::Paid),
                OrderStatus::Paid,
                Some(first.id)
            ),
            (
                EventType::OrderStatusChanged,
                Some(OrderStatus::Paid),
                OrderStatus::Fulfilled,
                Some(second.id)
            ),
        ]
    );
    assert_eq!(
        history.last().unwrap().fulfillment_status,
        FulfillmentStatus::Fulfilled
    );

    // Read back: both shipments, oldest first; each found by id, a random id is not.
    let read = get(&c, order.id).await;
    assert_eq!(read, after_second);
    assert_eq!(
        read.shipments,
        [shipped_first.clone(), shipped_second.clone()]
    );
    assert_eq!(
        c.orders.shipment(order.id, first.id).await.unwrap(),
        Some(shipped_first.clone())
    );
    assert_eq!(
        c.orders.shipment(order.id, second.id).await.unwrap(),
        Some(shipped_second)
    );
    assert_eq!(
        c.orders.shipment(order.id, Uuid::now_v7()).await.unwrap(),
        None
    );
    // Another order's shipment is not this order's.
    let other = paid(&c, ada.id, &[(a.id, 1)]).await;
    assert_eq!(c.orders.shipment(other.id, first.id).await.unwrap(), None);
    assert_eq!(get(&c, other.id).await.shipments, []);

    // No longer PAID: nothing more ships, and nothing changes.
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .ship(&new_shipment(order.id, Some(vec![(a.id, 1)])))
            .await
            .unwrap_err(),
        ShipError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Fulfilled,
            to: OrderStatus::Fulfilled,
        })
    );
    assert_eq!(
        c.orders
            .ship(&new_shipment(order.id, None))
            .await
            .unwrap_err(),
        ShipError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Fulfilled,
            to: OrderStatus::Fulfilled,
        })
    );
    assert_eq!(counts(&c).await, before);
    assert_eq!(get(&c, order.id).await, after_second);

    // Shipping takes no stock: it was taken at placement (the second order took one A).
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (6, 8));
    assert_eq!(
        c.count(&format!(
            "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM shipment_items \
              WHERE order_id = '{}'",
            order.id
        ))
        .await,
        5
    );
}

#[tokio::test]
async fn refused_shipments_change_nothing() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let b = c.product("B-1", 100, 10).await;
    let stranger = c.product("C-1", 100, 10).await;

    // Unknown order.
    assert_eq!(
        c.orders
            .ship(&new_shipment(Uuid::now_v7(), None))
            .await
            .unwrap_err(),
        ShipError::NotFound
    );

    // PENDING: not paid yet.
    let pending = c.place(ada.id, &[(a.id, 1)]).await;
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .ship(&new_shipment(pending.id, Some(vec![(a.id, 1)])))
            .await
            .unwrap_err(),
        ShipError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Pending,
            to: OrderStatus::Fulfilled,
        })
    );
    assert_eq!(counts(&c).await, before);
    assert_eq!(get(&c, pending.id).await, pending);

    // More than open (two entries of A add up to 4 > 3), B within, and a product not in the
    // order: both offenders, at their first index, with their open units.
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    let before = counts(&c).await;
    let stock = (c.stock(a.id).await, c.stock(b.id).await);
    let err = c
        .orders
        .ship(&new_shipment(
            order.id,
            Some(vec![(a.id, 2), (b.id, 1), (stranger.id, 1), (a.id, 2)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ShipError::ExceedsOpen(vec![
            ExceedsOpen {
                index: 0,
                product_id: a.id,
                open: 3
            },
            ExceedsOpen {
                index: 2,
                product_id: stranger.id,
                open: 0
            },
        ])
    );
    // A single entry beyond its line.
    assert_eq!(
        c.orders
            .ship(&new_shipment(order.id, Some(vec![(b.id, 3)])))
            .await
            .unwrap_err(),
        ShipError::ExceedsOpen(vec![ExceedsOpen {
            index: 0,
            product_id: b.id,
            open: 2
        }])
    );
    // An empty request ships nothing.
    assert_eq!(
        c.orders
            .ship(&new_shipment(order.id, Some(vec![])))
            .await
            .unwrap_err(),
        ShipError::NothingToShip
    );
    // A stale If-Match.
    let mut stale = new_shipment(order.id, Some(vec![(a.id, 1)]));
    stale.expected_version = Some(order.version - 1);
    assert_eq!(
        c.orders.ship(&stale).await.unwrap_err(),
        ShipError::PreconditionFailed
    );
    assert_eq!(counts(&c).await, before);
    assert_eq!(c.count("SELECT count(*) AS n FROM shipments").await, 0);
    let unchanged = get(&c, order.id).await;
    assert_eq!(unchanged, order);
    assert_eq!(unchanged.version, order.version);
    assert_eq!(unchanged.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), stock);
    assert_eq!(c.orders.history(order.id).await.unwrap().len(), 2);

    // The refused shipment's id was not used: it ships once the request is right.
    let mut right = stale.clone();
    right.expected_version = Some(order.version);
    let (shipped, _) = c.orders.ship(&right).await.unwrap();
    assert_eq!(shipped.version, order.version + 1);
    // ... and its version is now stale.
    let mut again = new_shipment(order.id, Some(vec![(a.id, 1)]));
    again.expected_version = Some(order.version);
    assert_eq!(
        c.orders.ship(&again).await.unwrap_err(),
        ShipError::PreconditionFailed
    );
    // The same shipment id twice is refused by the database (a retry is not a second box).
    c.orders
        .ship(&new_shipment(order.id, Some(vec![(a.id, 1)])))
        .await
        .unwrap();
    let mut duplicate = new_shipment(order.id, Some(vec![(b.id, 1)]));
    duplicate.id = right.id;
    let before = counts(&c).await;
    assert!(matches!(
        c.orders.ship(&duplicate).await,
        Err(ShipError::Store(_))
    ));
    assert_eq!(counts(&c).await, before);

    // CANCELLED: nothing ships.
    let cancelled = paid(&c, ada.id, &[(a.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(cancelled.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(
        c.orders
            .ship(&new_shipment(cancelled.id, None))
            .await
            .unwrap_err(),
        ShipError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Cancelled,
            to: OrderStatus::Fulfilled,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_shipments_never_exceed_the_open_units() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 1_000).await;
    for round in 0..5 {
        let order = paid(&c, ada.id, &[(a.id, 10)]).await;
        let stock = c.stock(a.id).await;
        // 20 of one unit and 5 of three: 35 units asked for, 10 open.
        let requests: Vec<i64> = (0..25).map(|i| if i % 5 == 4 { 3 } else { 1 }).collect();
        let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
        let mut tasks = Vec::new();
        for &quantity in &requests {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let new = new_shipment(order.id, Some(vec![(a.id, quantity)]));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (quantity, orders.ship(&new).await)
            }));
        }
        let (mut shipped, mut made, mut completed) = (0, 0, 0);
        for task in tasks {
            let (quantity, result) = task.await.unwrap();
            match result {
                Ok((after, shipment)) => {
                    assert_eq!(shipment.items, [(a.id, quantity)]);
                    assert!(line(&after, a.id).quantity_shipped <= 10);
                    shipped += quantity;
                    made += 1;
                    if after.status == OrderStatus::Fulfilled {
                        completed += 1;
                    }
                }
                Err(ShipError::ExceedsOpen(lines)) => {
                    assert_eq!(lines.len(), 1);
                    assert_eq!((lines[0].index, lines[0].product_id), (0, a.id));
                    assert!(lines[0].open < quantity, "{lines:?} for {quantity}");
                }
                Err(ShipError::InvalidTransition(t)) => assert_eq!(
                    t,
                    InvalidTransition {
                        from: OrderStatus::Fulfilled,
                        to: OrderStatus::Fulfilled
                    }
                ),
                Err(ShipError::NothingToShip) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(shipped, 10, "round {round}");
        assert_eq!(
            completed, 1,
            "round {round}: one shipment completes the order"
        );
        let after = get(&c, order.id).await;
        assert_eq!(after.status, OrderStatus::Fulfilled);
        assert_eq!(after.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(line(&after, a.id).quantity_shipped, 10);
        assert_eq!(after.shipments.len(), made);
        assert_eq!(
            after
                .shipments
                .iter()
                .flat_map(|s| s.items.iter().map(|(_, q)| q))
                .sum::<i64>(),
            10
        );
        assert_eq!(after.version, order.version + i64::try_from(made).unwrap());
        assert_eq!(
            c.count(&format!(
                "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM shipment_items \
                  WHERE order_id = '{}'",
                order.id
            ))
            .await,
            10
        );
        // One event per shipment: all `order.shipped` but the completing one.
        let history = c.orders.history(order.id).await.unwrap();
        let shipped_events = history
            .iter()
            .filter(|e| e.kind == EventType::Shipped)
            .count();
        let completing: Vec<_> = history
            .iter()
            .filter(|e| e.kind == EventType::OrderStatusChanged)
            .collect();
        assert_eq!(shipped_events + 1, made);
        assert_eq!(completing.len(), 1);
        assert_eq!(completing[0].to_status, OrderStatus::Fulfilled);
        // Every shipment has its event, and the completing one reports one of them.
        let mut reported: Vec<Uuid> = history.iter().filter_map(|e| e.shipment_id).collect();
        let mut listed: Vec<Uuid> = after.shipments.iter().map(|s| s.id).collect();
        reported.sort_unstable();
        listed.sort_unstable();
        assert_eq!(reported, listed);
        assert!(
            completing[0]
                .shipment_id
                .is_some_and(|id| listed.contains(&id))
        );
        assert_eq!(c.stock(a.id).await, stock);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shipments_racing_a_fulfilment_by_status_ship_each_unit_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 1_000).await;
    for round in 0..5 {
        let order = paid(&c, ada.id, &[(a.id, 10)]).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(9));
        let mut ships = Vec::new();
        for _ in 0..8 {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let new = new_shipment(order.id, Some(vec![(a.id, 1)]));
            ships.push(tokio::spawn(async move {
                barrier.wait().await;
                orders.ship(&new).await
            }));
        }
        let orders = c.orders.clone();
        let status = tokio::spawn(async move {
            barrier.wait().await;
            orders
                .change_status(&StatusChange::new(order.id, OrderStatus::Fulfilled))
                .await
        });
        let mut shipped = 0;
        for task in ships {
            match task.await.unwrap() {
                Ok((_, shipment)) => shipped += shipment.items[0].1,
                Err(ShipError::InvalidTransition(_) | ShipError::ExceedsOpen(_)) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        match status.await.unwrap() {
            Ok(fulfilled) => {
                let last = fulfilled.shipments.last().unwrap();
                shipped += last.items[0].1;
            }
            Err(ChangeStatusError::InvalidTransition(_)) => {}
            Err(other) => panic!("round {round}: unexpected {other:?}"),
        }
        let after = get(&c, order.id).await;
        assert_eq!(shipped, 10, "round {round}");
        assert_eq!(after.status, OrderStatus::Fulfilled);
        assert_eq!(units(&after), [(a.id, 10, 0, 0)]);
        assert_eq!(
            c.count(&format!(
                "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM shipment_items \
                  WHERE order_id = '{}'",
                order.id
            ))
            .await,
            10
        );
        assert_eq!(
            c.count(&format!(
                "SELECT count(*) AS n FROM order_events WHERE order_id = '{}' \
                   AND to_status = 'FULFILLED'",
                order.id
            ))
            .await,
            1
        );
    }
}

#[tokio::test]
async fn the_database_refuses_units_that_do_not_add_up() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let b = c.product("B-1", 100, 10).await;
    let stranger = c.product("C-1", 100, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    c.orders
        .ship(&new_shipment(order.id, Some(vec![(a.id, 1)])))
        .await
        .unwrap();
    let before = get(&c, order.id).await;
    let line = |product: i64| format!("WHERE order_id = '{}' AND product_id = {product}", order.id);
    for set in [
        "quantity_shipped = quantity + 1",
        "quantity_returned = quantity_shipped + 1",
        "quantity_cancelled = quantity - quantity_shipped + 1",
        "quantity_shipped = quantity, quantity_cancelled = 1",
        "quantity_shipped = -1",
        "quantity_cancelled = -1",
        "quantity_returned = -1",
    ] {
        let err = c
            .sql(&format!("UPDATE order_items SET {set} {}", line(a.id)))
            .await
            .unwrap_err();
        assert_eq!(
            check_violation(&err),
            Some("order_items_units_add_up"),
            "{set}: {err:?}"
        );
    }
    // Within the accounting it is accepted (and put back).
    assert_eq!(
        c.sql(&format!(
            "UPDATE order_items SET quantity_returned = quantity_shipped {}",
            line(a.id)
        ))
        .await
        .unwrap(),
        1
    );
    c.sql(&format!(
        "UPDATE order_items SET quantity_returned = 0 {}",
        line(a.id)
    ))
    .await
    .unwrap();

    // A FULFILLED order has shipped everything.
    let err = c
        .sql(&format!(
            "UPDATE orders SET status = 'FULFILLED' WHERE id = '{}'",
            order.id
        ))
        .await
        .unwrap_err();
    assert_eq!(check_violation(&err), Some("orders_fulfilled_is_fulfilled"));

    // Only a product of the order ships, at least one unit at a time.
    let box_id = Uuid::now_v7();
    c.sql(&format!(
        "INSERT INTO shipments (id, order_id) VALUES ('{box_id}', '{}')",
        order.id
    ))
    .await
    .unwrap();
    let err = c
        .sql(&format!(
            "INSERT INTO shipment_items (shipment_id, order_id, product_id, quantity) \
             VALUES ('{box_id}', '{}', {}, 1)",
            order.id, stranger.id
        ))
        .await
        .unwrap_err();
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            assert_eq!(
                info.constraint_name(),
                Some("shipment_items_order_id_product_id_fkey")
            );
        }
        other => panic!("expected a foreign key violation, got {other:?}"),
    }
    let err = c
        .sql(&format!(
            "INSERT INTO shipment_items (shipment_id, order_id, product_id, quantity) \
             VALUES ('{box_id}', '{}', {}, 0)",
            order.id, b.id
        ))
        .await
        .unwrap_err();
    assert_eq!(check_violation(&err), Some("shipment_items_quantity_check"));
    // Half a tracking is refused.
    let err = c
        .sql(&format!(
            "INSERT INTO shipments (id, order_id, carrier) VALUES ('{}', '{}', 'UPS')",
            Uuid::now_v7(),
            order.id
        ))
        .await
        .unwrap_err();
    assert_eq!(check_violation(&err), Some("shipments_tracking_whole"));
    c.sql(&format!("DELETE FROM shipments WHERE id = '{box_id}'"))
        .await
        .unwrap();

    assert_eq!(get(&c, order.id).await, before);
    assert_eq!(units(&before), [(a.id, 1, 0, 0), (b.id, 0, 0, 0)]);
}

#[tokio::test]
async fn the_status_route_ships_everything_and_cancels_only_unshipped_orders() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 20).await;
    let b = c.product("B-1", 100, 20).await;

    // PAID → FULFILLED: one shipment of every unit, with the change's tracking.
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    let stock = (c.stock(a.id).await, c.stock(b.id).await);
    let mut fulfil = StatusChange::new(order.id, OrderStatus::Fulfilled);
    fulfil.tracking = Some(tracking("DHL", "JD0001"));
    fulfil.note = Some("all of it".into());
    let fulfilled = c.orders.change_status(&fulfil).await.unwrap();
    assert_eq!(fulfilled.status, OrderStatus::Fulfilled);
    assert_eq!(fulfilled.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(fulfilled.tracking, fulfil.tracking);
    for i in &fulfilled.items {
        assert_eq!(
            (
                i.quantity_shipped,
                i.quantity_cancelled,
                i.quantity_returned
            ),
            (i.quantity, 0, 0)
        );
    }
    assert_eq!(fulfilled.shipments.len(), 1);
    let shipment = fulfilled.shipments[0].clone();
    assert_eq!(shipment.order_id, order.id);
    assert_eq!(shipment.items, [(a.id, 3), (b.id, 2)]);
    assert_eq!(shipment.tracking, fulfil.tracking);
    let read = get(&c, order.id).await;
    assert_eq!(read, fulfilled);
    assert_eq!(
        c.orders.shipment(order.id, shipment.id).await.unwrap(),
        Some(shipment.clone())
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM shipments WHERE order_id = '{}' AND carrier = 'DHL' \
               AND tracking_number = 'JD0001' AND note = 'all of it'",
            order.id
        ))
        .await,
        1
    );
    let event = c.orders.history(order.id).await.unwrap().pop().unwrap();
    assert_eq!(event.kind, EventType::OrderStatusChanged);
    assert_eq!(
        (event.from_status, event.to_status),
        (Some(OrderStatus::Paid), OrderStatus::Fulfilled)
    );
    assert_eq!(event.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(event.shipment_id, Some(shipment.id));
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), stock);

    // Partly shipped: a cancel is refused and changes nothing.
    let partly = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    let (partly, first) = c
        .orders
        .ship(&new_shipment(partly.id, Some(vec![(a.id, 1)])))
        .await
        .unwrap();
    let stock = (c.stock(a.id).await, c.stock(b.id).await);
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .change_status(&StatusChange::new(partly.id, OrderStatus::Cancelled))
            .await
            .unwrap_err(),
        ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Cancelled,
        })
    );
    assert_eq!(counts(&c).await, before);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), stock);
    assert_eq!(get(&c, partly.id).await, partly);

    // ... and FULFILLED by status ships the rest only.
    let mut rest = StatusChange::new(partly.id, OrderStatus::Fulfilled);
    rest.expected_version = Some(partly.version);
    let done = c.orders.change_status(&rest).await.unwrap();
    assert_eq!(done.status, OrderStatus::Fulfilled);
    assert_eq!(units(&done), [(a.id, 3, 0, 0), (b.id, 2, 0, 0)]);
    let read = get(&c, partly.id).await;
    assert_eq!(read.shipments.len(), 2);
    assert_eq!(done.shipments.last(), read.shipments.last());
    assert_eq!(read.shipments[0], first);
    assert_eq!(read.shipments[1].items, [(a.id, 2), (b.id, 2)]);
    assert_eq!(
        c.orders
            .history(partly.id)
            .await
            .unwrap()
            .pop()
            .unwrap()
            .shipment_id,
        Some(read.shipments[1].id)
    );
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), stock);

    // Nothing shipped: a cancel cancels every unit and gives the stock back once.
    let unshipped = paid(&c, ada.id, &[(a.id, 2), (b.id, 1)]).await;
    let stock = (c.stock(a.id).await, c.stock(b.id).await);
    let cancelled = c
        .orders
        .change_status(&StatusChange::new(unshipped.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert_eq!(units(&cancelled), [(a.id, 0, 2, 0), (b.id, 0, 1, 0)]);
    assert_eq!(cancelled.shipments, []);
    assert_eq!(get(&c, unshipped.id).await, cancelled);
    assert_eq!(
        (c.stock(a.id).await, c.stock(b.id).await),
        (stock.0 + 2, stock.1 + 1)
    );
    assert!(matches!(
        c.orders
            .change_status(&StatusChange::new(unshipped.id, OrderStatus::Cancelled))
            .await,
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    assert_eq!(
        (c.stock(a.id).await, c.stock(b.id).await),
        (stock.0 + 2, stock.1 + 1)
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM shipments WHERE order_id = '{}'",
            unshipped.id
        ))
        .await,
        0
    );

    // PENDING → CANCELLED cancels every unit too.
    let pending = c.place(ada.id, &[(a.id, 1)]).await;
    let cancelled = c
        .orders
        .change_status(&StatusChange::new(pending.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(units(&cancelled), [(a.id, 0, 1, 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_shipments_are_listed_in_the_order_they_were_made() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 1_000).await;
    for round in 0..5 {
        let order = paid(&c, ada.id, &[(a.id, 10)]).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(12));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let new = new_shipment(order.id, Some(vec![(a.id, 1)]));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                orders.ship(&new).await
            }));
        }
        for task in tasks {
            let _ = task.await.unwrap();
        }
        // Events are numbered in commit order: the order the shipments were made in, under the
        // order's lock.
        let made: Vec<Uuid> = c
            .orders
            .history(order.id)
            .await
            .unwrap()
            .iter()
            .filter_map(|e| e.shipment_id)
            .collect();
        let listed: Vec<Uuid> = get(&c, order.id)
            .await
            .shipments
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, made, "round {round}: oldest first");
    }
}

#[tokio::test]
async fn fulfilling_by_status_returns_every_shipment_of_the_order() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    c.orders
        .ship(&new_shipment(order.id, Some(vec![(a.id, 1)])))
        .await
        .unwrap();
    let done = c
        .orders
        .change_status(&StatusChange::new(order.id, OrderStatus::Fulfilled))
        .await
        .unwrap();
    let read = get(&c, order.id).await;
    assert_eq!(read.shipments.len(), 2);
    assert_eq!(done.shipments, read.shipments);
    assert_eq!(done, read);
}

/// A read of an order while shipments commit sees one moment: its items' shipped units, its
/// shipments and its version always agree (the reads share one snapshot).
#[tokio::test]
async fn an_order_read_during_shipments_is_never_a_mix() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 100, 50).await;
    let order = paid(&c, ada.id, &[(a.id, 40)]).await;
    let orders = Arc::new(c.orders.clone());
    let shipper = {
        let orders = orders.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                orders
                    .ship(&new_shipment(order.id, Some(vec![(a.id, 1)])))
                    .await
                    .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !shipper.is_finished() && reads < 5_000 {
        let seen = orders.get(order.id).await.unwrap().unwrap();
        let in_shipments: i64 = seen
            .shipments
            .iter()
            .flat_map(|s| s.items.iter().map(|(_, q)| q))
            .sum();
        assert_eq!(
            seen.items[0].quantity_shipped, in_shipments,
            "items and shipments of one read disagree"
        );
        reads += 1;
    }
    shipper.await.unwrap();
    assert!(reads > 0);
    let last = orders.get(order.id).await.unwrap().unwrap();
    assert_eq!(last.items[0].quantity_shipped, 40);
    assert_eq!(last.shipments.len(), 40);
}
