//! The payment provider, selected by `PAYMENT_PROVIDER`.
//!
//! `simulated` (the default) is `adapters_postgres::SimulatedPaymentGateway`: a card processor's
//! test mode (`tok_visa` captured, `tok_chargeDeclined` and unknown tokens declined, `tok_timeout`
//! captured but answering after `PAYMENT_TIMEOUT_MS`, `tok_error` failing without charging,
//! `SIMULATED_PAYMENT_LATENCY_MS` on every answer), keeping its charges in PostgreSQL so that a
//! restarted server can still ask it what happened.
//!
//! A real provider plugs in here: implement `ports::PaymentGateway` (charge with the order id as
//! the provider's idempotency key, look a charge up by it, refund) in an adapter crate, and add its
//! `PAYMENT_PROVIDER` value below (its secrets as `secrecy` types in the settings).

use std::sync::Arc;

use adapters_postgres::{PgPool, SimulatedPaymentGateway};
use ports::PaymentGateway;

use crate::config::PaymentSettings;

/// The gateway `settings` name.
pub fn gateway(
    settings: &PaymentSettings,
    pool: &PgPool,
) -> anyhow::Result<Arc<dyn PaymentGateway>> {
    match settings.provider.as_str() {
        "simulated" => Ok(Arc::new(SimulatedPaymentGateway::new(
            pool.clone(),
            settings.simulated_latency,
            settings.timeout,
        ))),
        other => anyhow::bail!("PAYMENT_PROVIDER: unknown provider {other:?} (known: simulated)"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn unknown_providers_are_refused() {
        let pool = adapters_postgres::build_pool(&adapters_postgres::PgSettings {
            url: "postgres://nobody@127.0.0.1:1/none".into(),
            max_size: 1,
            connect_timeout: Duration::from_millis(10),
            wait_timeout: Duration::from_millis(10),
            statement_timeout: Duration::from_millis(10),
            application_name: "test".into(),
        })
        .expect("a lazy pool");
        let mut settings = PaymentSettings {
            provider: "simulated".into(),
            timeout: Duration::from_secs(1),
            simulated_latency: Duration::ZERO,
        };
        assert!(gateway(&settings, &pool).is_ok());
        settings.provider = "stripe-ish".into();
        assert!(gateway(&settings, &pool).is_err());
    }
}
