use std::sync::Arc;
use std::time::Duration;

use domain::EventType;
use mockall::predicate::eq;
use ports::{ChargeOutcome, PaymentError, PlaceOrderError as PortPlaceOrderError};

use super::*;
use crate::test_support::{
    ADMIN, CUSTOMER, Mocks, NOW, OTHER_CUSTOMER, SlowGateway, address_input, lines, order, settings,
};

fn service(mocks: Mocks) -> OrderService {
    OrderService::new(mocks.into_deps(), settings())
}

fn command(token: Option<&str>) -> PlaceOrderCommand {
    PlaceOrderCommand {
        items: lines(),
        address: address_input(),
        payment_token: token.map(str::to_owned),
    }
}

/// `place` answers with the order it was asked to create, `PENDING`.
fn expect_place(mocks: &mut Mocks, payment: PaymentStatus) {
    mocks
        .orders
        .expect_place()
        .withf(move |o| {
            o.user_id == CUSTOMER.id
                && o.payment_status == payment
                && o.id.get_version_num() == 7
                && o.currency == "USD"
                && o.address.country == "GB"
                && o.lines.len() == 1
                && o.lines[0].product_id == 12
                && o.lines[0].quantity == 2
        })
        .times(1)
        .returning(|o| {
            Ok(order(
                o.id,
                o.user_id,
                OrderStatus::Pending,
                o.payment_status,
            ))
        });
}

fn field_names(errors: &ValidationErrors) -> Vec<&str> {
    errors.0.iter().map(|e| e.field.as_str()).collect()
}

// ---- place_order ----

#[tokio::test]
async fn place_without_payment_is_unpaid_and_charges_nothing() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Unpaid);
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(None))
        .await
        .expect("placed");
    let PlacementOutcome::Unpaid(order) = outcome else {
        panic!("expected unpaid, got {outcome:?}");
    };
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.payment_status, PaymentStatus::Unpaid);
}

#[tokio::test]
async fn place_with_a_captured_charge_is_paid() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks
        .payments
        .expect_charge()
        .withf(|r| r.token == "tok_visa" && r.amount == 3000 && r.currency == "USD")
        .times(1)
        .returning(|_| {
            Ok(ChargeOutcome::Captured {
                reference: "ch_1".into(),
            })
        });
    mocks
        .orders
        .expect_change_status()
        .withf(|c| {
            c.to == OrderStatus::Paid
                && c.actor.is_none()
                && c.owner.is_none()
                && c.payment_reference.as_deref() == Some("ch_1")
                && c.payment_status_in == [PaymentStatus::Processing]
        })
        .times(1)
        .returning(|c| {
            let mut paid = order(c.order_id, 7, OrderStatus::Paid, PaymentStatus::Captured);
            paid.payment_reference = c.payment_reference.clone();
            Ok(paid)
        });
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some(" tok_visa ")))
        .await
        .expect("placed");
    let PlacementOutcome::Paid(order) = outcome else {
        panic!("expected paid, got {outcome:?}");
    };
    assert_eq!(order.status, OrderStatus::Paid);
    assert!(order.payment_collected);
    assert_eq!(order.payment_reference.as_deref(), Some("ch_1"));
}

#[tokio::test]
async fn the_charge_is_keyed_by_the_placed_order_id() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    let placed_id = Arc::new(std::sync::Mutex::new(None));
    let seen = placed_id.clone();
    mocks.payments.expect_charge().times(1).returning(move |r| {
        *seen.lock().expect("lock") = Some(r.order_id);
        Err(PaymentError::Provider("down".into()))
    });
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_error")))
        .await
        .expect("placed");
    assert_eq!(*placed_id.lock().expect("lock"), Some(outcome.order().id));
}

