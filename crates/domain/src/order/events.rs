//! Domain events: one per change of an order.

use serde::{Deserialize, Serialize};

use super::status::OrderStatus;

/// The kind of change an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// An order was placed (`from_status` none, `to_status` `PENDING`).
    #[serde(rename = "order.created")]
    OrderCreated,
    /// `PENDING` → `PAID`, by the payment provider or an admin collecting offline.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// Any other move that is not a cancellation (`PAID` → `FULFILLED`).
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    /// Any move to `CANCELLED`.
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    /// A shipment that leaves the status as it was (`from_status` = `to_status`). A shipment that
    /// completes the order is the move `PAID` → `FULFILLED` and emits `order.status_changed`.
    #[serde(rename = "order.shipped")]
    Shipped,
    /// A refund that leaves the status as it was (`from_status` = `to_status`). A refund whose
    /// cancelled units complete the order emits `order.status_changed` instead.
    #[serde(rename = "order.refunded")]
    Refunded,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::OrderCreated,
        EventType::OrderPaid,
        EventType::OrderStatusChanged,
        EventType::OrderCancelled,
        EventType::Shipped,
        EventType::Refunded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderPaid => "order.paid",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::OrderCancelled => "order.cancelled",
            EventType::Shipped => "order.shipped",
            EventType::Refunded => "order.refunded",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// The event a move from `from` (none for a new order) to `to` causes. Never `Shipped` or
    /// `Refunded`: those report changes that do not move the status.
    pub const fn for_move(from: Option<OrderStatus>, to: OrderStatus) -> EventType {
        match (from, to) {
            (None, _) => EventType::OrderCreated,
            (Some(_), OrderStatus::Cancelled) => EventType::OrderCancelled,
            (Some(OrderStatus::Pending), OrderStatus::Paid) => EventType::OrderPaid,
            (Some(_), _) => EventType::OrderStatusChanged,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an event says happened, before it is stored (storage gives it an id and a time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub kind: EventType,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
}

impl OrderEvent {
    pub const fn created() -> OrderEvent {
        OrderEvent {
            kind: EventType::OrderCreated,
            from_status: None,
            to_status: OrderStatus::Pending,
        }
    }

    /// A shipment that left an order in `status` (`from_status` = `to_status` = `status`).
    pub const fn shipped(status: OrderStatus) -> OrderEvent {
        OrderEvent {
            kind: EventType::Shipped,
            from_status: Some(status),
            to_status: status,
        }
    }

    /// A refund that left an order in `status` (`from_status` = `to_status` = `status`).
    pub const fn refunded(status: OrderStatus) -> OrderEvent {
        OrderEvent {
            kind: EventType::Refunded,
            from_status: Some(status),
            to_status: status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_text() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(EventType::parse("order.shipped"), Some(EventType::Shipped));
        assert_eq!(
            EventType::parse("order.refunded"),
            Some(EventType::Refunded)
        );
        assert_eq!(EventType::parse("order.returned"), None);
    }

    #[test]
    fn shipped_and_refunded_keep_the_status() {
        for status in OrderStatus::ALL {
            let shipped = OrderEvent::shipped(status);
            assert_eq!(shipped.kind, EventType::Shipped);
            assert_eq!(
                (shipped.from_status, shipped.to_status),
                (Some(status), status)
            );
            let refunded = OrderEvent::refunded(status);
            assert_eq!(refunded.kind, EventType::Refunded);
            assert_eq!(
                (refunded.from_status, refunded.to_status),
                (Some(status), status)
            );
        }
    }
}
