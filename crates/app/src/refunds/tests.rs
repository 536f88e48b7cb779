use domain::{ExceedsRefundable, Restock};
use mockall::predicate::eq;
use ports::PaymentError;
use time::macros::datetime;

use super::*;
use crate::test_support::{ADMIN, Mocks, audit_context, order, settings};
use domain::{OrderStatus, PaymentStatus};

fn service(mocks: Mocks) -> RefundService {
    RefundService::new(mocks.into_deps(), settings())
}

fn command(order_id: Uuid) -> RefundCommand {
    RefundCommand {
        order_id,
        items: Some(vec![RefundItem {
            product_id: 12,
            quantity: 1,
            restock: Restock::Return,
        }]),
        shipping: false,
        amount: None,
        reason: "broken on arrival".into(),
        expected_version: None,
    }
}

fn reserved(id: Uuid, order_id: Uuid, amount: i64) -> Refund {
    Refund {
        id,
        order_id,
        amount,
        items: vec![RefundItem {
            product_id: 12,
            quantity: 1,
            restock: Restock::Return,
        }],
        shipping: false,
        reason: "broken on arrival".into(),
        status: RefundStatus::Pending,
        created_at: datetime!(2026-11-25 10:00 UTC),
    }
}

fn expect_reserve(mocks: &mut Mocks, amount: i64) {
    mocks
        .orders
        .expect_reserve_refund()
        .times(1)
        .returning(move |n| Ok(reserved(n.id, n.order_id, amount)));
}

fn expect_settle(mocks: &mut Mocks, succeeded: bool) {
    mocks
        .orders
        .expect_settle_refund()
        .withf(move |_, s| matches!(s, RefundSettlement::Succeeded { .. }) == succeeded)
        .times(1)
        .returning(move |id, _| {
            let mut refund = reserved(id, Uuid::nil(), 1200);
            refund.status = if succeeded {
                RefundStatus::Succeeded
            } else {
                RefundStatus::Failed
            };
            Ok((
                order(
                    Uuid::nil(),
                    7,
                    OrderStatus::Paid,
                    PaymentStatus::PartiallyRefunded,
                ),
                refund,
            ))
        });
}

#[tokio::test]
async fn a_refund_the_provider_makes_is_settled_succeeded() {
    let mut mocks = Mocks::new();
    let refund_id = Uuid::now_v7();
    expect_reserve(&mut mocks, 1200);
    mocks
        .payments
        .expect_refund_amount()
        .withf(move |r| r.refund_id == refund_id && r.amount == 1200 && r.currency == "USD")
        .times(1)
        .returning(|_| {
            Ok(RefundOutcome::Refunded {
                reference: "re_1".into(),
            })
        });
    expect_settle(&mut mocks, true);
    let result = service(mocks)
        .refund(ADMIN, refund_id, command(Uuid::now_v7()), &audit_context())
        .await
        .expect("refunded");
    assert!(
        matches!(result, RefundResult::Succeeded { ref refund, .. } if refund.status == RefundStatus::Succeeded)
    );
}

#[tokio::test]
async fn a_refused_refund_is_settled_failed_and_named() {
    let mut mocks = Mocks::new();
    let refund_id = Uuid::now_v7();
    expect_reserve(&mut mocks, 1200);
    mocks
        .payments
        .expect_refund_amount()
        .times(1)
        .returning(|_| {
            Ok(RefundOutcome::Refused {
                reason: "no".into(),
            })
        });
    expect_settle(&mut mocks, false);
    let error = service(mocks)
        .refund(ADMIN, refund_id, command(Uuid::now_v7()), &audit_context())
        .await
        .expect_err("refused");
    assert_eq!(error, RefundOrderError::Failed { refund_id });
}

#[tokio::test]
async fn an_unanswered_refund_stays_pending_and_nothing_is_settled() {
    let mut mocks = Mocks::new();
    expect_reserve(&mut mocks, 1200);
    mocks
        .payments
        .expect_refund_amount()
        .times(1)
        .returning(|_| Err(PaymentError::Timeout));
    let result = service(mocks)
        .refund(
            ADMIN,
            Uuid::now_v7(),
            command(Uuid::now_v7()),
            &audit_context(),
        )
        .await
        .expect("pending");
    assert!(
        matches!(result, RefundResult::Pending { ref refund } if refund.status == RefundStatus::Pending)
    );
}

#[tokio::test]
async fn a_refund_of_nothing_owed_skips_the_provider() {
    let mut mocks = Mocks::new();
    expect_reserve(&mut mocks, 0);
    expect_settle(&mut mocks, true);
    let result = service(mocks)
        .refund(
            ADMIN,
            Uuid::now_v7(),
            command(Uuid::now_v7()),
            &audit_context(),
        )
        .await
        .expect("settled");
    assert!(matches!(result, RefundResult::Succeeded { .. }));
}