#[tokio::test]
async fn place_with_a_declined_charge_cancels_the_order() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks.payments.expect_charge().times(1).returning(|_| {
        Ok(ChargeOutcome::Declined {
            reason: "card declined".into(),
        })
    });
    mocks
        .orders
        .expect_set_payment_status()
        .withf(|_, from, to| *from == [PaymentStatus::Processing] && *to == PaymentStatus::Failed)
        .times(1)
        .returning(|id, _, to| Ok(order(id, 7, OrderStatus::Pending, to)));
    mocks
        .orders
        .expect_change_status()
        .withf(|c| {
            c.to == OrderStatus::Cancelled
                && c.actor.is_none()
                && c.note.as_deref() == Some(DECLINED_NOTE)
        })
        .times(1)
        .returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Cancelled,
                PaymentStatus::Failed,
            ))
        });
    let err = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_chargeDeclined")))
        .await
        .expect_err("declined");
    let PlaceOrderError::PaymentDeclined {
        order_id, order, ..
    } = err
    else {
        panic!("expected declined, got {err:?}");
    };
    assert_eq!(order_id, order.id);
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(order.payment_status, PaymentStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn place_with_a_provider_that_times_out_is_processing_and_changes_nothing() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    // No change_status / set_payment_status expectation: any call would panic.
    let gateway = Arc::new(SlowGateway::new(Duration::from_secs(3600)));
    let service = OrderService::new(mocks.into_deps_with_gateway(Some(gateway)), settings());
    let started = tokio::time::Instant::now();
    let outcome = service
        .place_order(CUSTOMER, command(Some("tok_timeout")))
        .await
        .expect("placed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited past the timeout"
    );
    let PlacementOutcome::Processing(order) = outcome else {
        panic!("expected processing, got {outcome:?}");
    };
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.payment_status, PaymentStatus::Processing);
}

