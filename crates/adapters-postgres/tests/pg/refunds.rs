//! Refunds: reserved `pending` under the order's row lock (units and money held against every
//! other refund), settled exactly once (units, stock, money, fulfilment and the event move
//! together, or the reservation is released), and the database's backstops.

use std::sync::Arc;

use adapters_postgres::errors::check_violation;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use domain::{
    EventType, ExceedsOpen, ExceedsRefundable, FulfillmentStatus, OrderStatus, PaymentStatus,
    PricingRules, RefundItem, Restock, Role, TaxRates,
};
use ports::{
    Actor, ChangeStatusError, NewRefund, NewShipment, Order, OrderRepository, Refund, RefundError,
    RefundSettlement, RefundStatus, ShipError, StatusChange, UserRepository,
};
use uuid::Uuid;

use crate::support::{Ctx, address, ctx, get, line, new_order, units};

/// Places `lines` for `user_id` and marks the order `PAID` (payment captured).
async fn paid(c: &Ctx, user_id: i64, lines: &[(i64, u32)]) -> Order {
    let placed = c.place(user_id, lines).await;
    let order = c
        .orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.payment_status, PaymentStatus::Captured);
    order
}

fn item(product_id: i64, quantity: i64, restock: Restock) -> RefundItem {
    RefundItem {
        product_id,
        quantity,
        restock,
    }
}

/// A refund of `items` of `order_id`, by nobody, with no version check.
fn new_refund(order_id: Uuid, items: Vec<RefundItem>) -> NewRefund {
    NewRefund {
        id: Uuid::now_v7(),
        order_id,
        items,
        shipping: false,
        amount: None,
        reason: "changed their mind".into(),
        actor: None,
        expected_version: None,
        audit: None,
    }
}

/// A goodwill refund of `amount` cents.
fn goodwill(order_id: Uuid, amount: i64) -> NewRefund {
    NewRefund {
        amount: Some(amount),
        reason: "late delivery".into(),
        ..new_refund(order_id, vec![])
    }
}

fn succeeded(reference: &str) -> RefundSettlement {
    RefundSettlement::Succeeded {
        reference: reference.into(),
    }
}

