use std::time::Duration;

use adapters_postgres::SimulatedPaymentGateway;
use ports::{ChargeOutcome, ChargeRequest, ChargeState, PaymentError, PaymentGateway};
use uuid::Uuid;

use crate::support::ctx;

fn request(token: &str) -> ChargeRequest {
    ChargeRequest {
        order_id: Uuid::now_v7(),
        attempt: 1,
        token: token.into(),
        amount: 2500,
        currency: "USD".into(),
    }
}

#[tokio::test]
async fn test_tokens_behave_like_a_card_processor() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));

    let visa = request("tok_visa");
    let reference = match gateway.charge(&visa).await.unwrap() {
        ChargeOutcome::Captured { reference } => reference,
        other => panic!("expected captured, got {other:?}"),
    };
    assert!(reference.starts_with("sim_"));
    assert_eq!(
        gateway.lookup(visa.order_id).await.unwrap(),
        ChargeState::Captured {
            reference: reference.clone()
        }
    );
    // A repeated charge of the same order replays the first outcome, even with another token.
    let again = ChargeRequest {
        token: "tok_chargeDeclined".into(),
        ..visa.clone()
    };
    assert_eq!(
        gateway.charge(&again).await.unwrap(),
        ChargeOutcome::Captured {
            reference: reference.clone()
        }
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM simulated_charges").await,
        1
    );

    for token in ["tok_chargeDeclined", "tok_unknown_card"] {
        let declined = request(token);
        assert!(matches!(
            gateway.charge(&declined).await.unwrap(),
            ChargeOutcome::Declined { .. }
        ));
        assert_eq!(
            gateway.lookup(declined.order_id).await.unwrap(),
            ChargeState::Declined
        );
    }

    let error = request("tok_error");
    assert!(matches!(
        gateway.charge(&error).await,
        Err(PaymentError::Provider(_))
    ));
    assert_eq!(
        gateway.lookup(error.order_id).await.unwrap(),
        ChargeState::NotCharged
    );
}

#[tokio::test]
async fn a_declined_charge_may_be_retried_with_another_card_as_the_next_attempt() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));
    let declined = request("tok_chargeDeclined");
    assert!(matches!(
        gateway.charge(&declined).await.unwrap(),
        ChargeOutcome::Declined { .. }
    ));
    // The same attempt again (a retried request) replays the decline, whatever the card.
    let replayed = ChargeRequest {
        token: "tok_visa".into(),
        ..declined.clone()
    };
    assert!(matches!(
        gateway.charge(&replayed).await.unwrap(),
        ChargeOutcome::Declined { .. }
    ));
    let retry = ChargeRequest {
        token: "tok_visa".into(),
        attempt: 2,
        ..declined.clone()
    };
    assert!(matches!(
        gateway.charge(&retry).await.unwrap(),
        ChargeOutcome::Captured { .. }
    ));
    assert!(matches!(
        gateway.lookup(declined.order_id).await.unwrap(),
        ChargeState::Captured { .. }
    ));
    // Once captured, no attempt charges again.
    let third = ChargeRequest {
        attempt: 3,
        ..retry.clone()
    };
    assert_eq!(
        gateway.charge(&third).await.unwrap(),
        gateway.charge(&retry).await.unwrap()
    );
    assert_eq!(
        c.count("SELECT count(*) AS n FROM simulated_charges WHERE attempt = 2")
            .await,
        1
    );
}

#[tokio::test]
async fn timeout_token_is_charged_but_answers_after_the_callers_timeout() {
    let c = ctx().await;
    let timeout = Duration::from_millis(100);
    let gateway = SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, timeout);
    let slow = request("tok_timeout");
    let answer = tokio::time::timeout(timeout, gateway.charge(&slow)).await;
    assert!(answer.is_err(), "the caller's timeout must run out first");
    // The charge happened nonetheless: the reconciler will find it.
    assert!(matches!(
        gateway.lookup(slow.order_id).await.unwrap(),
        ChargeState::Captured { .. }
    ));
}

#[tokio::test]
async fn refund_is_idempotent() {
    let c = ctx().await;
    let gateway =
        SimulatedPaymentGateway::new(c.pool.clone(), Duration::ZERO, Duration::from_millis(50));
    let visa = request("tok_visa");
    gateway.charge(&visa).await.unwrap();
    gateway.refund(visa.order_id).await.unwrap();
    gateway.refund(visa.order_id).await.unwrap();
    assert_eq!(
        gateway.lookup(visa.order_id).await.unwrap(),
        ChargeState::Refunded
    );
    // Refunding an order that was never charged is a no-op.
    gateway.refund(Uuid::now_v7()).await.unwrap();
}
