//! The payment provider's notifications (webhooks): read and checked by the provider's adapter
//! (signature first, then the object asked of the provider again), then trusted only for a charge
//! this server made for that order (the id recorded for it, the order its metadata names, the
//! amount and currency of the order) or a refund this server asked for (its id in the metadata, its
//! amount, the charge of its order), and applied once per event id.

use std::sync::Arc;

use ports::{
    ChargeRecords, ChargeState, PaymentEvents, PaymentNotice, ProviderEvent, ProviderEventError,
    ProviderEventOutcome, ProviderFact, ProviderRefund, StoreError,
};

use crate::Deps;

/// The charge event types acted on.
pub const CHARGE_SUCCEEDED: &str = "payment_intent.succeeded";
pub const CHARGE_FAILED: &str = "payment_intent.payment_failed";

/// What receiving one notification came to (each answered 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The order or refund changed.
    Applied,
    /// The event was applied before: nothing changed.
    Replayed,
    /// The order or refund is past what the event speaks of: nothing changed.
    Unchanged,
    /// Not acted on (another type, or about something this server did not make), with why.
    Ignored(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Event(#[from] ProviderEventError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct PaymentEventService {
    deps: Deps,
    events: Arc<dyn PaymentEvents>,
    records: Arc<dyn ChargeRecords>,
    /// One call to the provider, at most (`PAYMENT_TIMEOUT_MS`).
    payment_timeout: std::time::Duration,
}

impl PaymentEventService {
    pub fn new(
        deps: Deps,
        settings: &crate::AppSettings,
        events: Arc<dyn PaymentEvents>,
        records: Arc<dyn ChargeRecords>,
    ) -> PaymentEventService {
        PaymentEventService {
            deps,
            events,
            records,
            payment_timeout: settings.payment_timeout,
        }
    }

    /// Reads, checks and applies one notification.
    #[tracing::instrument(skip_all)]
    pub async fn receive(
        &self,
        signature: Option<String>,
        body: Vec<u8>,
    ) -> Result<Received, ReceiveError> {
        let event = self.events.read(signature, body).await?;
        tracing::info!(event_id = %event.id, event_type = %event.kind, "payment provider event");
        let received = match &event.fact {
            ProviderFact::Ignored => Received::Ignored("type not acted on"),
            ProviderFact::Charge { .. } => self.charge_event(&event).await?,
            ProviderFact::Refunds {
                charge_provider_id,
                refunds,
            } => {
                self.refund_event(&event, charge_provider_id, refunds)
                    .await?
            }
        };
        tracing::info!(event_id = %event.id, ?received, "payment provider event handled");
        Ok(received)
    }

    async fn charge_event(&self, event: &ProviderEvent) -> Result<Received, StoreError> {
        let ProviderFact::Charge {
            provider_id,
            order_id,
            state,
            amount,
            currency,
        } = &event.fact
        else {
            return Ok(Received::Ignored("not a charge"));
        };
        let Some(record) = self.records.find(provider_id).await? else {
            return Ok(Received::Ignored("a charge this server did not make"));
        };
        if *order_id != Some(record.order_id) {
            return Ok(Received::Ignored("the charge names another order"));
        }
        let Some(order) = self.deps.orders.get(record.order_id).await? else {
            return Ok(Received::Ignored("no such order"));
        };
        if *amount != order.total_amount || !currency.eq_ignore_ascii_case(&order.currency) {
            tracing::warn!(order_id = %order.id, "a charge event disagrees with its order");
            return Ok(Received::Ignored("the charge disagrees with its order"));
        }
        let notice = match (event.kind.as_str(), state) {
            (CHARGE_SUCCEEDED, ChargeState::Captured { reference }) => PaymentNotice::Captured {
                order_id: order.id,
                attempt: record.attempt,
                reference: reference.clone(),
            },
            (CHARGE_FAILED, ChargeState::Declined) => PaymentNotice::Failed {
                order_id: order.id,
                attempt: record.attempt,
            },
            (CHARGE_SUCCEEDED | CHARGE_FAILED, _) => {
                return Ok(Received::Ignored(
                    "the charge is not in the state the event says",
                ));
            }
            _ => return Ok(Received::Ignored("type not acted on")),
        };
        let received = self.apply(&event.id, &event.kind, &notice).await?;
        if received == Received::Unchanged && matches!(notice, PaymentNotice::Captured { .. }) {
            self.refund_if_cancelled(order.id).await;
        }
        Ok(received)
    }

    /// A capture that landed on an order cancelled meanwhile (expired while the customer
    /// authenticated, say) is given back, as a capture after a cancel is elsewhere; best effort,
    /// logged.
    async fn refund_if_cancelled(&self, order_id: uuid::Uuid) {
        let cancelled = matches!(
            self.deps.orders.get(order_id).await,
            Ok(Some(order)) if order.status == domain::OrderStatus::Cancelled
        );
        if !cancelled {
            return;
        }
        tracing::warn!(%order_id, "a charge captured on a cancelled order: refunding it");
        let refunded =
            crate::payments::refund(self.deps.payments.as_ref(), order_id, self.payment_timeout)
                .await;
        if let Err(error) = refunded {
            tracing::error!(%order_id, %error, "refund failed: needs attention");
        }
    }

    /// Settles each `pending` refund of ours the provider has settled; every one under its own key
    /// (`{event id}#{refund id}`), so a replay changes nothing.
    async fn refund_event(
        &self,
        event: &ProviderEvent,
        charge_provider_id: &str,
        refunds: &[ProviderRefund],
    ) -> Result<Received, StoreError> {
        let Some(record) = self.records.find(charge_provider_id).await? else {
            return Ok(Received::Ignored("a charge this server did not make"));
        };
        let mut outcome = Received::Ignored("no refund of ours settled");
        for provider in refunds {
            let (Some(refund_id), Some(settlement)) = (provider.refund_id, &provider.settlement)
            else {
                continue;
            };
            let Some(refund) = self.deps.orders.refund(refund_id).await? else {
                continue;
            };
            if refund.order_id != record.order_id || refund.amount != provider.amount {
                tracing::warn!(%refund_id, "a refund event disagrees with the refund");
                continue;
            }
            let notice = PaymentNotice::RefundSettled {
                refund_id,
                settlement: settlement.clone(),
            };
            let key = format!("{}#{refund_id}", event.id);
            let received = self.apply(&key, &event.kind, &notice).await?;
            outcome = match (&outcome, received) {
                (_, Received::Applied) | (Received::Applied, _) => Received::Applied,
                (_, other) => other,
            };
        }
        Ok(outcome)
    }

    async fn apply(
        &self,
        key: &str,
        kind: &str,
        notice: &PaymentNotice,
    ) -> Result<Received, StoreError> {
        Ok(
            match self
                .deps
                .orders
                .apply_payment_notice(key, kind, notice)
                .await?
            {
                ProviderEventOutcome::Applied => Received::Applied,
                ProviderEventOutcome::Replayed => Received::Replayed,
                ProviderEventOutcome::Unchanged => Received::Unchanged,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use domain::{OrderStatus, PaymentStatus};
    use mockall::predicate::eq;
    use ports::{ChargeRecord, MockChargeRecords, MockPaymentEvents};
    use uuid::Uuid;

    use super::*;
    use crate::test_support::{Mocks, order};

    const INTENT: &str = "pi_ours";

    fn charge_event(kind: &str, order_id: Uuid, state: ChargeState, amount: i64) -> ProviderEvent {
        ProviderEvent {
            id: "evt_1".into(),
            kind: kind.into(),
            fact: ProviderFact::Charge {
                provider_id: INTENT.into(),
                order_id: Some(order_id),
                state,
                amount,
                currency: "usd".into(),
            },
        }
    }

    /// The service over `mocks`, reading `event`, with `INTENT` recorded for `order_id`'s attempt 1.
    fn service(mut mocks: Mocks, event: ProviderEvent, order_id: Uuid) -> PaymentEventService {
        let id = order_id;
        mocks.orders.expect_get().returning(move |_| {
            Ok(Some(order(
                id,
                7,
                OrderStatus::Pending,
                PaymentStatus::Processing,
            )))
        });
        let mut events = MockPaymentEvents::new();
        events
            .expect_read()
            .returning(move |_, _| Ok(event.clone()));
        let mut records = MockChargeRecords::new();
        records.expect_find().returning(move |provider_id| {
            Ok((provider_id == INTENT).then(|| ChargeRecord {
                order_id: id,
                attempt: 1,
                provider_id: Some(INTENT.into()),
            }))
        });
        PaymentEventService::new(
            mocks.into_deps(),
            &crate::test_support::settings(),
            Arc::new(events),
            Arc::new(records),
        )
    }

    /// Mocks that expect `notice` applied once as event `evt_1` of type `kind`, answering `outcome`.
    fn expecting(
        kind: &'static str,
        notice: PaymentNotice,
        outcome: ProviderEventOutcome,
    ) -> Mocks {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_apply_payment_notice()
            .with(eq("evt_1"), eq(kind), eq(notice))
            .times(1)
            .returning(move |_, _, _| Ok(outcome));
        mocks
    }

    #[tokio::test]
    async fn a_succeeded_intent_of_ours_pays_its_order() {
        let id = Uuid::now_v7();
        let reference = INTENT.to_owned();
        let notice = PaymentNotice::Captured {
            order_id: id,
            attempt: 1,
            reference: reference.clone(),
        };
        let mocks = expecting(CHARGE_SUCCEEDED, notice, ProviderEventOutcome::Applied);
        let captured = ChargeState::Captured { reference };
        let event = charge_event(CHARGE_SUCCEEDED, id, captured, 3000);
        let received = service(mocks, event, id).receive(None, vec![]).await;
        assert_eq!(received, Ok(Received::Applied));
    }

    #[tokio::test]
    async fn a_failed_intent_fails_its_attempt() {
        let id = Uuid::now_v7();
        let notice = PaymentNotice::Failed {
            order_id: id,
            attempt: 1,
        };
        let mocks = expecting(CHARGE_FAILED, notice, ProviderEventOutcome::Replayed);
        let event = charge_event(CHARGE_FAILED, id, ChargeState::Declined, 3000);
        let received = service(mocks, event, id).receive(None, vec![]).await;
        assert_eq!(received, Ok(Received::Replayed));
    }

    #[tokio::test]
    async fn disagreeing_events_change_nothing() {
        let id = Uuid::now_v7();
        let captured = ChargeState::Captured {
            reference: INTENT.into(),
        };
        let mut cases = vec![
            // Another amount than the order's total.
            charge_event(CHARGE_SUCCEEDED, id, captured.clone(), 2999),
            // "succeeded" while Stripe says the intent is not.
            charge_event(CHARGE_SUCCEEDED, id, ChargeState::Pending, 3000),
            // Its metadata names another order.
            charge_event(CHARGE_SUCCEEDED, Uuid::now_v7(), captured.clone(), 3000),
        ];
        let mut other_currency = charge_event(CHARGE_SUCCEEDED, id, captured.clone(), 3000);
        if let ProviderFact::Charge { currency, .. } = &mut other_currency.fact {
            *currency = "eur".into();
        }
        cases.push(other_currency);
        let mut foreign = charge_event(CHARGE_SUCCEEDED, id, captured, 3000);
        if let ProviderFact::Charge { provider_id, .. } = &mut foreign.fact {
            *provider_id = "pi_not_ours".into();
        }
        cases.push(foreign);
        for event in cases {
            // No apply_payment_notice expected: a call would fail the test.
            let received = service(Mocks::new(), event.clone(), id)
                .receive(None, vec![])
                .await;
            assert!(
                matches!(received, Ok(Received::Ignored(_))),
                "{event:?}: {received:?}"
            );
        }
    }

    #[tokio::test]
    async fn signature_errors_pass_through() {
        let mut events = MockPaymentEvents::new();
        events
            .expect_read()
            .returning(|_, _| Err(ProviderEventError::InvalidSignature));
        let service = PaymentEventService::new(
            Mocks::new().into_deps(),
            &crate::test_support::settings(),
            Arc::new(events),
            Arc::new(MockChargeRecords::new()),
        );
        assert_eq!(
            service
                .receive(Some("t=1,v1=00".into()), b"{}".to_vec())
                .await,
            Err(ReceiveError::Event(ProviderEventError::InvalidSignature))
        );
    }
}