fn ship_of(order_id: Uuid, items: Option<Vec<(i64, i64)>>) -> NewShipment {
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

/// What a refund may move, over the whole database: refunds, refund items, events, line units,
/// refunded money, stock.
async fn counts(c: &Ctx) -> [i64; 6] {
    [
        c.count("SELECT count(*) AS n FROM refunds").await,
        c.count("SELECT count(*) AS n FROM refund_items").await,
        c.count("SELECT count(*) AS n FROM order_events").await,
        c.count(
            "SELECT COALESCE(sum(quantity_shipped + quantity_cancelled + quantity_returned), 0)\
             ::bigint AS n FROM order_items",
        )
        .await,
        c.count("SELECT COALESCE(sum(refunded_amount), 0)::bigint AS n FROM orders")
            .await,
        c.count("SELECT COALESCE(sum(stock_quantity), 0)::bigint AS n FROM products")
            .await,
    ]
}

/// Events of `order_id` of `kind` reporting `refund_id`.
async fn refund_events(c: &Ctx, order_id: Uuid, refund_id: Uuid) -> i64 {
    c.count(&format!(
        "SELECT count(*) AS n FROM order_events WHERE order_id = '{order_id}' \
           AND refund_id = '{refund_id}'"
    ))
    .await
}

#[tokio::test]
async fn a_cancel_refund_of_open_units_puts_the_stock_back_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let admin = c.users.upsert_admin("root@example.com", "h").await.unwrap();
    let a = c.product("A-1", 1000, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    // 3 × 1000 + 500 shipping, no tax in the US.
    assert_eq!(
        (order.subtotal, order.shipping_amount, order.tax_amount),
        (3000, 500, 0)
    );
    assert_eq!(order.total_amount, 3500);
    assert_eq!(c.stock(a.id).await, 7);

    // Reserved: pending, its amount computed, nothing else moves.
    let actor = Some(Actor {
        id: admin.id,
        role: Role::Admin,
    });
    let mut new = new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]);
    new.actor = actor;
    let before = counts(&c).await;
    let reserved = c.orders.reserve_refund(&new).await.unwrap();
    assert_eq!(reserved.id, new.id);
    assert_eq!(reserved.order_id, order.id);
    assert_eq!(reserved.status, RefundStatus::Pending);
    assert_eq!(reserved.amount, 2000);
    assert_eq!(reserved.items, [item(a.id, 2, Restock::Cancel)]);
    assert!(!reserved.shipping);
    assert_eq!(reserved.reason, "changed their mind");
    let after = counts(&c).await;
    assert_eq!(after[0], before[0] + 1, "one refund row");
    assert_eq!(after[1], before[1] + 1, "one refund item");
    assert_eq!(after[2..], before[2..], "no event, unit, money or stock");
    assert_eq!(c.stock(a.id).await, 7);
    let pending = get(&c, order.id).await;
    assert_eq!(pending.version, order.version);
    assert_eq!(units(&pending), [(a.id, 0, 0, 0)]);
    assert_eq!(pending.refunded_amount, 0);
    assert_eq!(pending.payment_status, PaymentStatus::Captured);
    assert_eq!(pending.status, OrderStatus::Paid);
    assert_eq!(pending.refunds, std::slice::from_ref(&reserved));
    assert_eq!(
        c.orders.refund(reserved.id).await.unwrap(),
        Some(reserved.clone())
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM refunds WHERE id = '{}' AND status = 'pending' \
               AND actor_id = {} AND provider_reference IS NULL",
            reserved.id, admin.id
        ))
        .await,
        1
    );

    // Succeeded: units, stock, money and the event move.
    let (settled, refund) = c
        .orders
        .settle_refund(reserved.id, &succeeded("re_1"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(
        Refund {
            status: RefundStatus::Pending,
            ..refund.clone()
        },
        reserved
    );
    assert_eq!(c.stock(a.id).await, 9);
    assert_eq!(units(&settled), [(a.id, 0, 2, 0)]);
    assert_eq!(settled.refunded_amount, 2000);
    assert_eq!(settled.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(settled.status, OrderStatus::Paid);
    assert_eq!(settled.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert_eq!(settled.version, order.version + 1);
    assert_eq!(settled.refunds, std::slice::from_ref(&refund));
    assert_eq!(get(&c, order.id).await, settled);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM refunds WHERE id = '{}' AND status = 'succeeded' \
               AND provider_reference = 're_1'",
            reserved.id
        ))
        .await,
        1
    );
    let history = c.orders.history(order.id).await.unwrap();
    assert_eq!(history.len(), 3);
    let event = history.last().unwrap();
    assert_eq!(event.kind, EventType::Refunded);
    assert_eq!(
        (event.from_status, event.to_status),
        (Some(OrderStatus::Paid), OrderStatus::Paid)
    );
    assert_eq!(event.refund_id, Some(reserved.id));
    assert_eq!(event.amount, Some(2000));
    assert_eq!(event.refunded_amount, 2000);
    assert_eq!(event.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(event.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert_eq!(event.total_amount, 3500);

    // Settled again, either way: nothing moves a second time, the refund stands as succeeded.
    let moved = counts(&c).await;
    for again in [
        succeeded("re_2"),
        RefundSettlement::Failed,
        succeeded("re_1"),
    ] {
        let (order_again, refund_again) =
            c.orders.settle_refund(reserved.id, &again).await.unwrap();
        assert_eq!(refund_again, refund, "{again:?}");
        assert_eq!(order_again, settled, "{again:?}");
        assert_eq!(counts(&c).await, moved, "{again:?}");
    }
    assert_eq!(c.stock(a.id).await, 9);
    assert_eq!(refund_events(&c, order.id, reserved.id).await, 1);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM refunds WHERE id = '{}' AND provider_reference = 're_1'",
            reserved.id
        ))
        .await,
        1,
        "the first reference stands"
    );
    assert_eq!(c.orders.refund(reserved.id).await.unwrap(), Some(refund));
    assert_eq!(c.orders.refund(Uuid::now_v7()).await.unwrap(), None);

    // The last unit, then the shipping: everything given back, each unit once.
    let last = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]))
        .await
        .unwrap();
    assert_eq!(last.amount, 1000);
    c.orders
        .settle_refund(last.id, &succeeded("re_3"))
        .await
        .unwrap();
    let shipping = c
        .orders
        .reserve_refund(&NewRefund {
            shipping: true,
            ..new_refund(order.id, vec![])
        })
        .await
        .unwrap();
    assert_eq!((shipping.amount, shipping.shipping), (500, true));
    let (done, _) = c
        .orders
        .settle_refund(shipping.id, &succeeded("re_4"))
        .await
        .unwrap();
    assert_eq!(units(&done), [(a.id, 0, 3, 0)]);
    assert_eq!(done.refunded_amount, 3500);
    assert_eq!(done.payment_status, PaymentStatus::Refunded);
    assert_eq!(c.stock(a.id).await, 10);
    assert_eq!(done.refunds.len(), 3);
    assert!(
        done.refunds
            .iter()
            .all(|r| r.status == RefundStatus::Succeeded)
    );
    // Nothing is left to refund.
    assert!(matches!(
        c.orders
            .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]))
            .await,
        Err(RefundError::NotRefundable)
    ));
}

