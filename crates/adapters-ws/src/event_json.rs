//! The real-time event JSON of the contract, rendered once per event and shared by every client.

use std::sync::Arc;

use ports::StoredEvent;

/// An event ready to send: its id, type and JSON text.
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
    }
}
