use std::sync::Arc;

use domain::InvalidTransition;
use mockall::predicate::eq;
use ports::{ChangeStatusError, PaymentError};
use uuid::Uuid;

use super::*;
use crate::test_support::{Mocks, NOW, SlowGateway, order, settings};

fn reconciler(mocks: Mocks) -> Reconciler {
    Reconciler::new(mocks.into_deps(), settings())
}

fn cutoff() -> time::OffsetDateTime {
    NOW - settings().pending_order_ttl
}

/// Charges attempted before this are asked about.
fn attempted_before() -> time::OffsetDateTime {
    NOW - time::Duration::try_from(settings().payment_timeout).unwrap()
}

/// A `PENDING` order with this payment status, created `minutes_ago`.
fn pending(payment: PaymentStatus, minutes_ago: i64) -> Order {
    let mut o = order(Uuid::now_v7(), 7, OrderStatus::Pending, payment);
    o.created_at = NOW - time::Duration::minutes(minutes_ago);
    o
}

fn expect_batch(mocks: &mut Mocks, batch: Vec<Order>) {
    mocks
        .orders
        .expect_pending_to_reconcile()
        .with(eq(cutoff()), eq(attempted_before()), eq(BATCH_SIZE))
        .times(1)
        .returning(move |_, _, _| Ok(batch.clone()));
    no_pending_refunds(mocks);
}

fn no_pending_refunds(mocks: &mut Mocks) {
    mocks
        .orders
        .expect_pending_refunds()
        .with(eq(attempted_before()), eq(BATCH_SIZE))
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
}

fn expect_expire(mocks: &mut Mocks, id: Uuid) {
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| {
            c.order_id == id
                && c.to == OrderStatus::Cancelled
                && c.actor.is_none()
                && c.note.as_deref() == Some(EXPIRED_NOTE)
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
}

#[tokio::test]
async fn processing_and_captured_becomes_paid() {
    let o = pending(PaymentStatus::Processing, 1);
    let id = o.id;
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![o]);
    mocks
        .payments
        .expect_lookup()
        .with(eq(id))
        .times(1)
        .returning(|_| {
            Ok(ChargeState::Captured {
                reference: "ch_9".into(),
            })
        });
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| {
            c.order_id == id
                && c.to == OrderStatus::Paid
                && c.actor.is_none()
                && c.payment_reference.as_deref() == Some("ch_9")
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
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            paid: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn processing_and_not_charged_becomes_failed_and_is_left_until_expiry() {
    let o = pending(PaymentStatus::Processing, 1);
    let id = o.id;
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![o]);
    mocks
        .payments
        .expect_lookup()
        .times(1)
        .returning(|_| Ok(ChargeState::NotCharged));
    mocks
        .orders
        .expect_set_payment_status()
        .withf(move |order_id, from, to| {
            *order_id == id && *from == [PaymentStatus::Processing] && *to == PaymentStatus::Failed
        })
        .times(1)
        .returning(|id, _, to| {
            let mut failed = order(id, 7, OrderStatus::Pending, to);
            failed.created_at = NOW - time::Duration::minutes(1);
            Ok(failed)
        });
    // Not expired yet: no change_status.
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            failed: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_charge_awaiting_the_customer_is_asked_again_until_its_ttl() {
    // Young: unresolved (asked again later), nothing changes.
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![pending(PaymentStatus::Processing, 1)]);
    mocks
        .payments
        .expect_lookup()
        .times(1)
        .returning(|_| Ok(ChargeState::Pending));
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            unresolved: 1,
            ..Default::default()
        }
    );

    // Past its TTL: it fails like a charge never made.
    let old = pending(PaymentStatus::Processing, 45);
    let id = old.id;
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![old]);
    mocks
        .payments
        .expect_lookup()
        .times(1)
        .returning(|_| Ok(ChargeState::Pending));
    mocks
        .orders
        .expect_set_payment_status()
        .withf(move |order_id, _, to| *order_id == id && *to == PaymentStatus::Failed)
        .times(1)
        .returning(|id, _, to| Ok(order(id, 7, OrderStatus::Pending, to)));
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(report.failed, 1);
}

#[tokio::test]
async fn processing_declined_and_past_its_ttl_fails_then_expires() {
    let o = pending(PaymentStatus::Processing, 45);
    let id = o.id;
    let created_at = o.created_at;
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![o]);
    mocks
        .payments
        .expect_lookup()
        .returning(|_| Ok(ChargeState::Declined));
    mocks
        .orders
        .expect_set_payment_status()
        .times(1)
        .returning(move |id, _, to| {
            let mut failed = order(id, 7, OrderStatus::Pending, to);
            failed.created_at = created_at;
            Ok(failed)
        });
    expect_expire(&mut mocks, id);
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            failed: 1,
            expired: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn processing_with_an_unreachable_provider_is_left_alone_even_when_old() {
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![pending(PaymentStatus::Processing, 120)]);
    mocks
        .payments
        .expect_lookup()
        .times(1)
        .returning(|_| Err(PaymentError::Provider("503".into())));
    // No change_status / set_payment_status: any call would panic.
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            unresolved: 1,
            ..Default::default()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_lookup_that_times_out_is_unresolved() {
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![pending(PaymentStatus::Processing, 1)]);
    let gateway = Arc::new(SlowGateway::new(std::time::Duration::from_secs(3600)));
    let reconciler = Reconciler::new(mocks.into_deps_with_gateway(Some(gateway)), settings());
    let report = reconciler.run_once().await.expect("ran");
    assert_eq!(report.unresolved, 1);
}

