//! The simulated provider's refunds: once per refund id, refused or hung by the card the order
//! was charged with, and what it knows of a refund afterwards.

use std::time::Duration;

use adapters_postgres::SimulatedPaymentGateway;
use ports::{
    ChargeOutcome, ChargeRequest, PaymentGateway, RefundOutcome, RefundRequest, RefundState,
};
use uuid::Uuid;

use crate::support::{Ctx, ctx};

/// Charges a new order 5000 cents with `token`; answers its id.
async fn charged(gateway: &SimulatedPaymentGateway, token: &str) -> Uuid {
    let request = ChargeRequest {
        order_id: Uuid::now_v7(),
        attempt: 1,
        token: token.into(),
        amount: 5000,
        currency: "USD".into(),
    };
    assert!(matches!(
        gateway.charge(&request).await.unwrap(),
        ChargeOutcome::Captured { .. }
    ));
    request.order_id
}

fn refund_of(order_id: Uuid, amount: i64) -> RefundRequest {
    RefundRequest {
        refund_id: Uuid::now_v7(),
        order_id,
        amount,
        currency: "USD".into(),
    }
}

async fn rows(c: &Ctx, refund_id: Uuid) -> i64 {
    c.count(&format!(
        "SELECT count(*) AS n FROM simulated_refunds WHERE refund_id = '{refund_id}'"
    ))
    .await
}

#[tokio::test]
async fn a_refund_is_made_once_per_refund_id() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));
    let order_id = charged(&gateway, "tok_visa").await;

    let first = refund_of(order_id, 1200);
    let reference = match gateway.refund_amount(&first).await.unwrap() {
        RefundOutcome::Refunded { reference } => reference,
        other => panic!("expected refunded, got {other:?}"),
    };
    assert!(reference.starts_with("simre_"), "{reference}");
    // The same id again (a retry, even with another amount): the first outcome, nothing more.
    for again in [
        first.clone(),
        RefundRequest {
            amount: 99,
            ..first.clone()
        },
    ] {
        assert_eq!(
            gateway.refund_amount(&again).await.unwrap(),
            RefundOutcome::Refunded {
                reference: reference.clone()
            }
        );
    }
    assert_eq!(rows(&c, first.refund_id).await, 1);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM simulated_refunds WHERE refund_id = '{}' \
               AND amount = 1200 AND status = 'succeeded' AND order_id = '{order_id}'",
            first.refund_id
        ))
        .await,
        1
    );
    assert_eq!(
        gateway.refund_state(first.refund_id).await.unwrap(),
        RefundState::Refunded {
            reference: reference.clone()
        }
    );

    // Another refund of the same order is another refund.
    let second = refund_of(order_id, 300);
    let other = match gateway.refund_amount(&second).await.unwrap() {
        RefundOutcome::Refunded { reference } => reference,
        other => panic!("expected refunded, got {other:?}"),
    };
    assert_ne!(other, reference);
    assert_eq!(
        c.count("SELECT count(*) AS n FROM simulated_refunds").await,
        2
    );
}

#[tokio::test]
async fn an_order_charged_with_tok_refund_fails_is_refused() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));
    let order_id = charged(&gateway, "tok_refund_fails").await;
    let refund = refund_of(order_id, 1000);
    for _ in 0..2 {
        assert!(matches!(
            gateway.refund_amount(&refund).await.unwrap(),
            RefundOutcome::Refused { .. }
        ));
    }
    assert_eq!(rows(&c, refund.refund_id).await, 1);
    assert_eq!(
        gateway.refund_state(refund.refund_id).await.unwrap(),
        RefundState::Refused
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) AS n FROM simulated_refunds WHERE refund_id = '{}' \
               AND status = 'refused' AND reference IS NULL",
            refund.refund_id
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_refund_without_a_captured_charge_is_refused() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));

    // Never charged.
    let never = refund_of(Uuid::now_v7(), 1000);
    assert!(matches!(
        gateway.refund_amount(&never).await.unwrap(),
        RefundOutcome::Refused { .. }
    ));
    assert_eq!(
        gateway.refund_state(never.refund_id).await.unwrap(),
        RefundState::Refused
    );

    // Declined.
    let declined = ChargeRequest {
        order_id: Uuid::now_v7(),
        attempt: 1,
        token: "tok_chargeDeclined".into(),
        amount: 5000,
        currency: "USD".into(),
    };
    gateway.charge(&declined).await.unwrap();
    let of_declined = refund_of(declined.order_id, 1000);
    assert!(matches!(
        gateway.refund_amount(&of_declined).await.unwrap(),
        RefundOutcome::Refused { .. }
    ));
    assert_eq!(
        gateway.refund_state(of_declined.refund_id).await.unwrap(),
        RefundState::Refused
    );

    // Refunded as a whole already.
    let order_id = charged(&gateway, "tok_visa").await;
    gateway.refund(order_id).await.unwrap();
    let after_full = refund_of(order_id, 1000);
    assert!(matches!(
        gateway.refund_amount(&after_full).await.unwrap(),
        RefundOutcome::Refused { .. }
    ));
    assert_eq!(
        gateway.refund_state(after_full.refund_id).await.unwrap(),
        RefundState::Refused
    );
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM simulated_refunds WHERE status = 'refused' \
               AND reference IS NULL"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn tok_refund_timeout_refunds_but_answers_after_the_callers_timeout() {
    let c = ctx().await;
    let timeout = Duration::from_millis(200);
    let gateway = SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, timeout);
    let order_id = charged(&gateway, "tok_refund_timeout").await;
    let refund = refund_of(order_id, 1000);
    let answer = tokio::time::timeout(timeout, gateway.refund_amount(&refund)).await;
    assert!(answer.is_err(), "the caller's timeout must run out first");
    // The refund was made nonetheless: the reconciler finds it.
    let reference = match gateway.refund_state(refund.refund_id).await.unwrap() {
        RefundState::Refunded { reference } => reference,
        other => panic!("expected refunded, got {other:?}"),
    };
    assert!(reference.starts_with("simre_"));
    assert_eq!(rows(&c, refund.refund_id).await, 1);
    // Waited out, a retry answers with the same refund.
    let retried = tokio::time::timeout(
        timeout + Duration::from_secs(5),
        gateway.refund_amount(&refund),
    )
    .await
    .expect("answers after the hang");
    assert_eq!(retried.unwrap(), RefundOutcome::Refunded { reference });
    assert_eq!(rows(&c, refund.refund_id).await, 1);
}

#[tokio::test]
async fn the_state_of_an_unknown_refund_is_not_refunded() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));
    assert_eq!(
        gateway.refund_state(Uuid::now_v7()).await.unwrap(),
        RefundState::NotRefunded
    );
    // Not even one of an order that was charged and refunded under another id.
    let order_id = charged(&gateway, "tok_visa").await;
    gateway
        .refund_amount(&refund_of(order_id, 100))
        .await
        .unwrap();
    assert_eq!(
        gateway.refund_state(Uuid::now_v7()).await.unwrap(),
        RefundState::NotRefunded
    );
}
