//! [`StripePaymentGateway`]: `ports::PaymentGateway` over Stripe's PaymentIntents and refunds.
//!
//! Charging once: each attempt of an order is noted (`ChargeRecords::begin`) before its
//! PaymentIntent is created, and the intent's id recorded as soon as Stripe answers. A repeated
//! call for the same attempt (a retry after a crash, a resumed request) finds the intent by that id,
//! or, when the answer was lost between the creation and the record, by its metadata
//! (`order_id`, `attempt`) in Stripe's list of intents, and never creates a second one. The
//! `Idempotency-Key` (`oms-charge-{order}-{attempt}`) makes the same hold at Stripe too.
//!
//! Refunds carry our refund id in their metadata and as their `Idempotency-Key`; before one is
//! made, the PaymentIntent's refunds are looked at for it, so a retry refunds nothing twice.

use std::sync::Arc;

use async_trait::async_trait;
use ports::{
    ChargeOutcome, ChargeRecords, ChargeRequest, ChargeState, PaymentError, PaymentGateway,
    RefundOutcome, RefundRequest, RefundState, StoreError,
};
use uuid::Uuid;

use crate::client::{NewIntent, PaymentIntent, Refund, StripeClient, StripeError};

/// Pages of 100 intents looked through for one whose answer was lost (newest first at Stripe, so
/// a recent one is on the first).
pub const SEARCH_PAGES: usize = 10;

#[derive(Clone)]
pub struct StripePaymentGateway {
    client: StripeClient,
    records: Arc<dyn ChargeRecords>,
}

impl StripePaymentGateway {
    pub fn new(client: StripeClient, records: Arc<dyn ChargeRecords>) -> StripePaymentGateway {
        StripePaymentGateway { client, records }
    }

    /// The PaymentIntent of `order_id`'s attempt `attempt`, when one was made: by its recorded id,
    /// else looked for by its metadata (and then recorded).
    async fn existing_intent(
        &self,
        order_id: Uuid,
        attempt: u32,
        provider_id: Option<String>,
    ) -> Result<Option<PaymentIntent>, PaymentError> {
        if let Some(id) = provider_id {
            return match self.client.retrieve_intent(&id).await {
                Ok(intent) => Ok(Some(intent)),
                // Stripe does not know it (another account's key now): as if never made.
                Err(StripeError::Refused { status: 404, .. }) => {
                    tracing::warn!(%order_id, attempt, "Stripe does not know the recorded PaymentIntent");
                    Ok(None)
                }
                Err(error) => Err(payment_error(error)),
            };
        }
        let found = self
            .client
            .find_intent(&order_id.to_string(), attempt, SEARCH_PAGES)
            .await
            .map_err(payment_error)?;
        if let Some(intent) = &found {
            tracing::info!(%order_id, attempt, "found a PaymentIntent whose answer was lost");
            self.note(order_id, attempt, &intent.id).await;
        }
        Ok(found)
    }

    /// The PaymentIntent of the order's latest attempt.
    async fn latest_intent(&self, order_id: Uuid) -> Result<Option<PaymentIntent>, PaymentError> {
        match self.records.latest(order_id).await.map_err(store)? {
            None => Ok(None),
            Some(record) => {
                self.existing_intent(order_id, record.attempt, record.provider_id)
                    .await
            }
        }
    }

    /// Records an intent's id; a failure is logged (the intent is then found by its metadata).
    async fn note(&self, order_id: Uuid, attempt: u32, intent_id: &str) {
        if let Err(error) = self.records.record(order_id, attempt, intent_id).await {
            tracing::warn!(%order_id, attempt, %error, "could not record the PaymentIntent's id");
        }
    }

    /// Our refund `refund_id` among the PaymentIntent's refunds.
    async fn existing_refund(
        &self,
        intent_id: &str,
        refund_id: Uuid,
    ) -> Result<Option<Refund>, PaymentError> {
        let refunds = self
            .client
            .list_refunds(intent_id)
            .await
            .map_err(payment_error)?;
        let ours = refund_id.to_string();
        Ok(refunds
            .into_iter()
            .find(|r| r.metadata.get("refund_id") == Some(&ours)))
    }
}

/// The key of a charge attempt at Stripe.
pub fn charge_key(order_id: Uuid, attempt: u32) -> String {
    format!("oms-charge-{order_id}-{attempt}")
}

