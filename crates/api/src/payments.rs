//! The payment provider, selected by `PAYMENT_PROVIDER`.
//!
//! `simulated` (the default) behaves like a card processor's test mode: `tok_visa` is captured,
//! `tok_chargeDeclined` and any unknown token are declined, `tok_timeout` is captured but answers
//! only after the server's payment timeout, `tok_error` fails without charging, and every answer
//! is delayed by `SIMULATED_PAYMENT_LATENCY_MS`.
//!
//! This in-process simulation keeps its charges in memory: it is the stand-in until the
//! PostgreSQL-backed simulated provider (issue "Payment, idempotent order placement...") lands,
//! which survives a restart. A real provider plugs in here: implement `ports::PaymentGateway`
//! (charge keyed by the order id, lookup, refund) and add a `PAYMENT_PROVIDER` value.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ports::{ChargeOutcome, ChargeRequest, ChargeState, PaymentError, PaymentGateway};
use uuid::Uuid;

use crate::config::PaymentSettings;

/// The gateway `settings` name.
pub fn gateway(settings: &PaymentSettings) -> anyhow::Result<Arc<dyn PaymentGateway>> {
    match settings.provider.as_str() {
        "simulated" => Ok(Arc::new(InMemorySimulatedGateway::new(
            settings.simulated_latency,
            settings.timeout,
        ))),
        other => anyhow::bail!("PAYMENT_PROVIDER: unknown provider {other:?} (known: simulated)"),
    }
}

/// The test-mode provider, in memory.
pub struct InMemorySimulatedGateway {
    latency: Duration,
    /// How long `tok_timeout` hangs: past the client's timeout.
    hang: Duration,
    charges: Mutex<HashMap<Uuid, ChargeState>>,
}

impl InMemorySimulatedGateway {
    pub fn new(latency: Duration, client_timeout: Duration) -> InMemorySimulatedGateway {
        InMemorySimulatedGateway {
            latency,
            hang: client_timeout + Duration::from_secs(1),
            charges: Mutex::new(HashMap::new()),
        }
    }

    fn state(&self, order_id: Uuid) -> Option<ChargeState> {
        self.charges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&order_id)
            .cloned()
    }

    fn record(&self, order_id: Uuid, state: ChargeState) {
        self.charges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order_id, state);
    }
}

fn reference(order_id: Uuid) -> String {
    format!("sim_{}", order_id.simple())
}

#[async_trait]
impl PaymentGateway for InMemorySimulatedGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        tokio::time::sleep(self.latency).await;
        match self.state(request.order_id) {
            Some(ChargeState::Captured { reference }) => {
                return Ok(ChargeOutcome::Captured { reference });
            }
            Some(ChargeState::Refunded) => {
                return Ok(ChargeOutcome::Captured {
                    reference: reference(request.order_id),
                });
            }
            _ => {}
        }
        match request.token.as_str() {
            "tok_visa" => {
                let reference = reference(request.order_id);
                self.record(
                    request.order_id,
                    ChargeState::Captured {
                        reference: reference.clone(),
                    },
                );
                Ok(ChargeOutcome::Captured { reference })
            }
            "tok_timeout" => {
                let reference = reference(request.order_id);
                self.record(
                    request.order_id,
                    ChargeState::Captured {
                        reference: reference.clone(),
                    },
                );
                tokio::time::sleep(self.hang).await;
                Ok(ChargeOutcome::Captured { reference })
            }
            "tok_error" => Err(PaymentError::Provider("simulated provider error".into())),
            _ => {
                self.record(request.order_id, ChargeState::Declined);
                Ok(ChargeOutcome::Declined {
                    reason: "card declined".into(),
                })
            }
        }
    }

    async fn lookup(&self, order_id: Uuid) -> Result<ChargeState, PaymentError> {
        tokio::time::sleep(self.latency).await;
        Ok(self.state(order_id).unwrap_or(ChargeState::NotCharged))
    }

    async fn refund(&self, order_id: Uuid) -> Result<(), PaymentError> {
        tokio::time::sleep(self.latency).await;
        if let Some(ChargeState::Captured { .. }) = self.state(order_id) {
            self.record(order_id, ChargeState::Refunded);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(token: &str) -> ChargeRequest {
        ChargeRequest {
            order_id: Uuid::now_v7(),
            token: token.into(),
            amount: 100,
            currency: "USD".into(),
        }
    }

    #[tokio::test]
    async fn test_tokens() {
        let gateway = InMemorySimulatedGateway::new(Duration::ZERO, Duration::from_millis(10));
        let visa = request("tok_visa");
        assert!(matches!(
            gateway.charge(&visa).await,
            Ok(ChargeOutcome::Captured { .. })
        ));
        assert!(
            matches!(
                gateway.charge(&visa).await,
                Ok(ChargeOutcome::Captured { .. })
            ),
            "idempotent"
        );
        assert!(matches!(
            gateway.lookup(visa.order_id).await,
            Ok(ChargeState::Captured { .. })
        ));
        gateway.refund(visa.order_id).await.expect("refund");
        assert_eq!(
            gateway.lookup(visa.order_id).await,
            Ok(ChargeState::Refunded)
        );

        let declined = request("tok_chargeDeclined");
        assert!(matches!(
            gateway.charge(&declined).await,
            Ok(ChargeOutcome::Declined { .. })
        ));
        assert!(matches!(
            gateway.charge(&request("tok_whatever")).await,
            Ok(ChargeOutcome::Declined { .. })
        ));

        let error = request("tok_error");
        assert!(gateway.charge(&error).await.is_err());
        assert_eq!(
            gateway.lookup(error.order_id).await,
            Ok(ChargeState::NotCharged)
        );

        let timeout = request("tok_timeout");
        let outcome =
            tokio::time::timeout(Duration::from_millis(10), gateway.charge(&timeout)).await;
        assert!(outcome.is_err(), "hangs past the client's timeout");
        assert!(matches!(
            gateway.lookup(timeout.order_id).await,
            Ok(ChargeState::Captured { .. })
        ));
    }
}
