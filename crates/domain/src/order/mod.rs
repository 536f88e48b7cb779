//! Orders: their status, the transitions between statuses and the events those cause.

pub mod events;
pub mod placement;
pub mod status;
pub mod transitions;
