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
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::OrderCreated,
        EventType::OrderPaid,
        EventType::OrderStatusChanged,
        EventType::OrderCancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderPaid => "order.paid",
            EventType::OrderStatusChanged => "order.status_changed",
            EventType::OrderCancelled => "order.cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// The event a move from `from` (none for a new order) to `to` causes.
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
}
