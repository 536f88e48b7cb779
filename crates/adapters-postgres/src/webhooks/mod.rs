//! Webhooks: the endpoints and the deliveries log as admins use them ([`endpoints`]).

pub mod endpoints;

pub use endpoints::{PgWebhookStore, WEBHOOKS_CHANNEL};