#[tokio::test]
async fn store_refusals_map_to_their_errors() {
    let refusals = [
        (RefundError::NotFound, RefundOrderError::NotFound),
        (RefundError::NotRefundable, RefundOrderError::NotRefundable),
        (
            RefundError::ShippingRefunded,
            RefundOrderError::ShippingRefunded,
        ),
        (
            RefundError::ExceedsCaptured { remaining: 5 },
            RefundOrderError::ExceedsCaptured { remaining: 5 },
        ),
        (
            RefundError::ExceedsRefundable(vec![ExceedsRefundable {
                index: 0,
                product_id: 12,
                refundable: 0,
            }]),
            RefundOrderError::ExceedsRefundable(vec![ExceedsRefundable {
                index: 0,
                product_id: 12,
                refundable: 0,
            }]),
        ),
        (
            RefundError::PreconditionFailed,
            RefundOrderError::PreconditionFailed,
        ),
    ];
    for (refusal, expected) in refusals {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_reserve_refund()
            .times(1)
            .returning(move |_| Err(refusal.clone()));
        let got = service(mocks)
            .refund(
                ADMIN,
                Uuid::now_v7(),
                command(Uuid::now_v7()),
                &audit_context(),
            )
            .await
            .expect_err("refused");
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn bad_commands_name_their_fields_and_reserve_nothing() {
    let cases: Vec<(RefundCommand, &str)> = vec![
        (
            RefundCommand {
                items: None,
                ..command(Uuid::now_v7())
            },
            "items",
        ),
        (
            RefundCommand {
                amount: Some(100),
                ..command(Uuid::now_v7())
            },
            "amount",
        ),
        (
            RefundCommand {
                items: None,
                amount: Some(0),
                ..command(Uuid::now_v7())
            },
            "amount",
        ),
        (
            RefundCommand {
                items: Some(Vec::new()),
                ..command(Uuid::now_v7())
            },
            "items",
        ),
        (
            RefundCommand {
                reason: " ".into(),
                ..command(Uuid::now_v7())
            },
            "reason",
        ),
        (
            RefundCommand {
                items: Some(vec![RefundItem {
                    product_id: 12,
                    quantity: 0,
                    restock: Restock::Cancel,
                }]),
                ..command(Uuid::now_v7())
            },
            "items[0].quantity",
        ),
    ];
    for (cmd, field) in cases {
        let Err(RefundOrderError::Validation(errors)) = service(Mocks::new())
            .refund(ADMIN, Uuid::now_v7(), cmd, &audit_context())
            .await
        else {
            panic!("expected a validation error on {field}");
        };
        assert!(
            errors.0.iter().any(|e| e.field == field),
            "{field}: {errors:?}"
        );
    }
}

#[tokio::test]
async fn the_reconciler_settles_what_the_provider_knows_and_remakes_what_it_never_got() {
    // Refunded at the provider: settled succeeded, nothing asked again.
    let mut mocks = Mocks::new();
    let id = Uuid::now_v7();
    mocks
        .payments
        .expect_refund_state()
        .with(eq(id))
        .times(1)
        .returning(|_| {
            Ok(RefundState::Refunded {
                reference: "re_9".into(),
            })
        });
    expect_settle(&mut mocks, true);
    assert!(
        service(mocks)
            .reconcile(reserved(id, Uuid::nil(), 1200))
            .await
            .expect("ok")
    );

    // Never reached the provider: made now, under the same key.
    let mut mocks = Mocks::new();
    mocks
        .payments
        .expect_refund_state()
        .times(1)
        .returning(|_| Ok(RefundState::NotRefunded));
    mocks
        .payments
        .expect_refund_amount()
        .withf(move |r| r.refund_id == id)
        .times(1)
        .returning(|_| {
            Ok(RefundOutcome::Refunded {
                reference: "re_10".into(),
            })
        });
    expect_settle(&mut mocks, true);
    assert!(
        service(mocks)
            .reconcile(reserved(id, Uuid::nil(), 1200))
            .await
            .expect("ok")
    );

    // The provider still cannot tell: left pending.
    let mut mocks = Mocks::new();
    mocks
        .payments
        .expect_refund_state()
        .times(1)
        .returning(|_| Err(PaymentError::Timeout));
    assert!(
        !service(mocks)
            .reconcile(reserved(id, Uuid::nil(), 1200))
            .await
            .expect("ok")
    );
}

#[tokio::test]
async fn the_reservation_carries_the_admins_audit_entry_and_nothing_else_records_one() {
    let mut mocks = Mocks::new();
    let order_id = Uuid::now_v7();
    let expected = ports::AuditEntry {
        action: "order.refunded".into(),
        actor: Some(ADMIN),
        target: Some(ports::AuditTarget::new("order", order_id)),
        changes: None,
        request_id: Some("req-audit".into()),
        client_ip: Some("203.0.113.9".into()),
    };
    mocks
        .orders
        .expect_reserve_refund()
        .withf(move |n| n.audit.as_ref() == Some(&expected))
        .times(1)
        .returning(|n| Ok(reserved(n.id, n.order_id, 1200)));
    mocks
        .payments
        .expect_refund_amount()
        .times(1)
        .returning(|_| {
            Ok(RefundOutcome::Refunded {
                reference: "re_1".into(),
            })
        });
    // The settlement is the provider's answer, not an admin's write: no entry (the mock audit
    // log has no expectation, so a `record` would panic).
    expect_settle(&mut mocks, true);
    service(mocks)
        .refund(ADMIN, Uuid::now_v7(), command(order_id), &audit_context())
        .await
        .expect("refunded");
}