#[tokio::test]
async fn place_with_a_provider_error_is_processing() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks
        .payments
        .expect_charge()
        .times(1)
        .returning(|_| Err(PaymentError::Provider("502".into())));
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_error")))
        .await
        .expect("placed");
    assert!(
        matches!(outcome, PlacementOutcome::Processing(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn captured_but_not_marked_paid_answers_processing() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks.payments.expect_charge().returning(|_| {
        Ok(ChargeOutcome::Captured {
            reference: "ch_1".into(),
        })
    });
    mocks.orders.expect_change_status().times(1).returning(|_| {
        Err(ChangeStatusError::Store(StoreError::Unavailable(
            "down".into(),
        )))
    });
    mocks
        .orders
        .expect_get()
        .times(1)
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_visa")))
        .await
        .expect("placed");
    assert!(
        matches!(outcome, PlacementOutcome::Processing(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn captured_and_already_paid_by_the_reconciler_answers_paid() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks.payments.expect_charge().returning(|_| {
        Ok(ChargeOutcome::Captured {
            reference: "ch_1".into(),
        })
    });
    mocks.orders.expect_change_status().returning(|_| {
        Err(ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Paid,
        }))
    });
    mocks.orders.expect_get().returning(|id| {
        Ok(Some(order(
            id,
            7,
            OrderStatus::Paid,
            PaymentStatus::Captured,
        )))
    });
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_visa")))
        .await
        .expect("placed");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn captured_after_the_order_was_cancelled_is_refunded() {
    let mut mocks = Mocks::new();
    expect_place(&mut mocks, PaymentStatus::Processing);
    mocks.payments.expect_charge().returning(|_| {
        Ok(ChargeOutcome::Captured {
            reference: "ch_1".into(),
        })
    });
    mocks.orders.expect_change_status().returning(|_| {
        Err(ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Cancelled,
            to: OrderStatus::Paid,
        }))
    });
    mocks.orders.expect_get().returning(|id| {
        Ok(Some(order(
            id,
            7,
            OrderStatus::Cancelled,
            PaymentStatus::Processing,
        )))
    });
    mocks
        .payments
        .expect_refund()
        .times(1)
        .returning(|_| Ok(()));
    let outcome = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_visa")))
        .await
        .expect("placed");
    assert_eq!(outcome.order().status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn place_validation_names_every_field_and_writes_nothing() {
    let mut cmd = command(Some("  "));
    cmd.items.push(LineInput {
        product_id: 3,
        quantity: 0,
    });
    cmd.address.country = "UK".into();
    let err = service(Mocks::new())
        .place_order(CUSTOMER, cmd)
        .await
        .expect_err("invalid");
    let PlaceOrderError::Validation(errors) = err else {
        panic!("expected validation, got {err:?}");
    };
    assert_eq!(
        field_names(&errors),
        [
            "items[1].quantity",
            "shipping_address.country",
            "payment.token"
        ]
    );
}

#[tokio::test]
async fn place_with_no_lines_is_a_validation_error() {
    let mut cmd = command(None);
    cmd.items.clear();
    let err = service(Mocks::new())
        .place_order(CUSTOMER, cmd)
        .await
        .expect_err("invalid");
    let PlaceOrderError::Validation(errors) = err else {
        panic!("expected validation, got {err:?}");
    };
    assert_eq!(field_names(&errors), ["items"]);
}

#[tokio::test]
async fn place_unknown_product() {
    let mut mocks = Mocks::new();
    mocks.orders.expect_place().times(1).returning(|_| {
        Err(PortPlaceOrderError::UnknownProducts(vec![UnknownProduct {
            product_id: 12,
            first_index: 0,
        }]))
    });
    let err = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_visa")))
        .await
        .expect_err("unknown");
    assert_eq!(
        err,
        PlaceOrderError::UnknownProducts(vec![UnknownProduct {
            product_id: 12,
            first_index: 0
        }])
    );
}

#[tokio::test]
async fn place_insufficient_stock_charges_nothing() {
    let shortage = Shortage {
        product_id: 12,
        first_index: 0,
        requested: 2,
        available: 1,
    };
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_place()
        .times(1)
        .returning(move |_| Err(PortPlaceOrderError::InsufficientStock(vec![shortage])));
    let err = service(mocks)
        .place_order(CUSTOMER, command(Some("tok_visa")))
        .await
        .expect_err("short");
    assert_eq!(err, PlaceOrderError::InsufficientStock(vec![shortage]));
}

#[tokio::test]
async fn place_pricing_overflow_and_store_failure() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_place()
        .times(1)
        .returning(|_| Err(PortPlaceOrderError::Pricing(PricingError::Overflow)));
    assert_eq!(
        service(mocks).place_order(CUSTOMER, command(None)).await,
        Err(PlaceOrderError::PricingOverflow)
    );
    let mut mocks = Mocks::new();
    mocks.orders.expect_place().times(1).returning(|_| {
        Err(PortPlaceOrderError::Store(StoreError::Unavailable(
            "pool".into(),
        )))
    });
    assert_eq!(
        service(mocks).place_order(CUSTOMER, command(None)).await,
        Err(PlaceOrderError::Store(StoreError::Unavailable(
            "pool".into()
        )))
    );
}

// ---- pay_order ----

fn expect_get(mocks: &mut Mocks, owner: i64, status: OrderStatus, payment: PaymentStatus) -> Uuid {
    let id = Uuid::now_v7();
    mocks
        .orders
        .expect_get()
        .with(eq(id))
        .returning(move |id| Ok(Some(order(id, owner, status, payment))));
    id
}

fn expect_start_charge(mocks: &mut Mocks) {
    mocks
        .orders
        .expect_set_payment_status()
        .withf(|_, from, to| {
            *from == [PaymentStatus::Unpaid, PaymentStatus::Failed]
                && *to == PaymentStatus::Processing
        })
        .times(1)
        .returning(|id, _, to| Ok(order(id, 7, OrderStatus::Pending, to)));
}

#[tokio::test]
async fn pay_an_unpaid_order() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Unpaid);
    expect_start_charge(&mut mocks);
    mocks
        .payments
        .expect_charge()
        .withf(move |r| r.order_id == id && r.token == "tok_visa")
        .times(1)
        .returning(|_| {
            Ok(ChargeOutcome::Captured {
                reference: "ch_2".into(),
            })
        });
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| {
            c.order_id == id
                && c.to == OrderStatus::Paid
                && c.actor.is_none()
                && c.payment_reference.as_deref() == Some("ch_2")
        })
        .times(1)
        .returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Paid,
                PaymentStatus::Captured,
            ))
        });
    let outcome = service(mocks)
        .pay_order(CUSTOMER, id, "tok_visa")
        .await
        .expect("paid");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn pay_a_failed_order_declined_again_stays_pending_failed() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Failed);
    expect_start_charge(&mut mocks);
    mocks.payments.expect_charge().times(1).returning(|_| {
        Ok(ChargeOutcome::Declined {
            reason: "declined".into(),
        })
    });
    mocks
        .orders
        .expect_set_payment_status()
        .withf(|_, from, to| *from == [PaymentStatus::Processing] && *to == PaymentStatus::Failed)
        .times(1)
        .returning(|id, _, to| Ok(order(id, 7, OrderStatus::Pending, to)));
    let err = service(mocks)
        .pay_order(CUSTOMER, id, "tok_chargeDeclined")
        .await
        .expect_err("declined");
    let PayOrderError::PaymentDeclined { order, .. } = err else {
        panic!("expected declined, got {err:?}");
    };
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.payment_status, PaymentStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn pay_with_a_provider_that_times_out_is_processing() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Unpaid);
    expect_start_charge(&mut mocks);
    let gateway = Arc::new(SlowGateway::new(Duration::from_secs(3600)));
    let service = OrderService::new(mocks.into_deps_with_gateway(Some(gateway)), settings());
    let outcome = service
        .pay_order(CUSTOMER, id, "tok_timeout")
        .await
        .expect("processing");
    let PlacementOutcome::Processing(order) = outcome else {
        panic!("expected processing, got {outcome:?}");
    };
    assert_eq!(order.payment_status, PaymentStatus::Processing);
}

