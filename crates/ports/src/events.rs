//! The event log (stored with every change, in its transaction), the source that reports events as
//! they commit, and the sinks the event relay (`app::relay`) hands them to.

use async_trait::async_trait;
use domain::{EventType, FulfillmentStatus, OrderStatus, PaymentStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;
use crate::orders::Actor;

/// An event as stored. Ids are given in commit order (see the adapter), so "every event after N"
/// is complete for a client that has seen N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: EventType,
    pub order_id: Uuid,
    /// The order's owner: who, besides admins, may see this event.
    pub user_id: i64,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub total_amount: i64,
    pub refunded_amount: i64,
    /// The shipment an `order.shipped` (or a completing `order.status_changed`) reports.
    pub shipment_id: Option<Uuid>,
    /// The refund an `order.refunded` (or a completing `order.status_changed`) reports, and
    /// its amount.
    pub refund_id: Option<Uuid>,
    pub amount: Option<i64>,
    pub actor: Option<Actor>,
    pub note: Option<String>,
    pub occurred_at: OffsetDateTime,
}

impl StoredEvent {
    /// The event's JSON as the contract shows it (API.md, "Real-time"): the text the WebSocket,
    /// SSE, the event feed and webhooks send.
    pub fn to_json(&self) -> String {
        let occurred_at = self
            .occurred_at
            .format(&Rfc3339)
            .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"));
        let body = EventJson {
            id: self.id,
            kind: self.kind.as_str(),
            order_id: self.order_id,
            user_id: self.user_id,
            from_status: self.from_status.map(|s| s.as_str()),
            to_status: self.to_status.as_str(),
            payment_status: self.payment_status.as_str(),
            fulfillment_status: self.fulfillment_status.as_str(),
            total_amount: self.total_amount,
            refunded_amount: self.refunded_amount,
            shipment_id: self.shipment_id,
            refund_id: self.refund_id,
            amount: self.amount,
            occurred_at: &occurred_at,
        };
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl StoredEvent {
    /// Reads an event back from its JSON ([`StoredEvent::to_json`], as a message bus carries it);
    /// `actor` and `note` are not in it (`None`). The error says what was wrong, for logs.
    pub fn from_json(text: &str) -> Result<StoredEvent, String> {
        serde_json::from_str::<EventWire>(text)
            .map_err(|e| e.to_string())?
            .into_event()
    }
}

/// The event JSON as read back ([`StoredEvent::from_json`], the `NOTIFY` payloads). Members that
/// instances predating shipments did not write default to what those events were: unfulfilled,
/// nothing refunded (a rolling deploy).
#[derive(Deserialize)]
pub struct EventWire {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
    order_id: Uuid,
    user_id: i64,
    from_status: Option<String>,
    to_status: String,
    payment_status: String,
    #[serde(default = "unfulfilled")]
    fulfillment_status: String,
    total_amount: i64,
    #[serde(default)]
    refunded_amount: i64,
    #[serde(default)]
    shipment_id: Option<Uuid>,
    #[serde(default)]
    refund_id: Option<Uuid>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
}

fn unfulfilled() -> String {
    FulfillmentStatus::Unfulfilled.as_str().to_owned()
}

impl EventWire {
    /// The stored event (`actor` and `note` are not in the JSON: `None`); the error says what was
    /// wrong, for logs.
    pub fn into_event(self) -> Result<StoredEvent, String> {
        let status = |s: &str| OrderStatus::parse(s).ok_or_else(|| format!("status {s:?}"));
        Ok(StoredEvent {
            id: self.id,
            kind: EventType::parse(&self.kind).ok_or_else(|| format!("type {:?}", self.kind))?,
            order_id: self.order_id,
            user_id: self.user_id,
            from_status: self.from_status.as_deref().map(status).transpose()?,
            to_status: status(&self.to_status)?,
            payment_status: PaymentStatus::parse(&self.payment_status)
                .ok_or_else(|| format!("payment status {:?}", self.payment_status))?,
            fulfillment_status: FulfillmentStatus::parse(&self.fulfillment_status)
                .ok_or_else(|| format!("fulfillment status {:?}", self.fulfillment_status))?,
            total_amount: self.total_amount,
            refunded_amount: self.refunded_amount,
            shipment_id: self.shipment_id,
            refund_id: self.refund_id,
            amount: self.amount,
            actor: None,
            note: None,
            occurred_at: self.occurred_at,
        })
    }
}

#[derive(Serialize)]
struct EventJson<'a> {
    id: i64,
    #[serde(rename = "type")]
    kind: &'static str,
    order_id: Uuid,
    user_id: i64,
    from_status: Option<&'static str>,
    to_status: &'static str,
    payment_status: &'static str,
    fulfillment_status: &'static str,
    total_amount: i64,
    refunded_amount: i64,
    /// `order.shipped`, and a completing `order.status_changed`, name their shipment.
    #[serde(skip_serializing_if = "Option::is_none")]
    shipment_id: Option<Uuid>,
    /// `order.refunded`, and a completing `order.status_changed` by a refund, name their refund
    /// and its amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<i64>,
    occurred_at: &'a str,
}

/// Which stored events to read (the event feed's filters): those with id greater than `after_id`
/// that match every filter given, id ascending, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    pub after_id: i64,
    /// Events of any of these types; every type when empty.
    pub types: Vec<EventType>,
    /// Events of this order only.
    pub order_id: Option<Uuid>,
    /// Events of orders owned by this user only (a customer's view); every order when `None`.
    pub user_id: Option<i64>,
    pub limit: u32,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Events with id greater than `after_id`, id ascending, at most `limit`; only those of orders
    /// owned by `user_id` when it is given (a customer), all otherwise (an admin).
    async fn events_after(
        &self,
        after_id: i64,
        user_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Events matching every filter of `query` (see [`EventQuery`]), id ascending, at most
    /// `query.limit`. The read of [`EventLog::events_after`] with more filters: the same ordering
    /// guarantee (ids in commit order, so "every matching event after N" is complete at the
    /// moment of the read).
    async fn events_matching(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// The smallest id still stored (`None` when the log is empty), to tell whether a `since` is
    /// older than the retention.
    async fn oldest_id(&self) -> Result<Option<i64>, StoreError>;

    /// The greatest id stored, 0 when none.
    async fn latest_id(&self) -> Result<i64, StoreError>;

    /// Deletes events that occurred before `cutoff`; returns how many.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
}

/// What an [`EventSource`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceNotice {
    /// Events some instance committed, id ascending. While the source stays connected, notices
    /// arrive in commit order, which is id order (see [`StoredEvent`]); ids may skip values (a
    /// rolled-back transaction took them), and the same event may be reported twice.
    Committed(Vec<StoredEvent>),
    /// The source is (again) following commits. Whatever committed while it was not may never be
    /// reported: its consumer catches up from the [`EventLog`]. Sent after every connection, the
    /// first one too.
    Resumed,
}

/// Where news of committed events comes from (today the `LISTEN` connection; a message bus
/// tomorrow). One consumer, the event relay, pulls from it.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventSource: Send + Sync {
    /// The next notice, waiting for one; `None` once the source has stopped for good (shutdown).
    async fn next(&mut self) -> Option<SourceNotice>;
}

/// A sink could not take events (for logs only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The store the sink writes to failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else.
    #[error("event sink failure: {0}")]
    Internal(String),
}

/// A consumer of committed events: the real-time hub, webhooks, email. The event relay hands
/// every sink each committed event once, in id order, in batches; it does not hand a sink a batch
/// again after an error (a sink that must not lose events keeps its own durable position and
/// catches up from the [`EventLog`]).
///
/// To add a consumer: implement this trait and register it with the relay in `api`'s
/// `startup.rs`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventSink: Send + Sync {
    /// A short name for logs ("hub", "webhooks").
    fn name(&self) -> &'static str;

    /// Takes `events` (non-empty, id ascending, every id above those of earlier batches). Must
    /// return quickly: every sink waits for the one before it, and new events wait for all of
    /// them. A sink with slow work (network calls) queues it and returns.
    async fn deliver(&self, events: &[StoredEvent]) -> Result<(), SinkError>;
}