#[tokio::test]
async fn expired_unpaid_and_failed_orders_are_cancelled_with_a_note() {
    let unpaid = pending(PaymentStatus::Unpaid, 31);
    let failed = pending(PaymentStatus::Failed, 60);
    let fresh = pending(PaymentStatus::Unpaid, 29);
    let mut mocks = Mocks::new();
    expect_expire(&mut mocks, unpaid.id);
    expect_expire(&mut mocks, failed.id);
    expect_batch(&mut mocks, vec![unpaid, failed, fresh]);
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 3,
            expired: 2,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn one_orders_failure_does_not_stop_the_next() {
    let first = pending(PaymentStatus::Unpaid, 40);
    let second = pending(PaymentStatus::Unpaid, 40);
    let first_id = first.id;
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_change_status()
        .withf(move |c| c.order_id == first_id)
        .times(1)
        .returning(|_| {
            Err(ChangeStatusError::Store(StoreError::Internal(
                "deadlock".into(),
            )))
        });
    expect_expire(&mut mocks, second.id);
    expect_batch(&mut mocks, vec![first, second]);
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 2,
            expired: 1,
            errors: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn an_order_paid_meanwhile_is_skipped() {
    let o = pending(PaymentStatus::Unpaid, 40);
    let mut mocks = Mocks::new();
    expect_batch(&mut mocks, vec![o]);
    mocks.orders.expect_change_status().times(1).returning(|_| {
        Err(ChangeStatusError::InvalidTransition(InvalidTransition {
            from: OrderStatus::Paid,
            to: OrderStatus::Cancelled,
        }))
    });
    let report = reconciler(mocks).run_once().await.expect("ran");
    assert_eq!(
        report,
        ReconcileReport {
            examined: 1,
            skipped: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn failing_to_get_the_batch_is_an_error() {
    let mut mocks = Mocks::new();
    mocks
        .orders
        .expect_pending_to_reconcile()
        .returning(|_, _, _| Err(StoreError::Unavailable("pool".into())));
    assert_eq!(
        reconciler(mocks).run_once().await,
        Err(StoreError::Unavailable("pool".into()))
    );
}

// ---- when the next pass runs ----

fn horizon(unpaid_age: Option<i64>, processing_age_ms: Option<i64>) -> ReconcileHorizon {
    ReconcileHorizon {
        oldest_unpaid: unpaid_age.map(|s| NOW - time::Duration::seconds(s)),
        oldest_processing: processing_age_ms.map(|ms| NOW - time::Duration::milliseconds(ms)),
        oldest_pending_refund: None,
    }
}

/// With a 3 s payment timeout.
fn with_ttl(ttl: time::Duration) -> Reconciler {
    let mut settings = settings();
    settings.pending_order_ttl = ttl;
    settings.payment_timeout = Duration::from_secs(3);
    Reconciler::new(Mocks::new().into_deps(), settings)
}

#[test]
fn the_next_pass_is_when_the_oldest_unpaid_order_falls_due() {
    let mut patient = settings();
    patient.payment_timeout = Duration::from_secs(60);
    let r = Reconciler::new(Mocks::new().into_deps(), patient);
    // Created 29 min 50 s ago: due in 10 s.
    let sleep = r.sleep_for(horizon(Some(30 * 60 - 10), None), false);
    assert!(
        sleep >= Duration::from_secs(10) && sleep < Duration::from_millis(10_100),
        "{sleep:?}"
    );
    // Overdue (a backlog): as soon as allowed, never a busy loop.
    assert_eq!(r.sleep_for(horizon(Some(3600), None), false), MIN_SLEEP);
    // Nothing pending: the longest sleep.
    assert_eq!(r.sleep_for(horizon(None, None), false), MAX_SLEEP);
    // With a 3 s payment timeout: no longer than a charge or refund started meanwhile may wait.
    let r = with_ttl(time::Duration::minutes(30));
    assert_eq!(
        r.sleep_for(horizon(None, None), false),
        Duration::from_secs(3)
    );
}

#[test]
fn a_short_ttl_caps_the_sleep_at_half_of_it_so_new_orders_are_not_missed() {
    let r = with_ttl(time::Duration::seconds(5));
    assert_eq!(
        r.sleep_for(horizon(None, None), false),
        Duration::from_millis(2500)
    );
    // A 2 s TTL: at the one-second floor.
    let r = with_ttl(time::Duration::seconds(2));
    assert_eq!(r.sleep_for(horizon(None, None), false), MIN_SLEEP);
}

#[test]
fn a_charge_in_flight_is_due_once_the_payment_timeout_has_passed() {
    let r = with_ttl(time::Duration::hours(48));
    let timeout = Duration::from_secs(3);
    // Attempted just now: due after the payment timeout, not before (the sleep's cap is that
    // timeout too).
    let sleep = r.sleep_for(horizon(None, Some(0)), false);
    assert!(
        sleep >= timeout && sleep < timeout + Duration::from_millis(100),
        "{sleep:?}"
    );
    // Unresolved last time (the provider is down): asked again, but not at once.
    let overdue = i64::try_from(timeout.as_millis()).unwrap() * 2;
    assert_eq!(r.sleep_for(horizon(None, Some(overdue)), true), RETRY_SLEEP);
}
