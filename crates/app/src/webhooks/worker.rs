//! The delivery worker (to be written).

/// Delivers due webhook deliveries.
pub struct DeliveryWorker;

/// The relay sink that asks for the fan-out.
pub struct WebhookSink;
