//! Webhooks in PostgreSQL: the endpoints and the durable delivery queue.

pub mod queue;

pub use queue::PgDeliveryQueue;