/// What a PaymentIntent's status means for the charge call.
pub fn charge_outcome(intent: &PaymentIntent) -> Result<ChargeOutcome, PaymentError> {
    match intent.status.as_str() {
        "succeeded" => Ok(ChargeOutcome::Captured {
            reference: intent.id.clone(),
        }),
        "requires_action" => match &intent.client_secret {
            Some(secret) => Ok(ChargeOutcome::RequiresAction {
                client_secret: secret.clone(),
            }),
            None => Err(PaymentError::Provider(
                "a PaymentIntent requires action but has no client secret".into(),
            )),
        },
        "requires_payment_method" | "canceled" => Ok(ChargeOutcome::Declined {
            reason: intent
                .last_payment_error
                .as_ref()
                .map_or_else(|| "payment_failed".to_owned(), |e| e.decline_reason()),
        }),
        other => Err(PaymentError::Provider(format!(
            "the PaymentIntent is {other}"
        ))),
    }
}

/// What a PaymentIntent's status means for the reconciler.
pub fn charge_state(intent: &PaymentIntent) -> ChargeState {
    match intent.status.as_str() {
        "succeeded" => ChargeState::Captured {
            reference: intent.id.clone(),
        },
        "requires_payment_method" | "canceled" => ChargeState::Declined,
        // requires_action, requires_confirmation, requires_capture, processing.
        _ => ChargeState::Pending,
    }
}

/// What a Stripe refund's status means: `None` while it is pending.
pub fn refund_outcome(refund: &Refund) -> Option<RefundOutcome> {
    match refund.status.as_deref() {
        Some("succeeded") => Some(RefundOutcome::Refunded {
            reference: refund.id.clone(),
        }),
        Some("failed" | "canceled") => Some(RefundOutcome::Refused {
            reason: "refund_failed".into(),
        }),
        _ => None,
    }
}

fn payment_error(error: StripeError) -> PaymentError {
    match error {
        StripeError::Timeout => PaymentError::Timeout,
        other => PaymentError::Provider(other.to_string()),
    }
}

fn store(error: StoreError) -> PaymentError {
    PaymentError::Provider(format!("charge records: {error}"))
}

fn pending_refund() -> PaymentError {
    PaymentError::Provider("the refund is pending at Stripe".into())
}

