//! The payment provider, selected by `PAYMENT_PROVIDER`.
//!
//! `simulated` (the default) is `adapters_postgres::SimulatedPaymentGateway`: a card processor's
//! test mode (`tok_visa` captured, `tok_chargeDeclined` and unknown tokens declined, `tok_timeout`
//! captured but answering after `PAYMENT_TIMEOUT_MS`, `tok_error` failing without charging,
//! `SIMULATED_PAYMENT_LATENCY_MS` on every answer), keeping its charges in PostgreSQL so that a
//! restarted server can still ask it what happened.
//!
//! `stripe` is `adapters_stripe::StripePaymentGateway` (`STRIPE_SECRET_KEY`,
//! `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`), with the PaymentIntent of each attempt recorded
//! in PostgreSQL (`adapters_postgres::PgChargeRecords`), and its webhooks read by
//! `adapters_stripe::StripeEvents` (`POST /api/payments/stripe/webhook`).

use std::sync::Arc;

use adapters_postgres::{PgChargeRecords, PgPool, SimulatedPaymentGateway};
use adapters_stripe::{StripeClient, StripeEvents, StripePaymentGateway};
use app::payment_events::PaymentEventService;
use ports::{ChargeRecords, PaymentGateway};

use crate::config::PaymentSettings;

/// The gateway `settings` name.
pub fn gateway(
    settings: &PaymentSettings,
    pool: &PgPool,
) -> anyhow::Result<Arc<dyn PaymentGateway>> {
    match (settings.provider.as_str(), &settings.stripe) {
        ("simulated", _) => Ok(Arc::new(SimulatedPaymentGateway::new(
            pool.clone(),
            settings.simulated_latency,
            settings.timeout,
        ))),
        ("stripe", Some(stripe)) => Ok(Arc::new(StripePaymentGateway::new(
            StripeClient::new(stripe).map_err(anyhow::Error::msg)?,
            records(pool),
        ))),
        ("stripe", None) => anyhow::bail!("PAYMENT_PROVIDER: stripe without its settings"),
        (other, _) => {
            anyhow::bail!("PAYMENT_PROVIDER: unknown provider {other:?} (known: simulated, stripe)")
        }
    }
}

/// The provider's notifications, when it sends any (Stripe's webhooks); `None` for the simulated
/// provider (its webhook route then refuses every request as unsigned).
pub fn events(
    settings: &PaymentSettings,
    deps: &app::Deps,
    app_settings: &app::AppSettings,
    pool: &PgPool,
) -> anyhow::Result<Option<PaymentEventService>> {
    let Some(stripe) = settings
        .stripe
        .as_ref()
        .filter(|_| settings.provider == "stripe")
    else {
        return Ok(None);
    };
    let client = StripeClient::new(stripe).map_err(anyhow::Error::msg)?;
    Ok(Some(PaymentEventService::new(
        deps.clone(),
        app_settings,
        Arc::new(StripeEvents::new(client, stripe.webhook_secret.clone())),
        records(pool),
    )))
}

fn records(pool: &PgPool) -> Arc<dyn ChargeRecords> {
    Arc::new(PgChargeRecords::new(pool.clone()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;

    #[test]
    fn providers_are_chosen_by_name() {
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
            stripe: None,
        };
        assert!(gateway(&settings, &pool).is_ok());
        settings.provider = "stripe".into();
        assert!(gateway(&settings, &pool).is_err());
        settings.stripe = Some(adapters_stripe::StripeSettings {
            secret_key: SecretString::from("sk_test_x"),
            webhook_secret: SecretString::from("whsec_x"),
            api_base: "http://127.0.0.1:1".into(),
            timeout: Duration::from_secs(1),
        });
        assert!(gateway(&settings, &pool).is_ok());
        settings.provider = "stripe-ish".into();
        assert!(gateway(&settings, &pool).is_err());
    }
}
