//! [`StripeEvents`]: a webhook's signature checked over the raw body before anything is read,
//! then the object it is about retrieved from Stripe again: the body only says which one.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use ports::{
    PaymentEvents, ProviderEvent, ProviderEventError, ProviderFact, ProviderRefund,
    RefundSettlement,
};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

use crate::client::{Refund, StripeClient, StripeError};
use crate::gateway::{charge_state, refund_outcome};
use crate::signature;

pub const PAYMENT_INTENT_SUCCEEDED: &str = "payment_intent.succeeded";
pub const PAYMENT_INTENT_FAILED: &str = "payment_intent.payment_failed";
pub const CHARGE_REFUNDED: &str = "charge.refunded";
pub const REFUND_UPDATED: &str = "refund.updated";

/// The longest event id kept.
const EVENT_ID_MAX: usize = 255;

#[derive(Clone)]
pub struct StripeEvents {
    client: StripeClient,
    secret: SecretString,
}

impl std::fmt::Debug for StripeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeEvents")
            .field("client", &self.client)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    object: Object,
}

/// The members of the event's object that name what to retrieve.
#[derive(Debug, Deserialize)]
struct Object {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    payment_intent: Option<String>,
}

impl StripeEvents {
    pub fn new(client: StripeClient, secret: SecretString) -> StripeEvents {
        StripeEvents { client, secret }
    }

    async fn fact(&self, kind: &str, object: Object) -> Result<ProviderFact, ProviderEventError> {
        match kind {
            PAYMENT_INTENT_SUCCEEDED | PAYMENT_INTENT_FAILED => {
                let id = object.id.ok_or_else(|| malformed("no object id"))?;
                let intent = match self.client.retrieve_intent(&id).await {
                    Ok(intent) => intent,
                    Err(error) => return not_found_or(error),
                };
                Ok(ProviderFact::Charge {
                    order_id: intent
                        .metadata
                        .get("order_id")
                        .and_then(|id| Uuid::parse_str(id).ok()),
                    state: charge_state(&intent),
                    amount: intent.amount,
                    currency: intent.currency,
                    provider_id: intent.id,
                })
            }
            CHARGE_REFUNDED => {
                let intent = object
                    .payment_intent
                    .ok_or_else(|| malformed("no payment_intent"))?;
                let refunds = match self.client.list_refunds(&intent).await {
                    Ok(refunds) => refunds,
                    Err(error) => return not_found_or(error),
                };
                Ok(ProviderFact::Refunds {
                    charge_provider_id: intent,
                    refunds: refunds.iter().map(provider_refund).collect(),
                })
            }
            REFUND_UPDATED => {
                let id = object.id.ok_or_else(|| malformed("no object id"))?;
                let refund = match self.client.retrieve_refund(&id).await {
                    Ok(refund) => refund,
                    Err(error) => return not_found_or(error),
                };
                let Some(intent) = refund.payment_intent.clone() else {
                    return Ok(ProviderFact::Ignored);
                };
                Ok(ProviderFact::Refunds {
                    charge_provider_id: intent,
                    refunds: vec![provider_refund(&refund)],
                })
            }
            _ => Ok(ProviderFact::Ignored),
        }
    }
}

fn malformed(what: &str) -> ProviderEventError {
    ProviderEventError::Malformed(what.to_owned())
}

/// An object Stripe does not know (not ours, or another account's) is ignored; a failure whose
/// outcome is unknown makes Stripe send the event again later.
fn not_found_or(error: StripeError) -> Result<ProviderFact, ProviderEventError> {
    if error.is_unknown_outcome() {
        Err(ProviderEventError::Unavailable(error.to_string()))
    } else {
        tracing::warn!(%error, "an event's object could not be retrieved: ignored");
        Ok(ProviderFact::Ignored)
    }
}

fn provider_refund(refund: &Refund) -> ProviderRefund {
    ProviderRefund {
        refund_id: refund
            .metadata
            .get("refund_id")
            .and_then(|id| Uuid::parse_str(id).ok()),
        provider_id: refund.id.clone(),
        amount: refund.amount,
        settlement: refund_outcome(refund).map(|outcome| match outcome {
            ports::RefundOutcome::Refunded { reference } => {
                RefundSettlement::Succeeded { reference }
            }
            ports::RefundOutcome::Refused { .. } => RefundSettlement::Failed,
        }),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[async_trait]
impl PaymentEvents for StripeEvents {
    async fn read(
        &self,
        signature_header: Option<String>,
        body: Vec<u8>,
    ) -> Result<ProviderEvent, ProviderEventError> {
        signature::verify(signature_header.as_deref(), &body, &self.secret, unix_now()).map_err(
            |error| {
                tracing::info!(%error, "webhook signature refused");
                ProviderEventError::InvalidSignature
            },
        )?;
        let envelope: Envelope =
            serde_json::from_slice(&body).map_err(|e| malformed(&e.to_string()))?;
        if envelope.id.is_empty() || envelope.id.len() > EVENT_ID_MAX {
            return Err(malformed("event id"));
        }
        let fact = self.fact(&envelope.kind, envelope.data.object).await?;
        Ok(ProviderEvent {
            id: envelope.id,
            kind: envelope.kind,
            fact,
        })
    }
}