#[tokio::test]
async fn pay_an_already_paid_order_is_an_invalid_transition() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Paid, PaymentStatus::Captured);
    let err = service(mocks)
        .pay_order(CUSTOMER, id, "tok_visa")
        .await
        .expect_err("not payable");
    assert_eq!(
        err,
        PayOrderError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Paid
        })
    );
}

#[tokio::test]
async fn pay_while_a_charge_is_in_flight_is_an_invalid_transition() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        7,
        OrderStatus::Pending,
        PaymentStatus::Processing,
    );
    let err = service(mocks)
        .pay_order(CUSTOMER, id, "tok_visa")
        .await
        .expect_err("not payable");
    assert_eq!(
        err,
        PayOrderError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Pending,
            to: OrderStatus::Paid
        })
    );
}

#[tokio::test]
async fn pay_losing_a_race_is_an_invalid_transition() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Unpaid);
    mocks
        .orders
        .expect_set_payment_status()
        .returning(|_, _, _| {
            Err(PaymentUpdateError::NotPayable {
                status: OrderStatus::Cancelled,
                payment_status: PaymentStatus::Unpaid,
            })
        });
    let err = service(mocks)
        .pay_order(CUSTOMER, id, "tok_visa")
        .await
        .expect_err("not payable");
    assert_eq!(
        err,
        PayOrderError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Cancelled,
            to: OrderStatus::Paid
        })
    );
}

