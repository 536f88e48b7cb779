//! Orders: their status, the transitions between statuses and the events those cause; their
//! shipments and refunds, unit by unit.

pub mod events;
pub mod fulfillment;
pub mod placement;
pub mod status;
pub mod transitions;
