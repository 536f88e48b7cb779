//! The event bus (API.md, "Event bus"): with `EVENT_BUS=nats`, committed events are published to a
//! NATS JetStream stream, and every instance follows the stream instead of `LISTEN`.
//!
//! - [`EventBus`]: the stream, as its one publisher sees it.
//! - [`PublisherLease`]: one publisher at a time across instances, taken over when its holder dies.
//!
//! The instances' side is an [`crate::EventSource`] over the stream, and a
//! [`crate::RevocationSource`] over a second stream that carries token revocations (read by the
//! publisher from the [`crate::RevocationLog`]).

use async_trait::async_trait;

use crate::StoreError;
use crate::events::StoredEvent;
use crate::revocations::LoggedRevocation;

/// The bus could not be reached, or refused a publish (for logs; the publisher starts over from
/// what the stream holds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

/// The stream of committed events.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync {
    /// The id of the last event in the stream, creating the stream when it is missing; 0 when it
    /// holds none.
    async fn last_published(&self) -> Result<i64, BusError>;

    /// Publishes `events` (id ascending, the first directly after `previous`, the id of the last
    /// event in the stream, 0 for an empty one) and returns once the stream has taken them all.
    /// Each carries its id as the message id (a repeat is dropped by the stream) and its
    /// predecessor's as the expected last id (a gap or a reorder is refused: nothing after the
    /// refused one is stored).
    async fn publish(&self, events: &[StoredEvent], previous: i64) -> Result<(), BusError>;

    /// The id of the last revocation in the revocations' stream (created when missing); 0 when
    /// it holds none.
    async fn last_revocation_published(&self) -> Result<i64, BusError>;

    /// Publishes `revocations` to the revocations' stream as [`EventBus::publish`] does events.
    async fn publish_revocations(
        &self,
        revocations: &[LoggedRevocation],
        previous: i64,
    ) -> Result<(), BusError>;
}

/// One publisher at a time across instances: held while its holder lives, free when it dies.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PublisherLease: Send {
    /// Takes the lease if nobody holds it; `true` when this instance holds it now.
    async fn acquire(&mut self) -> Result<bool, StoreError>;

    /// Whether this instance still holds it (its hold may have been lost with its connection).
    async fn still_held(&mut self) -> bool;
}