#[tokio::test]
async fn pay_another_customers_order_is_not_found() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        OTHER_CUSTOMER.id,
        OrderStatus::Pending,
        PaymentStatus::Unpaid,
    );
    let missing = Uuid::now_v7();
    mocks
        .orders
        .expect_get()
        .with(eq(missing))
        .returning(|_| Ok(None));
    let orders = service(mocks);
    assert_eq!(
        orders.pay_order(CUSTOMER, id, "tok_visa").await,
        Err(PayOrderError::NotFound)
    );
    // Not even an admin pays someone else's order.
    assert_eq!(
        orders.pay_order(ADMIN, id, "tok_visa").await,
        Err(PayOrderError::NotFound)
    );
    assert_eq!(
        orders.pay_order(CUSTOMER, missing, "tok_visa").await,
        Err(PayOrderError::NotFound)
    );
}

#[tokio::test]
async fn pay_with_an_empty_token_is_a_validation_error() {
    let err = service(Mocks::new())
        .pay_order(CUSTOMER, Uuid::now_v7(), " ")
        .await
        .expect_err("invalid");
    let PayOrderError::Validation(errors) = err else {
        panic!("expected validation, got {err:?}");
    };
    assert_eq!(field_names(&errors), ["token"]);
}

// ---- cancel_own_order ----

#[tokio::test]
async fn cancel_own_pending_order() {
    let id = Uuid::now_v7();
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| {
            c.order_id == id
                && c.to == OrderStatus::Cancelled
                && c.owner == Some(CUSTOMER.id)
                && c.actor == Some(CUSTOMER)
                && c.payment_status_in == [PaymentStatus::Unpaid, PaymentStatus::Failed]
        })
        .times(1)
        .returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Cancelled,
                PaymentStatus::Unpaid,
            ))
        });
    let cancelled = service(mocks)
        .cancel_own_order(CUSTOMER, id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn cancel_own_paid_order_is_an_invalid_transition() {
    let mut mocks = Mocks::new();
    mocks.orders.expect_change_status().returning(|_| {
        Err(ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Cancelled,
        }))
    });
    assert_eq!(
        service(mocks)
            .cancel_own_order(CUSTOMER, Uuid::now_v7())
            .await,
        Err(CancelOrderError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Cancelled
        }))
    );
}

#[tokio::test]
async fn cancel_another_customers_order_is_not_found() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_change_status()
        .withf(|c| c.owner == Some(OTHER_CUSTOMER.id))
        .returning(|_| Err(ChangeStatusError::NotFound));
    assert_eq!(
        service(mocks)
            .cancel_own_order(OTHER_CUSTOMER, Uuid::now_v7())
            .await,
        Err(CancelOrderError::NotFound)
    );
}

// ---- get_order, list_my_orders, order_history ----

#[tokio::test]
async fn get_order_for_its_owner_and_an_admin_only() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        CUSTOMER.id,
        OrderStatus::Pending,
        PaymentStatus::Unpaid,
    );
    let missing = Uuid::now_v7();
    mocks
        .orders
        .expect_get()
        .with(eq(missing))
        .returning(|_| Ok(None));
    let orders = service(mocks);
    assert_eq!(orders.get_order(CUSTOMER, id).await.expect("owner").id, id);
    assert_eq!(orders.get_order(ADMIN, id).await.expect("admin").id, id);
    assert_eq!(
        orders.get_order(OTHER_CUSTOMER, id).await,
        Err(GetOrderError::NotFound)
    );
    assert_eq!(
        orders.get_order(CUSTOMER, missing).await,
        Err(GetOrderError::NotFound)
    );
}