#[tokio::test]
async fn a_return_puts_the_stock_back_and_no_restock_does_not() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let b = c.product("B-1", 700, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 2)]).await;
    assert_eq!(order.total_amount, 3000 + 1400 + 500);
    // Nothing shipped: nothing can be returned.
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Return)]))
            .await
            .unwrap_err(),
        RefundError::ExceedsRefundable(vec![ExceedsRefundable {
            index: 0,
            product_id: a.id,
            refundable: 0,
        }])
    );
    assert_eq!(counts(&c).await, before);

    // 2×A and 2×B shipped; 1×A open.
    let (shipped, _) = c
        .orders
        .ship(&ship_of(order.id, Some(vec![(a.id, 2), (b.id, 2)])))
        .await
        .unwrap();
    assert_eq!(shipped.status, OrderStatus::Paid);
    let stock = (c.stock(a.id).await, c.stock(b.id).await);
    assert_eq!(stock, (7, 8));

    // Return 1×A: back to stock, counted returned.
    let ret = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Return)]))
        .await
        .unwrap();
    assert_eq!(ret.amount, 1000);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), stock);
    let (returned, _) = c
        .orders
        .settle_refund(ret.id, &succeeded("re_ret"))
        .await
        .unwrap();
    assert_eq!(units(&returned), [(a.id, 2, 0, 1), (b.id, 2, 0, 0)]);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (8, 8));
    assert_eq!(returned.refunded_amount, 1000);
    assert_eq!(returned.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(returned.status, OrderStatus::Paid);
    assert_eq!(
        returned.fulfillment_status,
        FulfillmentStatus::PartiallyFulfilled
    );

    // No restock of 2×B and 1×A: counted returned, the stock stays.
    let kept = c
        .orders
        .reserve_refund(&new_refund(
            order.id,
            vec![
                item(b.id, 2, Restock::NoRestock),
                item(a.id, 1, Restock::NoRestock),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(kept.amount, 1400 + 1000);
    let (after, refund) = c
        .orders
        .settle_refund(kept.id, &succeeded("re_keep"))
        .await
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!(units(&after), [(a.id, 2, 0, 2), (b.id, 2, 0, 2)]);
    assert_eq!((c.stock(a.id).await, c.stock(b.id).await), (8, 8));
    assert_eq!(after.refunded_amount, 1000 + 2400);
    assert_eq!(after.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(after.status, OrderStatus::Paid, "1×A is still open");
    let event = c.orders.history(order.id).await.unwrap().pop().unwrap();
    assert_eq!(event.kind, EventType::Refunded);
    assert_eq!((event.refund_id, event.amount), (Some(kept.id), Some(2400)));

    // Every shipped A was returned: no more returns of A, whatever the kind; the open one may
    // still be cancelled.
    for restock in [Restock::Return, Restock::NoRestock] {
        assert_eq!(
            c.orders
                .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, restock)]))
                .await
                .unwrap_err(),
            RefundError::ExceedsRefundable(vec![ExceedsRefundable {
                index: 0,
                product_id: a.id,
                refundable: 0,
            }]),
            "{restock}"
        );
    }
    assert_eq!(line(&after, a.id).quantity_returned, 2);
    assert_eq!(
        c.count(&format!(
            "SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM refund_items \
              WHERE order_id = '{}' AND restock = 'no_restock'",
            order.id
        ))
        .await,
        3
    );
}

#[tokio::test]
async fn a_refund_of_the_tax_is_at_the_orders_own_rate() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let mut new = new_order(ada.id, &[(a.id, 3)]);
    new.address = address("GB");
    new.rules = PricingRules {
        tax_rates: TaxRates::new([("GB".to_owned(), 2000)]),
        ..PricingRules::default()
    };
    let placed = c.orders.place(&new).await.unwrap();
    let order = c
        .orders
        .change_status(&StatusChange::new(placed.id, OrderStatus::Paid))
        .await
        .unwrap();
    assert_eq!(
        (order.subtotal, order.shipping_amount, order.tax_amount),
        (3000, 500, 700)
    );
    let refund = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]))
        .await
        .unwrap();
    // 1000 + 1000 × 700 / 3500.
    assert_eq!(refund.amount, 1200);
    let shipping = c
        .orders
        .reserve_refund(&NewRefund {
            shipping: true,
            ..new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)])
        })
        .await
        .unwrap();
    // What remains: 2000 + 500 + 20 %.
    assert_eq!(shipping.amount, 3000);
    for r in [&refund, &shipping] {
        c.orders
            .settle_refund(r.id, &succeeded("re"))
            .await
            .unwrap();
    }
    let done = get(&c, order.id).await;
    assert_eq!(done.refunded_amount, done.total_amount);
    assert_eq!(done.payment_status, PaymentStatus::Refunded);
}

