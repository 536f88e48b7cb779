//! Calls to the payment provider, each under a timeout and never inside a store transaction.
//!
//! A timeout and a provider failure mean the same thing to the caller: the charge may or may not
//! have happened, so the order stays `processing` and the reconciler asks the provider later.

use std::time::Duration;

use ports::{ChargeOutcome, ChargeRequest, ChargeState, PaymentError, PaymentGateway};
use uuid::Uuid;

/// What a charge attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeResult {
    /// The money is collected; `reference` is the provider's.
    Captured { reference: String },
    /// The provider refused the charge.
    Declined { reason: String },
    /// The customer must still act (3-D Secure) with `client_secret`; the outcome comes later.
    RequiresAction { client_secret: String },
    /// No answer in time, or the provider failed: the outcome is unknown.
    Unknown(PaymentError),
}

/// Charges `request` (keyed by its order id at the provider), waiting at most `timeout`.
pub async fn charge(
    gateway: &dyn PaymentGateway,
    request: &ChargeRequest,
    timeout: Duration,
) -> ChargeResult {
    match with_timeout(timeout, gateway.charge(request)).await {
        Ok(ChargeOutcome::Captured { reference }) => ChargeResult::Captured { reference },
        Ok(ChargeOutcome::Declined { reason }) => ChargeResult::Declined { reason },
        Ok(ChargeOutcome::RequiresAction { client_secret }) => {
            ChargeResult::RequiresAction { client_secret }
        }
        Err(error) => ChargeResult::Unknown(error),
    }
}

/// Asks the provider what happened to the order's charge, waiting at most `timeout`.
pub async fn lookup(
    gateway: &dyn PaymentGateway,
    order_id: Uuid,
    timeout: Duration,
) -> Result<ChargeState, PaymentError> {
    with_timeout(timeout, gateway.lookup(order_id)).await
}

/// Gives the order's captured charge back, waiting at most `timeout`.
pub async fn refund(
    gateway: &dyn PaymentGateway,
    order_id: Uuid,
    timeout: Duration,
) -> Result<(), PaymentError> {
    with_timeout(timeout, gateway.refund(order_id)).await
}

async fn with_timeout<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, PaymentError>>,
) -> Result<T, PaymentError> {
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or(Err(PaymentError::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::SlowGateway;
    use ports::MockPaymentGateway;

    fn request() -> ChargeRequest {
        ChargeRequest {
            order_id: Uuid::now_v7(),
            attempt: 1,
            token: "tok_visa".into(),
            amount: 1000,
            currency: "USD".into(),
        }
    }

    #[tokio::test]
    async fn outcomes_are_passed_through() {
        let mut gateway = MockPaymentGateway::new();
        gateway.expect_charge().times(1).returning(|_| {
            Ok(ChargeOutcome::Declined {
                reason: "card declined".into(),
            })
        });
        let result = charge(&gateway, &request(), Duration::from_secs(1)).await;
        assert_eq!(
            result,
            ChargeResult::Declined {
                reason: "card declined".into()
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_provider_times_out() {
        let gateway = SlowGateway::new(Duration::from_secs(60));
        let started = tokio::time::Instant::now();
        let result = charge(&gateway, &request(), Duration::from_millis(500)).await;
        assert_eq!(result, ChargeResult::Unknown(PaymentError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            lookup(&gateway, Uuid::now_v7(), Duration::from_millis(500)).await,
            Err(PaymentError::Timeout)
        );
        assert_eq!(
            refund(&gateway, Uuid::now_v7(), Duration::from_millis(500)).await,
            Err(PaymentError::Timeout)
        );
    }
}