#[tokio::test]
async fn list_my_orders_pages_with_limit_plus_one() {
    let rows: Vec<Order> = (0..3)
        .map(|i| {
            let mut o = order(
                Uuid::now_v7(),
                7,
                OrderStatus::Pending,
                PaymentStatus::Unpaid,
            );
            o.created_at = NOW - time::Duration::minutes(i);
            o
        })
        .collect();
    let after = OrderCursor {
        created_at: NOW,
        id: Uuid::now_v7(),
    };
    let mut mocks = Mocks::new();
    let returned = rows.clone();
    mocks
        .orders
        .expect_list_for_user()
        .with(
            eq(CUSTOMER.id),
            eq(Some(OrderStatus::Pending)),
            eq(Some(after)),
            eq(3),
        )
        .times(1)
        .returning(move |_, _, _, _| Ok(returned.clone()));
    let page = service(mocks)
        .list_my_orders(CUSTOMER, Some(OrderStatus::Pending), Some(after), 2)
        .await
        .expect("page");
    assert_eq!(page.items, rows[..2]);
    assert_eq!(
        page.next,
        Some(OrderCursor {
            created_at: rows[1].created_at,
            id: rows[1].id
        })
    );

    let mut mocks = Mocks::new();
    let returned = rows.clone();
    mocks
        .orders
        .expect_list_for_user()
        .returning(move |_, _, _, _| Ok(returned.clone()));
    let page = service(mocks)
        .list_my_orders(CUSTOMER, None, None, 3)
        .await
        .expect("page");
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next, None);
}

fn event(order_id: Uuid) -> StoredEvent {
    StoredEvent {
        id: 1,
        kind: EventType::OrderCreated,
        order_id,
        user_id: 7,
        from_status: None,
        to_status: OrderStatus::Pending,
        payment_status: PaymentStatus::Unpaid,
        fulfillment_status: domain::FulfillmentStatus::Unfulfilled,
        total_amount: 3000,
        refunded_amount: 0,
        shipment_id: None,
        refund_id: None,
        amount: None,
        actor: Some(CUSTOMER),
        note: None,
        occurred_at: NOW,
    }
}

#[tokio::test]
async fn order_history_for_owner_and_admin_not_for_others() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        CUSTOMER.id,
        OrderStatus::Pending,
        PaymentStatus::Unpaid,
    );
    mocks
        .orders
        .expect_history()
        .with(eq(id))
        .times(2)
        .returning(|id| Ok(vec![event(id)]));
    mocks
        .orders
        .expect_notes()
        .with(eq(id))
        .times(1)
        .returning(|_| Ok(vec![]));
    let orders = service(mocks);
    assert_eq!(
        orders
            .order_history(CUSTOMER, id)
            .await
            .expect("owner")
            .len(),
        1
    );
    assert_eq!(
        orders.order_history(ADMIN, id).await.expect("admin").len(),
        1
    );
    assert_eq!(
        orders.order_history(OTHER_CUSTOMER, id).await,
        Err(GetOrderError::NotFound)
    );
}

#[tokio::test]
async fn notes_are_merged_by_id_for_an_admin_and_never_read_for_a_customer() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        CUSTOMER.id,
        OrderStatus::Paid,
        PaymentStatus::Captured,
    );
    mocks.orders.expect_history().returning(|id| {
        Ok(vec![
            StoredEvent {
                id: 10,
                ..event(id)
            },
            StoredEvent {
                id: 30,
                ..event(id)
            },
        ])
    });
    // Asked once: for the admin. The customer's call would fail the test on `times`.
    mocks
        .orders
        .expect_notes()
        .with(eq(id))
        .times(1)
        .returning(|order_id| {
            Ok(vec![OrderNote {
                id: 20,
                order_id,
                note: "called the customer".into(),
                actor: ADMIN,
                occurred_at: NOW,
            }])
        });
    let orders = service(mocks);
    let admin = orders.order_history(ADMIN, id).await.expect("admin");
    assert_eq!(
        admin.iter().map(HistoryEntry::id).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert!(matches!(&admin[1], HistoryEntry::Note(n) if n.note == "called the customer"));
    let owner = orders.order_history(CUSTOMER, id).await.expect("owner");
    assert_eq!(owner.len(), 2);
    assert!(owner.iter().all(|e| matches!(e, HistoryEntry::Event(_))));
}

// ---- resuming a request whose Idempotency-Key was taken over ----