#[tokio::test]
async fn a_refund_cancelling_the_last_open_units_after_a_shipment_fulfils_the_order() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let b = c.product("B-1", 500, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3), (b.id, 1)]).await;
    let (shipped, shipment) = c
        .orders
        .ship(&ship_of(order.id, Some(vec![(a.id, 1), (b.id, 1)])))
        .await
        .unwrap();
    assert_eq!(shipped.status, OrderStatus::Paid);
    assert_eq!(
        shipped.fulfillment_status,
        FulfillmentStatus::PartiallyFulfilled
    );

    let refund = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]))
        .await
        .unwrap();
    assert_eq!(get(&c, order.id).await.status, OrderStatus::Paid);
    let (done, settled) = c
        .orders
        .settle_refund(refund.id, &succeeded("re_1"))
        .await
        .unwrap();
    assert_eq!(settled.status, RefundStatus::Succeeded);
    assert_eq!(done.status, OrderStatus::Fulfilled);
    assert_eq!(done.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(units(&done), [(a.id, 1, 2, 0), (b.id, 1, 0, 0)]);
    assert_eq!(done.refunded_amount, 2000);
    assert_eq!(done.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(done.version, shipped.version + 1);
    assert_eq!(done.shipments, [shipment]);
    assert_eq!(get(&c, order.id).await, done);
    assert_eq!(c.stock(a.id).await, 7 + 2);

    let event = c.orders.history(order.id).await.unwrap().pop().unwrap();
    assert_eq!(event.kind, EventType::OrderStatusChanged);
    assert_eq!(
        (event.from_status, event.to_status),
        (Some(OrderStatus::Paid), OrderStatus::Fulfilled)
    );
    assert_eq!(event.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(event.refund_id, Some(refund.id));
    assert_eq!(event.amount, Some(2000));
    assert_eq!(event.refunded_amount, 2000);
    assert_eq!(event.shipment_id, None);
    assert_eq!(refund_events(&c, order.id, refund.id).await, 1);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM order_events WHERE order_id = '{}' \
               AND to_status = 'FULFILLED'",
            order.id
        ))
        .await,
        1
    );

    // A FULFILLED order is still refunded (a return), and stays FULFILLED.
    let ret = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(b.id, 1, Restock::Return)]))
        .await
        .unwrap();
    let (after, _) = c
        .orders
        .settle_refund(ret.id, &succeeded("re_2"))
        .await
        .unwrap();
    assert_eq!(after.status, OrderStatus::Fulfilled);
    let event = c.orders.history(order.id).await.unwrap().pop().unwrap();
    assert_eq!(event.kind, EventType::Refunded);
    assert_eq!(
        (event.from_status, event.to_status),
        (Some(OrderStatus::Fulfilled), OrderStatus::Fulfilled)
    );
    assert_eq!(c.stock(b.id).await, 10);
}

#[tokio::test]
async fn pending_refunds_hold_their_units_and_money() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    assert_eq!(order.total_amount, 3500);

    let first = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]))
        .await
        .unwrap();
    assert_eq!(first.amount, 2000);
    let before = counts(&c).await;
    // Two entries of one product add up (1 + 1 > 1), named once at the first.
    let second = new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]);
    assert_eq!(
        c.orders.reserve_refund(&second).await.unwrap_err(),
        RefundError::ExceedsRefundable(vec![ExceedsRefundable {
            index: 0,
            product_id: a.id,
            refundable: 1,
        }])
    );
    assert_eq!(
        c.orders
            .reserve_refund(&new_refund(
                order.id,
                vec![
                    item(a.id, 1, Restock::Cancel),
                    item(a.id, 1, Restock::Cancel)
                ]
            ))
            .await
            .unwrap_err(),
        RefundError::ExceedsRefundable(vec![ExceedsRefundable {
            index: 0,
            product_id: a.id,
            refundable: 1,
        }])
    );
    // Money: 3500 captured, 2000 held.
    assert_eq!(
        c.orders
            .reserve_refund(&goodwill(order.id, 1501))
            .await
            .unwrap_err(),
        RefundError::ExceedsCaptured { remaining: 1500 }
    );
    assert_eq!(counts(&c).await, before, "refusals change nothing");
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM refunds WHERE id = '{}'",
            second.id
        ))
        .await,
        0
    );

    // A failed settle releases the units and the money; nothing else moves.
    let (after_failed, failed) = c
        .orders
        .settle_refund(first.id, &RefundSettlement::Failed)
        .await
        .unwrap();
    assert_eq!(failed.status, RefundStatus::Failed);
    assert_eq!(units(&after_failed), [(a.id, 0, 0, 0)]);
    assert_eq!(after_failed.refunded_amount, 0);
    assert_eq!(after_failed.payment_status, PaymentStatus::Captured);
    assert_eq!(after_failed.version, order.version);
    // The failed refund's row stays; nothing else moved.
    let expected = before;
    assert_eq!(counts(&c).await, expected);
    assert_eq!(refund_events(&c, order.id, first.id).await, 0);
    // ... and it stays failed: a late success does not move anything.
    let (_, still) = c
        .orders
        .settle_refund(first.id, &succeeded("re_late"))
        .await
        .unwrap();
    assert_eq!(still.status, RefundStatus::Failed);
    assert_eq!(counts(&c).await, expected);

    // The same request now reserves (a retry with a fresh id).
    let retried = c.orders.reserve_refund(&second).await.unwrap();
    assert_eq!(retried.amount, 2000);
    assert_eq!(retried.status, RefundStatus::Pending);
    // Goodwill within what remains less what is held: 1500 of 1500.
    assert_eq!(
        c.orders
            .reserve_refund(&goodwill(order.id, 1501))
            .await
            .unwrap_err(),
        RefundError::ExceedsCaptured { remaining: 1500 }
    );
    let kind = c
        .orders
        .reserve_refund(&goodwill(order.id, 1500))
        .await
        .unwrap();
    assert_eq!((kind.amount, kind.items.len()), (1500, 0));
    assert_eq!(
        c.orders
            .reserve_refund(&goodwill(order.id, 1))
            .await
            .unwrap_err(),
        RefundError::ExceedsCaptured { remaining: 0 }
    );
    // A unit refund capped at what remains (nothing): the last unit is refundable, for 0.
    let capped = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]))
        .await
        .unwrap();
    assert_eq!(capped.amount, 0);

    for r in [&retried, &kind, &capped] {
        c.orders
            .settle_refund(r.id, &succeeded("re"))
            .await
            .unwrap();
    }
    let done = get(&c, order.id).await;
    assert_eq!(units(&done), [(a.id, 0, 3, 0)]);
    assert_eq!(done.refunded_amount, 3500);
    assert_eq!(done.payment_status, PaymentStatus::Refunded);
    assert_eq!(c.stock(a.id).await, 10);
    // The goodwill refund moved money only.
    let event = c
        .orders
        .history(order.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.refund_id == Some(kind.id))
        .unwrap();
    assert_eq!(
        (event.kind, event.amount),
        (EventType::Refunded, Some(1500))
    );
}

