//! The admin use cases of webhooks (to be written).

/// Webhook endpoints for admins.
pub struct WebhookService;
