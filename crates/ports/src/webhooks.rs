//! Webhooks: the endpoints admins register, the durable queue of deliveries, and the HTTP call.
//!
//! - [`WebhookStore`]: the endpoints (create, list, change, delete, rotate the secret) and their
//!   deliveries (list, retry, the test event), each write with its audit entry.
//! - [`DeliveryQueue`]: what the delivery worker does with the queue: turn committed events into
//!   deliveries (the fan-out), claim due deliveries under a lease, record attempts.
//! - [`WebhookSender`]: one attempt, an HTTP `POST` to an endpoint.
//! - [`HostResolver`]: what a host name resolves to (the address check at creation).

use std::time::Duration;

use async_trait::async_trait;
use domain::webhook::{AttemptOutcome, EventFilter, WebhookSecret};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::audit::AuditContext;

/// An endpoint as admins see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    /// The normalised URL (see `domain::webhook::parse_url`).
    pub url: String,
    pub event_types: EventFilter,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the server disabled it (`None` when an admin did, or when enabled).
    pub disabled_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    pub event_types: EventFilter,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: WebhookSecret,
}

/// A change of an endpoint: the members given (`Some`) are set. `description: Some(None)` clears
/// it. Enabling a disabled endpoint clears its `disabled_reason`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointChange {
    pub url: Option<String>,
    pub event_types: Option<EventFilter>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// The position of an endpoint in the list (newest first): the last one of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointCursor {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

impl EndpointCursor {
    pub fn of(endpoint: &WebhookEndpoint) -> EndpointCursor {
        EndpointCursor {
            created_at: endpoint.created_at,
            id: endpoint.id,
        }
    }
}

/// `GET /api/admin/webhooks`: newest first (`created_at`, then id, descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointQuery {
    /// Only endpoints after this position (the cursor).
    pub after: Option<EndpointCursor>,
    pub limit: u32,
}

/// A delivery's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<DeliveryStatus> {
        match value {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// A delivery as the deliveries log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: i64,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_attempt_at: Option<OffsetDateTime>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_response_status: Option<i32>,
    pub last_error: Option<String>,
}

/// `GET /api/admin/webhooks/{id}/deliveries`: newest first (by event id, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryQuery {
    pub endpoint_id: Uuid,
    pub status: Option<DeliveryStatus>,
    /// Only deliveries of events with a smaller id (the cursor).
    pub before_event_id: Option<i64>,
    pub limit: u32,
}

/// Endpoint and delivery writes: each stores its audit entry in its own transaction.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint; events committed after this call are delivered to it.
    async fn create(
        &self,
        endpoint: NewWebhookEndpoint,
        audit: &AuditContext,
    ) -> Result<WebhookEndpoint, StoreError>;

    /// At most `query.limit` endpoints after `query.after`, newest first.
    async fn list(&self, query: &EndpointQuery) -> Result<Vec<WebhookEndpoint>, StoreError>;

    async fn get(&self, id: Uuid) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// Applies `change`; `None` when there is no such endpoint. A change that changes nothing
    /// writes nothing (no audit entry).
    async fn update(
        &self,
        id: Uuid,
        change: WebhookEndpointChange,
        audit: &AuditContext,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// Deletes the endpoint and its deliveries; `false` when there was none.
    async fn delete(&self, id: Uuid, audit: &AuditContext) -> Result<bool, StoreError>;

    /// Replaces the secret; the current one keeps signing beside it until `previous_valid_for`
    /// has passed. `false` when there is no such endpoint.
    async fn rotate_secret(
        &self,
        id: Uuid,
        secret: WebhookSecret,
        previous_valid_for: Duration,
        audit: &AuditContext,
    ) -> Result<bool, StoreError>;

    /// Queues one `webhook.test` event for this endpoint only (due now), with an event id of
    /// its own taken from the events' sequence; returns its delivery, `None` when there is no such
    /// endpoint.
    async fn send_test(
        &self,
        id: Uuid,
        audit: &AuditContext,
    ) -> Result<Option<Delivery>, StoreError>;

    /// The endpoint's deliveries (see [`DeliveryQuery`]); `None` when there is no such endpoint.
    async fn deliveries(&self, query: &DeliveryQuery) -> Result<Option<Vec<Delivery>>, StoreError>;

    /// Makes the delivery due now (a failed or succeeded one pending again; its attempts are
    /// kept); returns it as it is now, `None` when the endpoint has no such delivery.
    async fn retry_delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        audit: &AuditContext,
    ) -> Result<Option<Delivery>, StoreError>;
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The `webhook-id`: the same for every attempt of the delivery.
    pub message_id: String,
    pub url: String,
    /// The secrets to sign with (the current one, and the previous one while it is still valid).
    pub secrets: Vec<WebhookSecret>,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts_before: i32,
    pub event_id: i64,
    /// When the event was queued for this endpoint.
    pub queued_at: OffsetDateTime,
    /// Since when none of the endpoint's deliveries succeeded (the disable rule), as claimed.
    pub failing_since: Option<OffsetDateTime>,
}