#[tokio::test]
async fn a_pending_cancel_refund_holds_its_units_against_shipments() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    let refund = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]))
        .await
        .unwrap();
    // Only one unit is open for a shipment.
    assert_eq!(
        c.orders
            .ship(&ship_of(order.id, Some(vec![(a.id, 3)])))
            .await
            .unwrap_err(),
        ShipError::ExceedsOpen(vec![ExceedsOpen {
            index: 0,
            product_id: a.id,
            open: 1,
        }])
    );
    // "Everything open" ships that one.
    let (shipped, _) = c.orders.ship(&ship_of(order.id, None)).await.unwrap();
    assert_eq!(units(&shipped), [(a.id, 1, 0, 0)]);
    // The refund then settles against the units it held.
    let (done, settled) = c
        .orders
        .settle_refund(refund.id, &succeeded("re_1"))
        .await
        .unwrap();
    assert_eq!(settled.status, RefundStatus::Succeeded);
    assert_eq!(units(&done), [(a.id, 1, 2, 0)]);
    assert_eq!(done.status, OrderStatus::Fulfilled);
    assert_eq!(c.stock(a.id).await, 9);

    // PAID → FULFILLED by status waits for the refund in flight (refused meanwhile), then ships
    // what is left open.
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    let refund = c
        .orders
        .reserve_refund(&new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]))
        .await
        .unwrap();
    let fulfil = StatusChange::new(order.id, OrderStatus::Fulfilled);
    assert!(matches!(
        c.orders.change_status(&fulfil).await,
        Err(ChangeStatusError::InvalidTransition(_))
    ));
    let (done, settled) = c
        .orders
        .settle_refund(refund.id, &succeeded("re_2"))
        .await
        .unwrap();
    assert_eq!(settled.status, RefundStatus::Succeeded);
    assert_eq!(units(&done), [(a.id, 0, 2, 0)]);
    assert_eq!(done.status, OrderStatus::Paid);
    let fulfilled = c.orders.change_status(&fulfil).await.unwrap();
    assert_eq!(units(&fulfilled), [(a.id, 1, 2, 0)]);
    assert_eq!(fulfilled.status, OrderStatus::Fulfilled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_of_one_open_unit_refund_it_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 100).await;
    for round in 0..3 {
        let order = paid(&c, ada.id, &[(a.id, 1)]).await;
        let stock = c.stock(a.id).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let new = new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let reserved = orders.reserve_refund(&new).await?;
                let (_, settled) = orders
                    .settle_refund(reserved.id, &succeeded(&format!("re_{i}")))
                    .await?;
                Ok::<Refund, RefundError>(settled)
            }));
        }
        let mut made = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(refund) => {
                    assert_eq!(refund.status, RefundStatus::Succeeded);
                    assert_eq!(refund.amount, 1000);
                    made.push(refund.id);
                }
                Err(RefundError::ExceedsRefundable(lines)) => assert_eq!(
                    lines,
                    [ExceedsRefundable {
                        index: 0,
                        product_id: a.id,
                        refundable: 0,
                    }],
                    "round {round}"
                ),
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(made.len(), 1, "round {round}: exactly one refund");
        assert_eq!(c.stock(a.id).await, stock + 1, "round {round}");
        let after = get(&c, order.id).await;
        assert_eq!(units(&after), [(a.id, 0, 1, 0)], "round {round}");
        assert_eq!(after.refunded_amount, 1000);
        assert_eq!(after.payment_status, PaymentStatus::PartiallyRefunded);
        assert_eq!(after.refunds.len(), 1);
        assert_eq!(after.refunds[0].id, made[0]);
        assert_eq!(
            c.count(&format!(
                "SELECT count(*) AS n FROM refunds WHERE order_id = '{}'",
                order.id
            ))
            .await,
            1,
            "round {round}: the refused ones stored nothing"
        );
        assert_eq!(
            c.count(&format!(
                "SELECT count(*) AS n FROM order_events WHERE order_id = '{}' \
                   AND type = 'order.refunded'",
                order.id
            ))
            .await,
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_settles_of_one_refund_move_it_once() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 100).await;
    // All succeed (units, stock and money move once), then half fail (whichever answer lands
    // first stands for all).
    for (round, mixed) in [false, false, false, true, true, true]
        .into_iter()
        .enumerate()
    {
        let order = paid(&c, ada.id, &[(a.id, 3)]).await;
        let stock = c.stock(a.id).await;
        let refund = c
            .orders
            .reserve_refund(&new_refund(order.id, vec![item(a.id, 2, Restock::Cancel)]))
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let orders = c.orders.clone();
            let barrier = barrier.clone();
            let settlement = if mixed && i % 2 == 1 {
                RefundSettlement::Failed
            } else {
                succeeded(&format!("re_{i}"))
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                orders.settle_refund(refund.id, &settlement).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap().unwrap());
        }
        let stood = get(&c, order.id).await.refunds[0].status;
        for (after, settled) in &answers {
            assert_eq!(settled.status, stood, "round {round}: one answer for all");
            assert_eq!(settled.id, refund.id);
            if stood == RefundStatus::Succeeded {
                assert_eq!(after.refunded_amount, 2000);
                assert_eq!(units(after), [(a.id, 0, 2, 0)]);
            } else {
                assert_eq!(after.refunded_amount, 0);
                assert_eq!(units(after), [(a.id, 0, 0, 0)]);
            }
        }
        let after = get(&c, order.id).await;
        let events = refund_events(&c, order.id, refund.id).await;
        if stood == RefundStatus::Succeeded {
            assert_eq!(c.stock(a.id).await, stock + 2, "round {round}");
            assert_eq!(units(&after), [(a.id, 0, 2, 0)], "round {round}");
            assert_eq!(after.refunded_amount, 2000, "round {round}");
            assert_eq!(after.payment_status, PaymentStatus::PartiallyRefunded);
            assert_eq!(after.version, order.version + 1, "round {round}");
            assert_eq!(events, 1, "round {round}");
            let reference = c
                .count(&format!(
                    "SELECT count(*) AS n FROM refunds WHERE id = '{}' \
                       AND provider_reference LIKE 're_%'",
                    refund.id
                ))
                .await;
            assert_eq!(reference, 1);
        } else {
            assert!(mixed, "round {round}: only a failed answer fails it");
            assert_eq!(c.stock(a.id).await, stock, "round {round}");
            assert_eq!(units(&after), [(a.id, 0, 0, 0)], "round {round}");
            assert_eq!(after.refunded_amount, 0);
            assert_eq!(after.version, order.version);
            assert_eq!(events, 0);
        }
    }
}

