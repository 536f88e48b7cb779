//! Counts order outcomes (`oms_orders_total{outcome}`) where they really happen: at the order
//! repository (committed changes) and at the payment gateway (a provider's answer), by wrapping
//! the two ports. Every path is covered this way — placement, payment later, the owner's and the
//! admin's cancels, and the reconciler — without the handlers or the use cases knowing about
//! metrics.
//!
//! | outcome | counted when |
//! |---|---|
//! | `placed` | an order is created |
//! | `paid` | an order moves to `PAID` (at once, or found captured by the reconciler) |
//! | `processing` | a charge got no answer in time, or the provider failed: the outcome is unknown |
//! | `declined` | the provider declined a charge |
//! | `cancelled` | an order moves to `CANCELLED` by its owner or an admin |
//! | `expired` | the reconciler cancels an unpaid order past `PENDING_ORDER_TTL` |
//!
//! The system's cancel of an order whose charge was declined at placement is counted as
//! `declined` only (not `cancelled` too).

use std::sync::Arc;

use async_trait::async_trait;
use domain::{OrderStatus, PaymentStatus};
use ports::{
    ChangeStatusError, ChargeOutcome, ChargeRequest, ChargeState, NewOrder, NewShipment, Order,
    OrderCursor, OrderFilter, OrderRepository, PaymentError, PaymentGateway, PaymentUpdateError,
    PlaceOrderError, ReconcileHorizon, ShipError, Shipment, StatusChange, StoreError, StoredEvent,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::metrics::Metrics;

/// Wraps `deps.orders` and `deps.payments` so that their outcomes are counted in `metrics`.
pub fn count_outcomes(deps: &mut app::Deps, metrics: &Arc<Metrics>) {
    deps.orders = Arc::new(CountingOrders {
        inner: deps.orders.clone(),
        metrics: metrics.clone(),
    });
    deps.payments = Arc::new(CountingGateway {
        inner: deps.payments.clone(),
        metrics: metrics.clone(),
    });
}

/// The order repository, counting `placed`, `paid`, `cancelled` and `expired`.
pub struct CountingOrders {
    inner: Arc<dyn OrderRepository>,
    metrics: Arc<Metrics>,
}

/// What a committed status change counts as, if anything.
fn outcome_of(change: &StatusChange) -> Option<&'static str> {
    match change.to {
        OrderStatus::Paid => Some("paid"),
        OrderStatus::Cancelled if change.actor.is_some() => Some("cancelled"),
        OrderStatus::Cancelled if change.note.as_deref() == Some(app::reconcile::EXPIRED_NOTE) => {
            Some("expired")
        }
        // The system's cancel after a declined charge: counted as `declined` at the gateway.
        OrderStatus::Cancelled if change.note.as_deref() == Some(app::orders::DECLINED_NOTE) => {
            None
        }
        OrderStatus::Cancelled => Some("cancelled"),
        _ => None,
    }
}

#[async_trait]
impl OrderRepository for CountingOrders {
    async fn place(&self, order: &NewOrder) -> Result<Order, PlaceOrderError> {
        let placed = self.inner.place(order).await?;
        self.metrics.order_outcome("placed");
        Ok(placed)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        self.inner.get(id).await
    }

    async fn quote(
        &self,
        lines: &[domain::OrderLine],
        country: &str,
        rules: &domain::PricingRules,
    ) -> Result<ports::Quote, PlaceOrderError> {
        self.inner.quote(lines, country, rules).await
    }

    async fn change_status(&self, change: &StatusChange) -> Result<Order, ChangeStatusError> {
        let order = self.inner.change_status(change).await?;
        if let Some(outcome) = outcome_of(change) {
            self.metrics.order_outcome(outcome);
        }
        Ok(order)
    }

    async fn set_payment_status(
        &self,
        order_id: Uuid,
        from: Vec<PaymentStatus>,
        to: PaymentStatus,
    ) -> Result<Order, PaymentUpdateError> {
        self.inner.set_payment_status(order_id, from, to).await
    }