/// The provider captures exactly one charge, of this order and attempt.
fn expect_one_capture(mocks: &mut Mocks, id: Uuid, attempt: u32) {
    mocks
        .payments
        .expect_charge()
        .withf(move |r| r.order_id == id && r.attempt == attempt && r.token == "tok_visa")
        .times(1)
        .returning(|_| {
            Ok(ChargeOutcome::Captured {
                reference: "ch_r".into(),
            })
        });
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| {
            c.order_id == id
                && c.to == OrderStatus::Paid
                && c.payment_status_in == [PaymentStatus::Processing]
        })
        .times(1)
        .returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Paid,
                PaymentStatus::Captured,
            ))
        });
}

#[tokio::test]
async fn resuming_a_placement_that_never_stored_its_order_places_it_under_the_reserved_id() {
    let mut mocks = Mocks::new();
    let reserved = Uuid::now_v7();
    mocks
        .orders
        .expect_get()
        .with(eq(reserved))
        .times(1)
        .returning(|_| Ok(None));
    mocks
        .orders
        .expect_place()
        .withf(move |o| o.id == reserved && o.payment_status == PaymentStatus::Processing)
        .times(1)
        .returning(|o| Ok(order(o.id, 7, OrderStatus::Pending, o.payment_status)));
    expect_one_capture(&mut mocks, reserved, 1);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, reserved, command(Some("tok_visa")))
        .await
        .expect("placed");
    assert!(matches!(outcome, PlacementOutcome::Paid(ref o) if o.id == reserved));
}

