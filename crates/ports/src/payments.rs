//! The payment provider.
//!
//! A charge is keyed by its order id and attempt (the order's `payment_attempt`), so a retried
//! attempt never charges twice, and paying again after a failed attempt is a new attempt. The
//! caller puts a timeout around each call and never makes one inside a database transaction.

use async_trait::async_trait;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// With `attempt`, the idempotency key at the provider.
    pub order_id: Uuid,
    /// The order's payment attempt, from 1.
    pub attempt: u32,
    pub token: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Captured { reference: String },
    Declined { reason: String },
}

/// What the provider knows of an order's charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeState {
    /// No charge was made (or it failed without charging).
    NotCharged,
    Captured {
        reference: String,
    },
    Declined,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider did not answer in time; the charge may or may not have happened.
    #[error("payment provider timed out")]
    Timeout,
    /// The provider failed; the charge may or may not have happened.
    #[error("payment provider failed: {0}")]
    Provider(String),
}

/// Part of a captured charge to give back, keyed at the provider by `refund_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub refund_id: Uuid,
    pub order_id: Uuid,
    /// In the currency's minor unit.
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Refunded {
        reference: String,
    },
    /// The provider refused to refund (nothing moved).
    Refused {
        reason: String,
    },
}

/// What the provider knows of a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    /// No such refund was made.
    NotRefunded,
    Refunded {
        reference: String,
    },
    Refused,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Charges once per order id and attempt: a repeated call for the same attempt returns the
    /// first outcome (a declined one too) and charges nothing; a later attempt after a decline is
    /// charged; nothing is charged again once a charge of the order was captured.
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError>;

    /// What happened to the order's latest charge attempt.
    async fn lookup(&self, order_id: Uuid) -> Result<ChargeState, PaymentError>;

    /// Gives a captured charge back; refunding twice is a no-op.
    async fn refund(&self, order_id: Uuid) -> Result<(), PaymentError>;

    /// Gives `amount` of the order's captured charge back, once per `refund_id`: a repeated call
    /// returns the first outcome and refunds nothing more.
    async fn refund_amount(&self, request: &RefundRequest) -> Result<RefundOutcome, PaymentError>;

    /// What happened to a refund (for the reconciler).
    async fn refund_state(&self, refund_id: Uuid) -> Result<RefundState, PaymentError>;
}
