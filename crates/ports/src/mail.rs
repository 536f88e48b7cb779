//! Email (API.md, "Email"): the durable queue of emails made from committed events, and the
//! mail server.
//!
//! - [`MailQueue`]: what the email channel does with its queue: turn committed events into
//!   emails (the fan-out), claim due ones under a lease, record attempts.
//! - [`Mailer`]: one attempt, the email written out and handed to the mail server.

use std::time::Duration;

use async_trait::async_trait;
use domain::email::{MailKind, MailOutcome};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::orders::Order;

/// An email claimed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: Uuid,
    pub event_id: i64,
    pub kind: MailKind,
    /// The address, as it was when the event was turned into emails.
    pub recipient: String,
    pub order_id: Uuid,
    /// The shipment a `Shipped` email reports.
    pub shipment_id: Option<Uuid>,
    /// The refund a `Refunded` (or a refunding `Cancelled`) email reports.
    pub refund_id: Option<Uuid>,
    /// Attempts made before this one.
    pub attempts_before: i32,
}

/// What to record of a finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub mail_id: Uuid,
    /// The claim's token: the record is dropped when another claim took the email over.
    pub lease_token: Uuid,
    pub sent: bool,
    pub error: Option<String>,
    /// The next attempt's time; `None` when the email is done (sent, or failed for good).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The email channel's view of its queue.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Turns committed events past the email position into emails (`domain::email::mails_for`,
    /// to the order's owner and the shop's address), at most `max_events` events, and moves the
    /// position; one instance at a time. Returns how many events it read.
    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError>;

    /// Claims up to `max` due emails for one attempt each, under `lease_token` until `lease` from
    /// now (a pending email whose time has come, not leased, or whose lease ran out). Counts the
    /// attempt.
    async fn claim(
        &self,
        max: u32,
        lease_token: Uuid,
        lease: Duration,
    ) -> Result<Vec<ClaimedMail>, StoreError>;

    /// Records finished attempts, each only while its lease token still holds the email.
    async fn record(&self, attempts: &[MailRecord]) -> Result<(), StoreError>;

    /// The soonest future time a pending email falls due or a lease runs out.
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Deletes emails queued before `cutoff`; returns how many.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
}

/// One email to write and send: what it is about, the order as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub kind: MailKind,
    pub to: String,
    /// Fixed per event and recipient (`domain::email::message_id`).
    pub message_id: String,
    pub order: Order,
    /// The shipment a `Shipped` email reports (one of `order.shipments`).
    pub shipment_id: Option<Uuid>,
    /// The refund a `Refunded` or `Cancelled` email reports (one of `order.refunds`).
    pub refund_id: Option<Uuid>,
}

/// Writes emails out (templates) and hands them to the mail server.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// The domain of the sender's address (for `Message-ID`s).
    fn domain(&self) -> String;

    /// Makes one attempt; never fails otherwise (the outcome says what happened).
    async fn send(&self, mail: &OutgoingMail) -> MailOutcome;
}

/// Counts the email channel reports (the API's metrics).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait MailTelemetry: Send + Sync {
    /// One attempt ended with `outcome` (`sent`, `retrying`, `failed`).
    fn attempt(&self, outcome: &'static str);
}
