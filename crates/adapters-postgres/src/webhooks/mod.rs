//! Webhooks in PostgreSQL: the endpoints and the deliveries log as admins use them
//! ([`endpoints`]), and the durable delivery queue the worker uses ([`queue`]).

pub mod endpoints;
pub mod queue;

pub use endpoints::{PgWebhookStore, WEBHOOKS_CHANNEL};
pub use queue::PgDeliveryQueue;