#[tokio::test]
async fn refunds_are_refused_when_not_refundable_unknown_stale_or_shipping_twice() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 20).await;

    // Unknown order.
    assert_eq!(
        c.orders
            .reserve_refund(&new_refund(
                Uuid::now_v7(),
                vec![item(a.id, 1, Restock::Cancel)]
            ))
            .await
            .unwrap_err(),
        RefundError::NotFound
    );

    // PENDING (unpaid): nothing captured.
    let unpaid = c.place(ada.id, &[(a.id, 1)]).await;
    let before = counts(&c).await;
    for new in [
        new_refund(unpaid.id, vec![item(a.id, 1, Restock::Cancel)]),
        goodwill(unpaid.id, 1),
    ] {
        assert_eq!(
            c.orders.reserve_refund(&new).await.unwrap_err(),
            RefundError::NotRefundable
        );
    }
    assert_eq!(counts(&c).await, before);
    // CANCELLED after payment: refunded as a whole already.
    let cancelled = paid(&c, ada.id, &[(a.id, 1)]).await;
    c.orders
        .change_status(&StatusChange::new(cancelled.id, OrderStatus::Cancelled))
        .await
        .unwrap();
    let before_cancelled = counts(&c).await;
    assert_eq!(
        c.orders
            .reserve_refund(&goodwill(cancelled.id, 1))
            .await
            .unwrap_err(),
        RefundError::NotRefundable
    );
    assert_eq!(counts(&c).await, before_cancelled);
    assert_eq!(get(&c, unpaid.id).await, unpaid);

    // A stale If-Match; the current one reserves.
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    let before = counts(&c).await;
    let mut stale = new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]);
    stale.expected_version = Some(order.version - 1);
    assert_eq!(
        c.orders.reserve_refund(&stale).await.unwrap_err(),
        RefundError::PreconditionFailed
    );
    assert_eq!(counts(&c).await, before);
    let mut current = stale.clone();
    current.expected_version = Some(order.version);
    let one = c.orders.reserve_refund(&current).await.unwrap();
    // A reservation does not change the version; a success does.
    let mut again = new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]);
    again.expected_version = Some(order.version);
    let two = c.orders.reserve_refund(&again).await.unwrap();
    c.orders
        .settle_refund(one.id, &succeeded("re_1"))
        .await
        .unwrap();
    let mut late = new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)]);
    late.expected_version = Some(order.version);
    assert_eq!(
        c.orders.reserve_refund(&late).await.unwrap_err(),
        RefundError::PreconditionFailed
    );
    // The same refund id twice is refused by the database.
    let mut duplicate = new_refund(order.id, vec![]);
    duplicate.id = two.id;
    duplicate.amount = Some(1);
    let before = counts(&c).await;
    assert!(matches!(
        c.orders.reserve_refund(&duplicate).await,
        Err(RefundError::Store(_))
    ));
    assert_eq!(counts(&c).await, before);
    c.orders
        .settle_refund(two.id, &RefundSettlement::Failed)
        .await
        .unwrap();

    // Shipping: once, whether pending or succeeded.
    let shipping = |order_id| NewRefund {
        shipping: true,
        ..new_refund(order_id, vec![])
    };
    let first = c.orders.reserve_refund(&shipping(order.id)).await.unwrap();
    assert_eq!((first.amount, first.shipping), (500, true));
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .reserve_refund(&shipping(order.id))
            .await
            .unwrap_err(),
        RefundError::ShippingRefunded
    );
    assert_eq!(
        c.orders
            .reserve_refund(&NewRefund {
                shipping: true,
                ..new_refund(order.id, vec![item(a.id, 1, Restock::Cancel)])
            })
            .await
            .unwrap_err(),
        RefundError::ShippingRefunded
    );
    assert_eq!(counts(&c).await, before);
    let (after, _) = c
        .orders
        .settle_refund(first.id, &succeeded("re_ship"))
        .await
        .unwrap();
    assert_eq!(after.refunded_amount, 1000 + 500);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM orders WHERE id = '{}' AND shipping_refunded",
            order.id
        ))
        .await,
        1
    );
    let before = counts(&c).await;
    assert_eq!(
        c.orders
            .reserve_refund(&shipping(order.id))
            .await
            .unwrap_err(),
        RefundError::ShippingRefunded
    );
    assert_eq!(counts(&c).await, before);

    // A failed shipping refund releases it.
    let other = paid(&c, ada.id, &[(a.id, 1)]).await;
    let refused = c.orders.reserve_refund(&shipping(other.id)).await.unwrap();
    c.orders
        .settle_refund(refused.id, &RefundSettlement::Failed)
        .await
        .unwrap();
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM orders WHERE id = '{}' AND shipping_refunded",
            other.id
        ))
        .await,
        0
    );
    assert!(c.orders.reserve_refund(&shipping(other.id)).await.is_ok());

    // Settling an unknown refund is an error, not a success.
    assert!(
        c.orders
            .settle_refund(Uuid::now_v7(), &succeeded("re_x"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_database_refuses_refunds_that_do_not_fit() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 10).await;
    let stranger = c.product("C-1", 1000, 10).await;
    let order = paid(&c, ada.id, &[(a.id, 3)]).await;
    let before = get(&c, order.id).await;

    // More than the total refunded, or less than nothing.
    for value in ["total_amount + 1", "-1"] {
        let err = c
            .sql(&format!(
                "UPDATE orders SET refunded_amount = {value} WHERE id = '{}'",
                order.id
            ))
            .await
            .unwrap_err();
        assert_eq!(
            check_violation(&err),
            Some("orders_refunds_within_total"),
            "{value}: {err:?}"
        );
    }
    assert_eq!(
        c.sql(&format!(
            "UPDATE orders SET refunded_amount = total_amount WHERE id = '{}'",
            order.id
        ))
        .await
        .unwrap(),
        1,
        "the whole total is within it"
    );
    c.sql(&format!(
        "UPDATE orders SET refunded_amount = 0 WHERE id = '{}'",
        order.id
    ))
    .await
    .unwrap();

    // A refund item of a product not in the order.
    let refund = c
        .orders
        .reserve_refund(&goodwill(order.id, 100))
        .await
        .unwrap();
    let err = c
        .sql(&format!(
            "INSERT INTO refund_items (refund_id, order_id, product_id, quantity, restock) \
             VALUES ('{}', '{}', {}, 1, 'cancel')",
            refund.id, order.id, stranger.id
        ))
        .await
        .unwrap_err();
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            assert_eq!(
                info.constraint_name(),
                Some("refund_items_order_id_product_id_fkey")
            );
        }
        other => panic!("expected a foreign key violation, got {other:?}"),
    }
    // No units, or an unknown restock kind.
    for (quantity, restock, constraint) in [
        (0, "cancel", "refund_items_quantity_check"),
        (1, "lost", "refund_items_restock_check"),
    ] {
        let err = c
            .sql(&format!(
                "INSERT INTO refund_items (refund_id, order_id, product_id, quantity, restock) \
                 VALUES ('{}', '{}', {}, {quantity}, '{restock}')",
                refund.id, order.id, a.id
            ))
            .await
            .unwrap_err();
        assert_eq!(check_violation(&err), Some(constraint), "{err:?}");
    }

    // A reason of 501 characters (500 is accepted), an empty one, a negative amount, an unknown
    // status.
    let insert = |reason: String, amount: i64, status: &str| {
        format!(
            "INSERT INTO refunds (id, order_id, amount, reason, status) \
             VALUES ('{}', '{}', {amount}, '{reason}', '{status}')",
            Uuid::now_v7(),
            order.id
        )
    };
    for (sql, constraint) in [
        (
            insert("x".repeat(501), 1, "pending"),
            "refunds_reason_check",
        ),
        (insert(String::new(), 1, "pending"), "refunds_reason_check"),
        (insert("r".into(), -1, "pending"), "refunds_amount_check"),
        (insert("r".into(), 1, "refused"), "refunds_status_check"),
    ] {
        let err = c.sql(&sql).await.unwrap_err();
        assert_eq!(check_violation(&err), Some(constraint), "{sql}: {err:?}");
    }
    let longest = insert("x".repeat(500), 1, "failed");
    assert_eq!(c.sql(&longest).await.unwrap(), 1);

    // Through the repository too: a 501-character reason stores nothing.
    let counted = counts(&c).await;
    let mut long = goodwill(order.id, 1);
    long.reason = "x".repeat(501);
    assert!(matches!(
        c.orders.reserve_refund(&long).await,
        Err(RefundError::Store(_))
    ));
    assert_eq!(counts(&c).await, counted);

    let after = get(&c, order.id).await;
    assert_eq!(after.version, before.version);
    assert_eq!(after.refunded_amount, 0);
    assert_eq!(units(&after), units(&before));
}

