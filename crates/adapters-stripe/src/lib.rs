//! Stripe as the payment provider (`PAYMENT_PROVIDER=stripe`), behind `ports::PaymentGateway`.
//!
//! - [`client`]: a small typed client of the few Stripe calls made (form-encoded requests over
//!   reqwest, JSON answers read with serde): PaymentIntents (create and confirm in one call,
//!   retrieve, list), refunds (create, retrieve, list by PaymentIntent).
//! - [`gateway`]: [`StripePaymentGateway`]: charges, lookups for the reconciler and refunds, with
//!   the PaymentIntent of each attempt recorded through `ports::ChargeRecords` so that a retry or
//!   the reconciler finds it instead of charging again (even where Stripe's `Idempotency-Key`
//!   would not: a local fake ignores it).
//! - [`signature`]: the `Stripe-Signature` check of webhooks.
//! - [`events`]: [`StripeEvents`]: a webhook read after its signature is checked, the object it is
//!   about retrieved from Stripe again (its body is never trusted).
//!
//! The secret key and the webhook secret are `secrecy::SecretString`s: never printed by `Debug`,
//! never logged; nothing from Stripe but a decline code reaches a client.

pub mod client;
pub mod events;
pub mod gateway;
pub mod signature;

use std::time::Duration;

use secrecy::SecretString;

pub use client::{StripeClient, StripeError};
pub use events::StripeEvents;
pub use gateway::StripePaymentGateway;

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// How the server talks to Stripe.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `STRIPE_SECRET_KEY` (`sk_test_...` or `sk_live_...`).
    pub secret_key: SecretString,
    /// `STRIPE_WEBHOOK_SECRET` (`whsec_...`): the whole string keys the HMAC.
    pub webhook_secret: SecretString,
    /// `STRIPE_API_BASE`, without a trailing `/`.
    pub api_base: String,
    /// `PAYMENT_TIMEOUT_MS`: one call, at most.
    pub timeout: Duration,
}