    async fn list_for_user(
        &self,
        user_id: i64,
        status: Option<OrderStatus>,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        self.inner
            .list_for_user(user_id, status, after, limit)
            .await
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        self.inner.list(filter, after, limit).await
    }

    async fn history(&self, order_id: Uuid) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.history(order_id).await
    }

    async fn pending_to_reconcile(
        &self,
        created_before: OffsetDateTime,
        attempted_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Order>, StoreError> {
        self.inner
            .pending_to_reconcile(created_before, attempted_before, limit)
            .await
    }

    async fn reconcile_horizon(&self) -> Result<ReconcileHorizon, StoreError> {
        self.inner.reconcile_horizon().await
    }

    async fn ship(&self, shipment: &NewShipment) -> Result<(Order, Shipment), ShipError> {
        self.inner.ship(shipment).await
    }

    async fn shipment(&self, order_id: Uuid, id: Uuid) -> Result<Option<Shipment>, StoreError> {
        self.inner.shipment(order_id, id).await
    }

    async fn reserve_refund(
        &self,
        refund: &ports::NewRefund,
    ) -> Result<ports::Refund, ports::RefundError> {
        self.inner.reserve_refund(refund).await
    }

    async fn settle_refund(
        &self,
        refund_id: Uuid,
        settlement: &ports::RefundSettlement,
    ) -> Result<(Order, ports::Refund), StoreError> {
        self.inner.settle_refund(refund_id, settlement).await
    }

    async fn refund(&self, id: Uuid) -> Result<Option<ports::Refund>, StoreError> {
        self.inner.refund(id).await
    }

    async fn pending_refunds(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ports::Refund>, StoreError> {
        self.inner.pending_refunds(before, limit).await
    }

    async fn apply_payment_notice(
        &self,
        event_id: &str,
        event_type: &str,
        notice: &ports::PaymentNotice,
    ) -> Result<ports::ProviderEventOutcome, StoreError> {
        let outcome = self
            .inner
            .apply_payment_notice(event_id, event_type, notice)
            .await?;
        if outcome == ports::ProviderEventOutcome::Applied
            && matches!(notice, ports::PaymentNotice::Captured { .. })
        {
            self.metrics.order_outcome("paid");
        }
        Ok(outcome)
    }

    async fn add_note(
        &self,
        note: &ports::NewNote,
    ) -> Result<ports::OrderNote, ports::AddNoteError> {
        self.inner.add_note(note).await
    }

    async fn notes(&self, order_id: Uuid) -> Result<Vec<ports::OrderNote>, StoreError> {
        self.inner.notes(order_id).await
    }
}

/// The payment gateway, counting `declined` and `processing` (no answer in time, or a failure).
pub struct CountingGateway {
    inner: Arc<dyn PaymentGateway>,
    metrics: Arc<Metrics>,
}

/// Counts `processing` when dropped before it is disarmed: the caller's timeout dropped the
/// charge while it waited for the provider.
struct UnansweredCharge<'a> {
    metrics: &'a Metrics,
    armed: bool,
}

impl Drop for UnansweredCharge<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.metrics.order_outcome("processing");
        }
    }
}