#[tokio::test]
async fn pending_refunds_are_listed_oldest_first_before_a_time() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let a = c.product("A-1", 1000, 20).await;
    let first_order = paid(&c, ada.id, &[(a.id, 3)]).await;
    let second_order = paid(&c, ada.id, &[(a.id, 3)]).await;
    assert!(
        c.orders
            .pending_refunds(time::OffsetDateTime::now_utc(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let one = c
        .orders
        .reserve_refund(&new_refund(
            second_order.id,
            vec![item(a.id, 1, Restock::Cancel)],
        ))
        .await
        .unwrap();
    let settled = c
        .orders
        .reserve_refund(&goodwill(first_order.id, 10))
        .await
        .unwrap();
    let two = c
        .orders
        .reserve_refund(&new_refund(
            first_order.id,
            vec![item(a.id, 2, Restock::Cancel)],
        ))
        .await
        .unwrap();
    let failed = c
        .orders
        .reserve_refund(&goodwill(second_order.id, 10))
        .await
        .unwrap();
    let three = c
        .orders
        .reserve_refund(&goodwill(second_order.id, 20))
        .await
        .unwrap();
    c.orders
        .settle_refund(settled.id, &succeeded("re_1"))
        .await
        .unwrap();
    c.orders
        .settle_refund(failed.id, &RefundSettlement::Failed)
        .await
        .unwrap();
    assert!(one.created_at < two.created_at && two.created_at < three.created_at);

    let ids = |found: Vec<Refund>| found.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let later = three.created_at + time::Duration::seconds(1);
    let all = c.orders.pending_refunds(later, 10).await.unwrap();
    assert_eq!(all, [one.clone(), two.clone(), three.clone()]);
    assert!(all.iter().all(|r| r.status == RefundStatus::Pending));
    assert_eq!(
        ids(c.orders.pending_refunds(later, 2).await.unwrap()),
        [one.id, two.id]
    );
    // Strictly before.
    assert_eq!(
        ids(c
            .orders
            .pending_refunds(three.created_at, 10)
            .await
            .unwrap()),
        [one.id, two.id]
    );
    assert_eq!(
        ids(c.orders.pending_refunds(two.created_at, 10).await.unwrap()),
        [one.id]
    );
    assert!(
        c.orders
            .pending_refunds(one.created_at, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Settled ones leave the list.
    c.orders
        .settle_refund(two.id, &succeeded("re_2"))
        .await
        .unwrap();
    c.orders
        .settle_refund(one.id, &RefundSettlement::Failed)
        .await
        .unwrap();
    assert_eq!(
        ids(c.orders.pending_refunds(later, 10).await.unwrap()),
        [three.id]
    );
    assert_eq!(
        c.orders
            .reconcile_horizon()
            .await
            .unwrap()
            .oldest_pending_refund,
        Some(three.created_at)
    );
}