#[async_trait]
impl PaymentGateway for StripePaymentGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        let (order_id, attempt) = (request.order_id, request.attempt);
        let before = self.records.begin(order_id, attempt).await.map_err(store)?;
        if let Some(record) = before {
            // This attempt was made before (a retry): its intent, never a second one.
            if let Some(intent) = self
                .existing_intent(order_id, attempt, record.provider_id)
                .await?
            {
                return charge_outcome(&intent);
            }
        }
        let new = NewIntent {
            order_id,
            attempt,
            payment_method: &request.token,
            amount: request.amount,
            currency: &request.currency,
        };
        match self
            .client
            .create_intent(&new, &charge_key(order_id, attempt))
            .await
        {
            Ok(intent) => {
                self.note(order_id, attempt, &intent.id).await;
                charge_outcome(&intent)
            }
            Err(StripeError::Card(error)) => {
                if let Some(intent) = &error.payment_intent {
                    self.note(order_id, attempt, &intent.id).await;
                }
                Ok(ChargeOutcome::Declined {
                    reason: error.decline_reason(),
                })
            }
            // An unknown or unusable PaymentMethod is declined too; a refused key is not the
            // card's fault (the order stays processing, and the error is logged).
            Err(StripeError::Refused { status, error }) if status != 401 && status != 403 => {
                Ok(ChargeOutcome::Declined {
                    reason: error
                        .code
                        .unwrap_or_else(|| "invalid_payment_method".into()),
                })
            }
            Err(error) => {
                if matches!(error, StripeError::Refused { .. }) {
                    tracing::error!(%error, "stripe refused the server's key");
                }
                Err(payment_error(error))
            }
        }
    }

    async fn lookup(&self, order_id: Uuid) -> Result<ChargeState, PaymentError> {
        Ok(match self.latest_intent(order_id).await? {
            None => ChargeState::NotCharged,
            Some(intent) => charge_state(&intent),
        })
    }

    async fn refund(&self, order_id: Uuid) -> Result<(), PaymentError> {
        let Some(intent) = self.latest_intent(order_id).await? else {
            return Ok(());
        };
        if intent.status != "succeeded" {
            return Ok(());
        }
        match self
            .client
            .create_refund(
                &intent.id,
                None,
                None,
                &format!("oms-refund-all-{order_id}"),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Refunded already, or nothing to refund.
            Err(StripeError::Refused { .. }) => Ok(()),
            Err(error) => Err(payment_error(error)),
        }
    }

    async fn refund_amount(&self, request: &RefundRequest) -> Result<RefundOutcome, PaymentError> {
        let intent = match self.latest_intent(request.order_id).await? {
            Some(intent) if intent.status == "succeeded" => intent,
            _ => {
                return Ok(RefundOutcome::Refused {
                    reason: "no captured charge".into(),
                });
            }
        };
        let refund = match self.existing_refund(&intent.id, request.refund_id).await? {
            Some(refund) => refund,
            None => {
                let made = self
                    .client
                    .create_refund(
                        &intent.id,
                        Some(request.amount),
                        Some(&request.refund_id.to_string()),
                        &request.refund_id.to_string(),
                    )
                    .await;
                match made {
                    Ok(refund) => refund,
                    Err(StripeError::Refused { error, .. } | StripeError::Card(error)) => {
                        return Ok(RefundOutcome::Refused {
                            reason: error.code.unwrap_or_else(|| "refund_refused".into()),
                        });
                    }
                    Err(error) => return Err(payment_error(error)),
                }
            }
        };
        refund_outcome(&refund).ok_or_else(pending_refund)
    }

    async fn refund_state(&self, refund_id: Uuid) -> Result<RefundState, PaymentError> {
        let Some(record) = self.records.for_refund(refund_id).await.map_err(store)? else {
            return Ok(RefundState::NotRefunded);
        };
        let Some(intent_id) = record.provider_id else {
            return Ok(RefundState::NotRefunded);
        };
        match self.existing_refund(&intent_id, refund_id).await? {
            None => Ok(RefundState::NotRefunded),
            Some(refund) => match refund_outcome(&refund) {
                Some(RefundOutcome::Refunded { reference }) => {
                    Ok(RefundState::Refunded { reference })
                }
                Some(RefundOutcome::Refused { .. }) => Ok(RefundState::Refused),
                None => Err(pending_refund()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::client::ApiError;

    fn intent(status: &str) -> PaymentIntent {
        PaymentIntent {
            id: "pi_1".into(),
            status: status.into(),
            amount: 1000,
            currency: "usd".into(),
            client_secret: Some("pi_1_secret_x".into()),
            metadata: Default::default(),
            last_payment_error: None,
        }
    }

    #[test]
    fn intent_statuses_map_to_charge_outcomes() {
        assert_eq!(
            charge_outcome(&intent("succeeded")),
            Ok(ChargeOutcome::Captured {
                reference: "pi_1".into()
            })
        );
        assert_eq!(
            charge_outcome(&intent("requires_action")),
            Ok(ChargeOutcome::RequiresAction {
                client_secret: "pi_1_secret_x".into()
            })
        );
        let mut failed = intent("requires_payment_method");
        failed.last_payment_error = Some(ApiError {
            code: Some("card_declined".into()),
            decline_code: Some("insufficient_funds".into()),
            ..ApiError::default()
        });
        assert_eq!(
            charge_outcome(&failed),
            Ok(ChargeOutcome::Declined {
                reason: "insufficient_funds".into()
            })
        );
        assert_eq!(
            charge_outcome(&intent("canceled")),
            Ok(ChargeOutcome::Declined {
                reason: "payment_failed".into()
            })
        );
        for unknown in ["processing", "requires_capture", "requires_confirmation"] {
            assert!(matches!(
                charge_outcome(&intent(unknown)),
                Err(PaymentError::Provider(_))
            ));
        }
        let mut no_secret = intent("requires_action");
        no_secret.client_secret = None;
        assert!(charge_outcome(&no_secret).is_err());
    }

    #[test]
    fn intent_statuses_map_to_charge_states() {
        assert_eq!(
            charge_state(&intent("succeeded")),
            ChargeState::Captured {
                reference: "pi_1".into()
            }
        );
        assert_eq!(
            charge_state(&intent("requires_payment_method")),
            ChargeState::Declined
        );
        assert_eq!(charge_state(&intent("canceled")), ChargeState::Declined);
        assert_eq!(
            charge_state(&intent("requires_action")),
            ChargeState::Pending
        );
        assert_eq!(charge_state(&intent("processing")), ChargeState::Pending);
    }

    #[test]
    fn refund_statuses_map_to_outcomes() {
        let refund = |status: Option<&str>| Refund {
            id: "re_1".into(),
            status: status.map(str::to_owned),
            amount: 500,
            payment_intent: Some("pi_1".into()),
            metadata: Default::default(),
        };
        assert_eq!(
            refund_outcome(&refund(Some("succeeded"))),
            Some(RefundOutcome::Refunded {
                reference: "re_1".into()
            })
        );
        assert!(matches!(
            refund_outcome(&refund(Some("failed"))),
            Some(RefundOutcome::Refused { .. })
        ));
        assert_eq!(refund_outcome(&refund(Some("pending"))), None);
        assert_eq!(refund_outcome(&refund(None)), None);
    }

    #[test]
    fn timeouts_stay_timeouts() {
        assert_eq!(payment_error(StripeError::Timeout), PaymentError::Timeout);
        assert!(matches!(
            payment_error(StripeError::Server(502)),
            PaymentError::Provider(_)
        ));
        assert_eq!(
            charge_key(Uuid::nil(), 2),
            "oms-charge-00000000-0000-0000-0000-000000000000-2"
        );
    }
}