/// What to record of a finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub delivery_id: Uuid,
    pub endpoint_id: Uuid,
    /// The claim's token: the record is dropped when another claim took the delivery over.
    pub lease_token: Uuid,
    pub outcome: AttemptOutcome,
    /// When the attempt ended.
    pub finished_at: OffsetDateTime,
    /// The next attempt's time; `None` when the delivery is over (succeeded, or failed for good).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Disable the endpoint with this reason (a `410`, or failing too long).
    pub disable: Option<String>,
}

/// Queue depth per endpoint, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub endpoint_id: Uuid,
    pub pending: i64,
    /// Age of the oldest pending delivery, in seconds (0 when none).
    pub oldest_pending_seconds: f64,
}

/// The delivery worker's view of the queue.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Turns committed events past the fan-out position into deliveries (one per enabled endpoint
    /// subscribed to the event's type and created before it), at most `max_events` events, and
    /// moves the position; one instance at a time. Returns how many events it read.
    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError>;

    /// Claims up to `max` due deliveries of enabled endpoints for one attempt each, under
    /// `lease_token` until `lease` from now: a pending delivery whose time has come, not leased
    /// (or whose lease ran out: its holder died), and with no earlier pending delivery of the same
    /// order to the same endpoint. Counts the attempt.
    async fn claim(
        &self,
        max: u32,
        lease_token: Uuid,
        lease: Duration,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records finished attempts (each only while its lease token still holds the delivery): the
    /// delivery's status and next time (later pending deliveries of the same order to the same
    /// endpoint wait at least as long), the endpoint's failure history, a disable with its audit
    /// entry.
    async fn record(&self, attempts: &[AttemptRecord]) -> Result<(), StoreError>;

    /// The soonest future time a pending delivery of an enabled endpoint falls due or a lease runs
    /// out (`None` when there is none).
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Deletes deliveries queued before `cutoff`; returns how many.
    async fn purge_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;

    /// Pending deliveries per endpoint.
    async fn stats(&self) -> Result<Vec<QueueStats>, StoreError>;
}

/// One HTTP attempt of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingWebhook {
    pub url: String,
    pub message_id: String,
    /// Unix seconds of the attempt (`webhook-timestamp`).
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    pub payload: String,
}

/// Sends webhooks over HTTP (the address rules are the sender's to enforce).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Makes one attempt; never fails otherwise (the outcome says what happened).
    async fn send(&self, request: &OutgoingWebhook) -> AttemptOutcome;
}

/// Resolves host names (the creation-time address check; deliveries resolve inside the sender).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// Every address `host` resolves to; an error (for logs) when it does not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;
}

/// Counts the worker reports (the API's metrics).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait WebhookTelemetry: Send + Sync {
    /// One attempt ended with `outcome` (`succeeded`, `retrying`, `failed`, `gone`, `blocked`)
    /// after `seconds`.
    fn attempt(&self, outcome: &'static str, seconds: f64);
}