#[async_trait]
impl PaymentGateway for CountingGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        let mut unanswered = UnansweredCharge {
            metrics: &self.metrics,
            armed: true,
        };
        let outcome = self.inner.charge(request).await;
        match &outcome {
            Ok(ChargeOutcome::Declined { .. }) => {
                unanswered.armed = false;
                self.metrics.order_outcome("declined");
            }
            Ok(ChargeOutcome::Captured { .. }) => unanswered.armed = false,
            // Answered 202 `processing` until the customer authenticates it.
            Ok(ChargeOutcome::RequiresAction { .. }) => {}
            // A provider failure: the outcome is unknown, the guard counts it.
            Err(_) => {}
        }
        outcome
    }

    async fn lookup(&self, order_id: Uuid) -> Result<ChargeState, PaymentError> {
        self.inner.lookup(order_id).await
    }

    async fn refund(&self, order_id: Uuid) -> Result<(), PaymentError> {
        self.inner.refund(order_id).await
    }

    async fn refund_amount(
        &self,
        request: &ports::RefundRequest,
    ) -> Result<ports::RefundOutcome, PaymentError> {
        self.inner.refund_amount(request).await
    }

    async fn refund_state(&self, refund_id: Uuid) -> Result<ports::RefundState, PaymentError> {
        self.inner.refund_state(refund_id).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use domain::Role;
    use ports::{Actor, MockPaymentGateway};

    use super::*;

    #[test]
    fn status_changes_map_to_outcomes() {
        let id = Uuid::now_v7();
        let mut change = StatusChange::new(id, OrderStatus::Paid);
        assert_eq!(outcome_of(&change), Some("paid"));
        change.to = OrderStatus::Cancelled;
        change.note = Some(app::reconcile::EXPIRED_NOTE.into());
        assert_eq!(outcome_of(&change), Some("expired"));
        change.note = Some(app::orders::DECLINED_NOTE.into());
        assert_eq!(outcome_of(&change), None);
        change.actor = Some(Actor {
            id: 1,
            role: Role::Admin,
        });
        change.note = Some("expired".into());
        assert_eq!(outcome_of(&change), Some("cancelled"), "an admin's note");
        change.to = OrderStatus::Fulfilled;
        assert_eq!(outcome_of(&change), None);
    }

    fn request() -> ChargeRequest {
        ChargeRequest {
            order_id: Uuid::now_v7(),
            attempt: 1,
            token: "tok".into(),
            amount: 1,
            currency: "USD".into(),
        }
    }

    #[tokio::test]
    async fn declines_failures_and_timeouts_are_counted() {
        let metrics = Arc::new(Metrics::default());
        let mut inner = MockPaymentGateway::new();
        let mut answers = vec![
            Ok(ChargeOutcome::Captured {
                reference: "r".into(),
            }),
            Ok(ChargeOutcome::Declined {
                reason: "no".into(),
            }),
            Err(PaymentError::Provider("down".into())),
        ]
        .into_iter();
        inner
            .expect_charge()
            .times(3)
            .returning(move |_| answers.next().unwrap_or(Err(PaymentError::Timeout)));
        let gateway = CountingGateway {
            inner: Arc::new(inner),
            metrics: metrics.clone(),
        };
        for _ in 0..3 {
            let _ = gateway.charge(&request()).await;
        }
        assert_eq!(metrics.order_count("declined"), 1);
        assert_eq!(metrics.order_count("processing"), 1);

        struct Silent;
        #[async_trait]
        impl PaymentGateway for Silent {
            async fn charge(&self, _: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
                std::future::pending().await
            }
            async fn lookup(&self, _: Uuid) -> Result<ChargeState, PaymentError> {
                Ok(ChargeState::NotCharged)
            }
            async fn refund(&self, _: Uuid) -> Result<(), PaymentError> {
                Ok(())
            }
            async fn refund_amount(
                &self,
                _: &ports::RefundRequest,
            ) -> Result<ports::RefundOutcome, PaymentError> {
                std::future::pending().await
            }
            async fn refund_state(&self, _: Uuid) -> Result<ports::RefundState, PaymentError> {
                Ok(ports::RefundState::NotRefunded)
            }
        }
        let silent = CountingGateway {
            inner: Arc::new(Silent),
            metrics: metrics.clone(),
        };
        let result = app::payments::charge(&silent, &request(), Duration::from_millis(20)).await;
        assert!(matches!(result, app::payments::ChargeResult::Unknown(_)));
        assert_eq!(metrics.order_count("processing"), 2, "the timeout counts");
    }
}
