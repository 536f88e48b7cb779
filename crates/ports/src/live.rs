//! Live events: the in-memory fan-out of committed events to the connected real-time clients
//! (today the hub of `adapters-ws`), and the types crossing it.
//!
//! The fan-out is one sink of the event relay (`app::relay`), which hands it every committed event
//! once and in id order; a subscription therefore yields events id ascending. Replay of what a
//! client missed is not its job: `app::live_feed` reads the [`crate::EventLog`] for that.

use std::sync::Arc;

use async_trait::async_trait;
use domain::Role;

use crate::StoredEvent;

/// Who is watching: an admin sees every event, a customer those of their own orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub role: Role,
}

impl Viewer {
    pub fn may_see(&self, owner: i64) -> bool {
        self.role == Role::Admin || self.user_id == owner
    }

    /// The owner filter for the event log: none for an admin.
    pub fn owner_filter(&self) -> Option<i64> {
        match self.role {
            Role::Admin => None,
            Role::Customer => Some(self.user_id),
        }
    }
}

/// Why the server ends a client's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseReason {
    /// The session's token was revoked (logout; or the user was disabled, changed role or
    /// password): WebSocket close 1008.
    Revoked = 1,
    /// The client did not keep up and its queue filled: WebSocket close 1013 "slow consumer".
    SlowConsumer = 2,
    /// The server is shutting down: WebSocket close 1001.
    Shutdown = 3,
}

impl CloseReason {
    pub const fn description(self) -> &'static str {
        match self {
            CloseReason::Revoked => "session revoked",
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::Shutdown => "server shutting down",
        }
    }
}

/// An event ready to send: its id, type and the real-time JSON of the contract, rendered once per
/// event and shared by every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    pub id: i64,
    pub kind: &'static str,
    /// The order's owner: who besides admins may see it.
    pub user_id: i64,
    pub json: Arc<str>,
}

impl EventMessage {
    pub fn from_event(event: &StoredEvent) -> EventMessage {
        let json = event.to_json();
        EventMessage {
            id: event.id,
            kind: event.kind.as_str(),
            user_id: event.user_id,
            json: Arc::from(json),
        }
    }

    /// The message that tells a client its `since` is older than the retention: refetch.
    pub fn stream_reset() -> Arc<str> {
        Arc::from(r#"{"type":"stream.reset"}"#)
    }
}

/// The live fan-out of committed events to connected clients.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait LiveEvents: Send + Sync {
    /// Registers a client of `viewer` signed in with the token `jti` of generation `generation`
    /// (what revocation closes). Every event delivered to the fan-out from now on that `viewer`
    /// may see ([`Viewer::may_see`]) reaches the subscription, id ascending. Dropping the
    /// subscription leaves.
    fn subscribe(&self, viewer: Viewer, jti: &str, generation: i64) -> Box<dyn LiveSubscription>;
}

/// One client's live queue (see [`LiveEvents::subscribe`]).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait LiveSubscription: Send {
    /// The next live event, waiting for one, or why the stream ended (then every later call ends
    /// the same way). Cancel-safe: dropping the future loses no event.
    async fn recv(&mut self) -> Result<Arc<EventMessage>, CloseReason>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{EventType, FulfillmentStatus, OrderStatus, PaymentStatus};
    use time::macros::datetime;
    use uuid::Uuid;

    #[test]
    fn renders_the_contract_shape() {
        let event = StoredEvent {
            id: 42,
            kind: EventType::OrderPaid,
            order_id: Uuid::nil(),
            user_id: 7,
            from_status: Some(OrderStatus::Pending),
            to_status: OrderStatus::Paid,
            payment_status: PaymentStatus::Captured,
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            total_amount: 2500,
            refunded_amount: 0,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor: None,
            note: Some("secret note not sent".into()),
            occurred_at: datetime!(2026-11-25 10:00:00.123456 UTC),
        };
        let message = EventMessage::from_event(&event);
        assert_eq!(
            (message.id, message.kind, message.user_id),
            (42, "order.paid", 7)
        );
        let value: serde_json::Value = serde_json::from_str(&message.json).expect("json");
        assert_eq!(
            value,
            serde_json::json!({
                "id": 42, "type": "order.paid", "order_id": Uuid::nil(), "user_id": 7,
                "from_status": "PENDING", "to_status": "PAID", "payment_status": "captured",
                "fulfillment_status": "unfulfilled", "total_amount": 2500,
                "refunded_amount": 0, "occurred_at": "2026-11-25T10:00:00.123456Z"
            })
        );
        // A shipment's event names it.
        let shipped = StoredEvent {
            kind: EventType::Shipped,
            from_status: Some(OrderStatus::Paid),
            fulfillment_status: FulfillmentStatus::PartiallyFulfilled,
            shipment_id: Some(Uuid::nil()),
            ..event
        };
        let value: serde_json::Value =
            serde_json::from_str(&EventMessage::from_event(&shipped).json).expect("json");
        assert_eq!(value["type"], "order.shipped");
        assert_eq!(value["fulfillment_status"], "partially_fulfilled");
        assert_eq!(value["shipment_id"], Uuid::nil().to_string());
        let reset: serde_json::Value =
            serde_json::from_str(&EventMessage::stream_reset()).expect("json");
        assert_eq!(reset, serde_json::json!({"type": "stream.reset"}));
    }

    #[test]
    fn admins_see_everything_customers_their_own() {
        let admin = Viewer {
            user_id: 1,
            role: Role::Admin,
        };
        let alice = Viewer {
            user_id: 2,
            role: Role::Customer,
        };
        assert!(admin.may_see(2) && admin.may_see(3));
        assert!(alice.may_see(2) && !alice.may_see(3));
        assert_eq!(admin.owner_filter(), None);
        assert_eq!(alice.owner_filter(), Some(2));
    }
}