#[tokio::test]
async fn resuming_a_placement_with_its_charge_in_flight_charges_the_same_attempt_and_places_nothing()
 {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        7,
        OrderStatus::Pending,
        PaymentStatus::Processing,
    );
    // No `place`: the mock refuses any call not expected.
    expect_one_capture(&mut mocks, id, 1);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, id, command(Some("tok_visa")))
        .await
        .expect("finished");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn resuming_a_placement_whose_attempt_failed_makes_the_next_attempt() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Failed);
    mocks
        .orders
        .expect_set_payment_status()
        .withf(|_, from, to| {
            *from == [PaymentStatus::Unpaid, PaymentStatus::Failed]
                && *to == PaymentStatus::Processing
        })
        .times(1)
        .returning(|id, _, to| {
            let mut next = order(id, 7, OrderStatus::Pending, to);
            next.payment_attempt = 2;
            Ok(next)
        });
    expect_one_capture(&mut mocks, id, 2);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, id, command(Some("tok_visa")))
        .await
        .expect("finished");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn resuming_a_settled_placement_charges_nothing_and_answers_it_as_it_stands() {
    // Paid by the reconciler meanwhile: paid.
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Paid, PaymentStatus::Captured);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, id, command(Some("tok_visa")))
        .await
        .expect("answered");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");

    // Declined and cancelled: the 402 a first request got.
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Cancelled, PaymentStatus::Failed);
    let error = service(mocks)
        .resume_placement(CUSTOMER, id, command(Some("tok_visa")))
        .await
        .expect_err("declined");
    assert!(
        matches!(error, PlaceOrderError::PaymentDeclined { order_id, .. } if order_id == id),
        "{error:?}"
    );

    // Unpaid and expired: the order as it stands.
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Cancelled, PaymentStatus::Unpaid);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, id, command(None))
        .await
        .expect("answered");
    assert!(
        matches!(outcome, PlacementOutcome::AsItStands(ref o) if o.status == OrderStatus::Cancelled),
        "{outcome:?}"
    );

    // Placed without payment and still pending: unpaid.
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Unpaid);
    let outcome = service(mocks)
        .resume_placement(CUSTOMER, id, command(None))
        .await
        .expect("answered");
    assert!(
        matches!(outcome, PlacementOutcome::Unpaid(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn resuming_onto_another_users_order_is_refused() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        99,
        OrderStatus::Pending,
        PaymentStatus::Processing,
    );
    let error = service(mocks)
        .resume_placement(CUSTOMER, id, command(Some("tok_visa")))
        .await
        .expect_err("refused");
    assert!(matches!(
        error,
        PlaceOrderError::Store(StoreError::Internal(_))
    ));
}

#[tokio::test]
async fn resuming_a_payment_in_flight_charges_the_same_attempt_once() {
    let mut mocks = Mocks::new();
    let id = expect_get(
        &mut mocks,
        7,
        OrderStatus::Pending,
        PaymentStatus::Processing,
    );
    expect_one_capture(&mut mocks, id, 1);
    let outcome = service(mocks)
        .resume_payment(CUSTOMER, id, "tok_visa")
        .await
        .expect("paid");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn resuming_a_payment_of_a_paid_order_charges_nothing() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Paid, PaymentStatus::Captured);
    let outcome = service(mocks)
        .resume_payment(CUSTOMER, id, "tok_visa")
        .await
        .expect("paid");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

#[tokio::test]
async fn resuming_a_payment_that_failed_pays_as_a_first_request() {
    let mut mocks = Mocks::new();
    let id = expect_get(&mut mocks, 7, OrderStatus::Pending, PaymentStatus::Failed);
    expect_start_charge(&mut mocks);
    expect_one_capture(&mut mocks, id, 1);
    let outcome = service(mocks)
        .resume_payment(CUSTOMER, id, "tok_visa")
        .await
        .expect("paid");
    assert!(matches!(outcome, PlacementOutcome::Paid(_)), "{outcome:?}");
}

// ---- quote ----

fn a_quote() -> Quote {
    Quote {
        lines: vec![ports::QuoteLine {
            product_id: 12,
            sku: "SKU-12".into(),
            name: "Product 12".into(),
            quantity: 2,
            unit_price: 1000,
            line_total: 2000,
            available: 5,
        }],
        subtotal: 2000,
        shipping_amount: 500,
        tax_amount: 500,
        total_amount: 3000,
    }
}

#[tokio::test]
async fn quote_prices_through_the_store_with_the_settings_and_writes_nothing() {
    let mut mocks = Mocks::new();
    let rules = settings().pricing;
    mocks
        .orders
        .expect_quote()
        .withf(move |lines, country, r| {
            lines.len() == 1
                && lines[0].product_id == 12
                && lines[0].quantity == 2
                && country == "GB"
                && *r == rules
        })
        .times(1)
        .returning(|_, _, _| Ok(a_quote()));
    // No place, no charge, no status change: the mocks refuse any other call.
    let quote = service(mocks)
        .quote(CUSTOMER, &lines(), &address_input())
        .await
        .expect("quoted");
    assert_eq!(quote, a_quote());
}

#[tokio::test]
async fn quote_refuses_as_placement_does() {
    let mut bad = address_input();
    bad.country = "XYZ".into();
    match service(Mocks::new()).quote(CUSTOMER, &[], &bad).await {
        Err(PlaceOrderError::Validation(e)) => {
            assert_eq!(field_names(&e), ["items", "shipping_address.country"])
        }
        other => panic!("expected validation, got {other:?}"),
    }
    let mut mocks = Mocks::new();
    mocks.orders.expect_quote().returning(|_, _, _| {
        Err(PortPlaceOrderError::InsufficientStock(vec![Shortage {
            product_id: 12,
            first_index: 0,
            requested: 2,
            available: 1,
        }]))
    });
    assert!(matches!(
        service(mocks)
            .quote(CUSTOMER, &lines(), &address_input())
            .await,
        Err(PlaceOrderError::InsufficientStock(s)) if s[0].available == 1
    ));
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_quote()
        .returning(|_, _, _| Err(PortPlaceOrderError::Pricing(PricingError::Overflow)));
    assert_eq!(
        service(mocks)
            .quote(CUSTOMER, &lines(), &address_input())
            .await,
        Err(PlaceOrderError::PricingOverflow)
    );
}
