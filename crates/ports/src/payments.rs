//! The payment provider.
//!
//! A charge is keyed by its order id and attempt (the order's `payment_attempt`), so a retried
//! attempt never charges twice, and paying again after a failed attempt is a new attempt. The
//! caller puts a timeout around each call and never makes one inside a database transaction.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;
use crate::orders::RefundSettlement;

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
    Captured {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// The customer must still act (3-D Secure) with `client_secret` in the provider's own page
    /// script; the outcome arrives later (the provider's notification, or the reconciler asks).
    RequiresAction {
        client_secret: String,
    },
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
    /// Not settled yet: the customer must still act (3-D Secure), or the provider is processing.
    Pending,
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

/// One charge attempt of an order as a provider adapter noted it: the provider's id of it once
/// the provider answered with one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    pub order_id: Uuid,
    pub attempt: u32,
    /// The provider's object (a Stripe PaymentIntent id), `None` while its creation is in flight
    /// or when its answer was lost (a crash, a timeout).
    pub provider_id: Option<String>,
}

/// Where a provider adapter keeps what it made at the provider for each charge attempt, so that
/// a retry, the reconciler and the provider's notifications find that object again instead of
/// making another (a provider that ignores idempotency keys must still never charge twice).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ChargeRecords: Send + Sync {
    /// Notes that `attempt` of `order_id` is about to be made; returns the record as it stood
    /// before (`None`: this is the first time).
    async fn begin(&self, order_id: Uuid, attempt: u32)
    -> Result<Option<ChargeRecord>, StoreError>;

    /// Records the provider's id of the attempt.
    async fn record(
        &self,
        order_id: Uuid,
        attempt: u32,
        provider_id: &str,
    ) -> Result<(), StoreError>;

    /// The order's latest attempt noted.
    async fn latest(&self, order_id: Uuid) -> Result<Option<ChargeRecord>, StoreError>;

    /// The attempt a provider id was recorded for.
    async fn find(&self, provider_id: &str) -> Result<Option<ChargeRecord>, StoreError>;

    /// The latest attempt with a provider id of the order that refund `refund_id` is about.
    async fn for_refund(&self, refund_id: Uuid) -> Result<Option<ChargeRecord>, StoreError>;
}

/// A notification from the payment provider, read and checked by its adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id: each is applied once.
    pub id: String,
    pub kind: String,
    pub fact: ProviderFact,
}

/// What a notification is about, as the provider tells it when asked again (never as the
/// notification's body says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFact {
    /// A charge (a PaymentIntent): its id, the order its metadata names, the state, the amount.
    Charge {
        provider_id: String,
        order_id: Option<Uuid>,
        state: ChargeState,
        amount: i64,
        currency: String,
    },
    /// Refunds of a charge as the provider has them: our refund id (its metadata), the
    /// provider's refund id, the amount, and how it ended (`None` while it is still pending).
    Refunds {
        charge_provider_id: String,
        refunds: Vec<ProviderRefund>,
    },
    /// A type this server does not act on.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    pub refund_id: Option<Uuid>,
    pub provider_id: String,
    pub amount: i64,
    pub settlement: Option<RefundSettlement>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderEventError {
    /// The signature is missing, wrong or too old (400 `invalid_signature`).
    #[error("invalid signature")]
    InvalidSignature,
    /// Signed but not an event this server can read (400).
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The provider could not be asked about it now (503: the provider sends it again later).
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// The provider's notifications (webhooks).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PaymentEvents: Send + Sync {
    /// Checks `signature` over the raw `body` before reading anything of it, then reads the
    /// event and asks the provider for the object it is about.
    async fn read(
        &self,
        signature: Option<String>,
        body: Vec<u8>,
    ) -> Result<ProviderEvent, ProviderEventError>;
}
