//! Settings, from environment variables (or built in code by tests: nothing here reads a global or
//! the current directory once [`Settings`] exists).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `APP_ENV` | `production` | `development` or `production`: log format, and whether a missing `JWT_SECRET` is tolerated |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/oms` | PostgreSQL connection URL |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | connections in the pool, at most |
//! | `DATABASE_CONNECT_TIMEOUT` | `5s` | opening one connection, and waiting for a pooled one, at most |
//! | `DATABASE_STATEMENT_TIMEOUT` | `30s` | any one SQL statement, at most |
//! | `RUN_MIGRATIONS` | `false` | run the embedded migrations when `oms serve` starts |
//! | `BIND_ADDR` | `127.0.0.1:8080` | address the HTTP server listens on |
//! | `HTTP_WORKERS` | `0` | HTTP worker threads; 0 = one per core |
//! | `HTTP_KEEP_ALIVE` | `5s` | an idle keep-alive connection is closed after this (whole seconds, at least 2); answers say `Keep-Alive: timeout=` one second less |
//! | `SHUTDOWN_TIMEOUT` | `10s` | on SIGTERM/SIGINT, how long in-flight requests may take to finish |
//! | `PUBLIC_ORIGIN` | `http://localhost:8080` | the browser origin the server is reached at |
//! | `CORS_ALLOWED_ORIGINS` | (none) | comma-separated origins allowed to call with credentials |
//! | `TRUSTED_PROXIES` | (none) | comma-separated IPs or CIDRs whose `X-Forwarded-For` is believed |
//! | `JWT_SECRET` | required (random in development) | HS256 key of session tokens, at least 32 bytes |
//! | `JWT_TTL` | `12h` | lifetime of a session token |
//! | `COOKIE_SECURE` | `true` | `false` drops `Secure` from cookies (plain-http local development only) |
//! | `RATE_LIMIT_AUTH_PER_MINUTE` | `10` | register/login/token/password-change requests per client address per minute (0: off) |
//! | `RATE_LIMIT_API_PER_SECOND` | `100` | other requests per client address per second, burst twice that (0: off) |
//! | `RATE_LIMIT_ORDERS_PER_MINUTE` | `60` | order placements per signed-in user per minute (0: off) |
//! | `CURRENCY` | `USD` | the one currency (ISO 4217, three letters) |
//! | `SHIPPING_FLAT_CENTS` | `500` | shipping charged below the free-shipping threshold |
//! | `FREE_SHIPPING_THRESHOLD_CENTS` | `5000` | subtotal from which shipping is free |
//! | `TAX_RATES` | (none) | tax by destination, basis points: `GB=2000,DE=1900` |
//! | `PENDING_ORDER_TTL` | `30m` | how long an unpaid order holds its stock before it is cancelled |
//! | `IDEMPOTENCY_LEASE` | `60s` | how long a request that never answered (its instance died) holds its `Idempotency-Key`; at least `PAYMENT_TIMEOUT_MS` plus `DATABASE_STATEMENT_TIMEOUT` |
//! | `EVENT_RETENTION` | `30d` | how long order events are kept for real-time replay |
//! | `AUDIT_RETENTION` | `365d` | how long audit log entries are kept (at least `1d`); housekeeping purges older ones |
//! | `PAYMENT_PROVIDER` | `simulated` | the payment provider adapter: `simulated` or `stripe` |
//! | `PAYMENT_TIMEOUT_MS` | `5000` | one call to the payment provider, at most (milliseconds) |
//! | `SIMULATED_PAYMENT_LATENCY_MS` | `0` | delay of every simulated provider answer (milliseconds) |
//! | `STRIPE_SECRET_KEY` | required with `stripe` | Stripe's secret API key (`sk_test_...`, `sk_live_...`) |
//! | `STRIPE_WEBHOOK_SECRET` | required with `stripe` | the signing secret of the webhook endpoint (`whsec_...`) |
//! | `STRIPE_API_BASE` | `https://api.stripe.com` | where Stripe's API is reached (a local Stripe fake in tests) |
//! | `WS_PING_INTERVAL` | `30s` | WebSocket ping interval |
//! | `WS_PING_TIMEOUT` | `10s` | a WebSocket client that does not answer a ping this long is dropped |
//! | `WS_CLIENT_QUEUE` | `256` | events queued per real-time client before it is dropped as too slow |
//! | `WEBHOOK_TIMEOUT` | `10s` | one webhook attempt, connect to the end of the answer, at most |
//! | `WEBHOOK_RETRY_SCHEDULE` | `5s,5m,30m,2h,5h,10h,10h` | waits after each failed attempt (each ±10%); after the last the delivery is `failed` |
//! | `WEBHOOK_DISABLE_AFTER` | `5d` | an endpoint none of whose deliveries succeeded this long is disabled |
//! | `WEBHOOK_CONCURRENCY` | `16` | webhook attempts in flight per instance (at least 1) |
//! | `WEBHOOK_DELIVERY_RETENTION` | `30d` | how long webhook deliveries are kept in the deliveries log |
//! | `WEBHOOK_ALLOW_HTTP` | `false` | accept `http://` endpoint URLs (local development) |
//! | `EVENT_BUS` | `postgres` | how events travel between instances: `postgres` (`LISTEN`/`NOTIFY`) or `nats` (a JetStream stream) |
//! | `NATS_URL` | `nats://127.0.0.1:4222` | with `EVENT_BUS=nats`: the NATS servers, one URL or several comma-separated |
//! | `NATS_STREAM` | `OMS_EVENTS` | with `EVENT_BUS=nats`: the stream's name (created when missing) |
//! | `NATS_REPLICAS` | `1` | with `EVENT_BUS=nats`: the stream's replicas (3 in a cluster) |
//! | `NATS_SUBJECT_PREFIX` | `oms.events` | with `EVENT_BUS=nats`: subjects are `{prefix}.{user_id}.{order_id}` |
//! | `SMTP_URL` | (none: no email) | the mail server: `smtp://host:port`, `smtps://user:pass@host`, or `smtp://…?tls=required` (a secret: never logged) |
//! | `MAIL_FROM` | (none; required with `SMTP_URL`) | the sender, `Shop <orders@shop.example>` or a bare address; its domain ends every `Message-ID` |
//! | `ADMIN_EMAIL` | (none) | the shop's address: an email for every paid order |
//! | `MAIL_TIMEOUT` | `30s` | one email handed to the mail server, at most |
//! | `MAIL_RETRY_SCHEDULE` | `1m,5m,30m,2h,6h,12h` | waits after each transient failure (each ±10%); after the last the email is `failed` |
//! | `WEBHOOK_ALLOW_PRIVATE` | `false` | accept endpoints on loopback, private and other non-public addresses (local development, tests) |
//! | `METRICS_ADDR` | (none) | serve `/metrics` only on this address instead of the API's |
//! | `SENTRY_DSN` | (none) | report panics and 5xx errors to Sentry (off when unset) |
//! | `RUST_LOG` | `info` | log filter (tracing-subscriber `EnvFilter` syntax) |
//! | `ADMIN_PASSWORD` | (stdin) | password of `oms create-admin` |
//! | `DEMO_PASSWORD` | `demo-password` | password of the demo customers `oms seed-demo` creates |
//!
//! Durations are written `500ms`, `30s`, `5m`, `12h` or `30d`.

use std::net::IpAddr;
use std::time::Duration;

use app::mail::MailSettings;
use app::webhooks::WebhookSettings;
use domain::{Cents, PricingRules, TaxRates};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

/// The shortest accepted `AUDIT_RETENTION`: the database refuses to purge entries younger than a
/// day.
pub const MIN_AUDIT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// The shortest accepted `JWT_SECRET`, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// Every setting of the server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub rate_limits: RateLimits,
    pub shop: ShopSettings,
    pub payments: PaymentSettings,
    pub realtime: RealtimeSettings,
    pub webhooks: WebhookSettings,
    pub mail: MailConfig,
    pub bus: BusSettings,
    pub metrics_addr: Option<String>,
    pub sentry_dsn: Option<SecretString>,
    /// Things worth a warning at start-up (a generated secret, insecure cookies); logged once
    /// telemetry is up.
    pub warnings: Vec<String>,
}

/// `EVENT_BUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    Postgres,
    Nats,
}

/// How events travel between instances (`EVENT_BUS`, `NATS_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusSettings {
    pub kind: BusKind,
    pub nats_url: String,
    pub nats_stream: String,
    pub nats_replicas: usize,
    pub nats_subject_prefix: String,
}

/// Email (`SMTP_URL`, `MAIL_*`, `ADMIN_EMAIL`): off without `SMTP_URL`.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// May hold a password.
    pub smtp_url: Option<SecretString>,
    pub from: Option<String>,
    pub admin_email: Option<String>,
    pub settings: MailSettings,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: usize,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    pub run_migrations: bool,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `host:port`; port 0 picks a free port (tests).
    pub bind_addr: String,
    pub public_origin: String,
    pub cors_allowed_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    /// `HTTP_WORKERS`: HTTP worker threads; 0 means one per CPU core (tests use 1).
    pub workers: usize,
    /// `HTTP_KEEP_ALIVE`: an idle keep-alive connection is closed after this (whole seconds, at
    /// least 2; see [`crate::security_headers::keep_alive_secs`]).
    pub keep_alive: Duration,
    /// On shutdown, how long in-flight requests may take to finish (whole seconds, at least 1).
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub jwt_ttl: Duration,
    pub cookie_secure: bool,
}

/// Requests allowed; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub auth_per_minute: u32,
    pub api_per_second: u32,
    pub orders_per_minute: u32,
}

impl RateLimits {
    /// Every limit off (tests, fuzzing).
    pub const OFF: RateLimits = RateLimits {
        auth_per_minute: 0,
        api_per_second: 0,
        orders_per_minute: 0,
    };
}

#[derive(Debug, Clone)]
pub struct ShopSettings {
    pub currency: String,
    pub pricing: PricingRules,
    pub pending_order_ttl: Duration,
    pub event_retention: Duration,
    /// How long audit entries are kept (`AUDIT_RETENTION`): at least [`MIN_AUDIT_RETENTION`],
    /// which the database enforces too ([`Settings::check`]).
    pub audit_retention: Duration,
    /// How long a claimed `Idempotency-Key` without an answer is held before a retry may take it
    /// over: longer than any request may run ([`Settings::check`]).
    pub idempotency_lease: Duration,
}

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub provider: String,
    pub timeout: Duration,
    pub simulated_latency: Duration,
    /// With `PAYMENT_PROVIDER=stripe` (its secrets are `SecretString`s: `Debug` never shows them).
    pub stripe: Option<adapters_stripe::StripeSettings>,
}

/// The payment providers `PAYMENT_PROVIDER` may name.
pub const PAYMENT_PROVIDERS: [&str; 2] = ["simulated", "stripe"];

#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    pub ws_ping_interval: Duration,
    pub ws_ping_timeout: Duration,
    pub ws_client_queue: usize,
}

/// A setting that cannot be used; names the variable, never echoes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests). Empty values count
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();

        let app_env = match get("APP_ENV").as_deref().map(str::trim) {
            None | Some("production") => AppEnv::Production,
            Some("development") => AppEnv::Development,
            Some(_) => return Err(invalid("APP_ENV", "must be development or production")),
        };

        let jwt_secret = match get("JWT_SECRET") {
            Some(secret) => SecretString::from(secret),
            None if app_env == AppEnv::Development => {
                warnings.push(
                    "JWT_SECRET is not set: using a random secret (sessions end at restart)"
                        .to_owned(),
                );
                random_secret()
            }
            None => return Err(invalid("JWT_SECRET", "is required in production")),
        };
        check_jwt_secret(&jwt_secret)?;

        let cookie_secure = bool_var(&get, "COOKIE_SECURE", true)?;
        if !cookie_secure && app_env == AppEnv::Production {
            warnings
                .push("COOKIE_SECURE=false in production: cookies travel over plain http".into());
        }

        let tax_rates = match get("TAX_RATES") {
            Some(spec) => {
                TaxRates::parse(&spec).map_err(|e| invalid("TAX_RATES", e.to_string()))?
            }
            None => TaxRates::default(),
        };
        let provider = get("PAYMENT_PROVIDER")
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| "simulated".into());
        if !PAYMENT_PROVIDERS.contains(&provider.as_str()) {
            return Err(invalid(
                "PAYMENT_PROVIDER",
                format!("must be one of {}", PAYMENT_PROVIDERS.join(", ")),
            ));
        }
        let payment_timeout = Duration::from_millis(num_var(&get, "PAYMENT_TIMEOUT_MS", 5000)?);
        let stripe = if provider == "stripe" {
            Some(stripe_settings(&get, payment_timeout)?)
        } else {
            None
        };

        let currency = get("CURRENCY").unwrap_or_else(|| "USD".into());
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(invalid("CURRENCY", "must be a three-letter ISO 4217 code"));
        }

        let settings = Settings {
            app_env,
            database: DatabaseSettings {
                url: SecretString::from(
                    get("DATABASE_URL")
                        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/oms".into()),
                ),
                max_connections: num_var(&get, "DATABASE_MAX_CONNECTIONS", 10)?,
                connect_timeout: duration_var(&get, "DATABASE_CONNECT_TIMEOUT", "5s")?,
                statement_timeout: duration_var(&get, "DATABASE_STATEMENT_TIMEOUT", "30s")?,
                run_migrations: bool_var(&get, "RUN_MIGRATIONS", false)?,
            },
            http: HttpSettings {
                bind_addr: get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
                public_origin: get("PUBLIC_ORIGIN")
                    .unwrap_or_else(|| "http://localhost:8080".into())
                    .trim_end_matches('/')
                    .to_owned(),
                cors_allowed_origins: list(get("CORS_ALLOWED_ORIGINS"))
                    .into_iter()
                    .map(|o| o.trim_end_matches('/').to_owned())
                    .collect(),
                trusted_proxies: list(get("TRUSTED_PROXIES"))
                    .iter()
                    .map(|p| parse_net(p))
                    .collect::<Result<_, _>>()?,
                workers: num_var(&get, "HTTP_WORKERS", 0)?,
                keep_alive: duration_var(&get, "HTTP_KEEP_ALIVE", "5s")?,
                shutdown_timeout: duration_var(&get, "SHUTDOWN_TIMEOUT", "10s")?,
            },
            auth: AuthSettings {
                jwt_secret,
                jwt_ttl: duration_var(&get, "JWT_TTL", "12h")?,
                cookie_secure,
            },
            rate_limits: RateLimits {
                auth_per_minute: num_var(&get, "RATE_LIMIT_AUTH_PER_MINUTE", 10)?,
                api_per_second: num_var(&get, "RATE_LIMIT_API_PER_SECOND", 100)?,
                orders_per_minute: num_var(&get, "RATE_LIMIT_ORDERS_PER_MINUTE", 60)?,
            },
            shop: ShopSettings {
                currency,
                pricing: PricingRules {
                    shipping_flat: Cents(num_var(&get, "SHIPPING_FLAT_CENTS", 500)?),
                    free_shipping_threshold: Cents(num_var(
                        &get,
                        "FREE_SHIPPING_THRESHOLD_CENTS",
                        5000,
                    )?),
                    tax_rates,
                },
                pending_order_ttl: duration_var(&get, "PENDING_ORDER_TTL", "30m")?,
                event_retention: duration_var(&get, "EVENT_RETENTION", "30d")?,
                audit_retention: duration_var(&get, "AUDIT_RETENTION", "365d")?,
                idempotency_lease: duration_var(&get, "IDEMPOTENCY_LEASE", "60s")?,
            },
            payments: PaymentSettings {
                provider,
                timeout: payment_timeout,
                simulated_latency: Duration::from_millis(num_var(
                    &get,
                    "SIMULATED_PAYMENT_LATENCY_MS",
                    0,
                )?),
                stripe,
            },
            realtime: RealtimeSettings {
                ws_ping_interval: duration_var(&get, "WS_PING_INTERVAL", "30s")?,
                ws_ping_timeout: duration_var(&get, "WS_PING_TIMEOUT", "10s")?,
                ws_client_queue: num_var(&get, "WS_CLIENT_QUEUE", 256)?,
            },
            webhooks: WebhookSettings {
                timeout: duration_var(&get, "WEBHOOK_TIMEOUT", "10s")?,
                retry_schedule: schedule_var(
                    &get,
                    "WEBHOOK_RETRY_SCHEDULE",
                    domain::webhook::DEFAULT_RETRY_SCHEDULE.to_vec(),
                )?,
                disable_after: duration_var(&get, "WEBHOOK_DISABLE_AFTER", "5d")?,
                concurrency: num_var(&get, "WEBHOOK_CONCURRENCY", 16)?,
                delivery_retention: duration_var(&get, "WEBHOOK_DELIVERY_RETENTION", "30d")?,
                allow_http: bool_var(&get, "WEBHOOK_ALLOW_HTTP", false)?,
                allow_private: bool_var(&get, "WEBHOOK_ALLOW_PRIVATE", false)?,
            },
            mail: MailConfig {
                smtp_url: get("SMTP_URL").map(SecretString::from),
                from: get("MAIL_FROM"),
                admin_email: get("ADMIN_EMAIL"),
                settings: MailSettings {
                    timeout: duration_var(&get, "MAIL_TIMEOUT", "30s")?,
                    retry_schedule: schedule_var(
                        &get,
                        "MAIL_RETRY_SCHEDULE",
                        MailSettings::default().retry_schedule,
                    )?,
                    ..MailSettings::default()
                },
            },
            bus: BusSettings {
                kind: match get("EVENT_BUS").as_deref() {
                    None | Some("postgres") => BusKind::Postgres,
                    Some("nats") => BusKind::Nats,
                    Some(_) => return Err(invalid("EVENT_BUS", "must be postgres or nats")),
                },
                nats_url: get("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
                nats_stream: get("NATS_STREAM").unwrap_or_else(|| "OMS_EVENTS".into()),
                nats_replicas: num_var(&get, "NATS_REPLICAS", 1)?,
                nats_subject_prefix: get("NATS_SUBJECT_PREFIX")
                    .unwrap_or_else(|| "oms.events".into()),
            },
            metrics_addr: get("METRICS_ADDR"),
            sentry_dsn: get("SENTRY_DSN").map(SecretString::from),
            warnings,
        };
        settings.check()?;
        Ok(settings)
    }

    /// The bus: a stream name JetStream takes, 1 to 5 replicas, a prefix of plain tokens.
    fn check_bus(&self) -> Result<(), ConfigError> {
        let bus = &self.bus;
        let name_ok = !bus.nats_stream.is_empty()
            && bus
                .nats_stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            return Err(invalid("NATS_STREAM", "letters, digits, '_' and '-' only"));
        }
        if !(1..=5).contains(&bus.nats_replicas) {
            return Err(invalid("NATS_REPLICAS", "must be 1 to 5"));
        }
        let prefix_ok = bus.nats_subject_prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !prefix_ok {
            return Err(invalid(
                "NATS_SUBJECT_PREFIX",
                "dot-separated tokens of letters, digits, '_' and '-'",
            ));
        }
        Ok(())
    }

    /// Email: `SMTP_URL` a `smtp://` or `smtps://` URL, with `MAIL_FROM`; the addresses look like
    /// addresses (the mailer parses them fully at start-up).
    fn check_mail(&self) -> Result<(), ConfigError> {
        if self.mail.settings.timeout.is_zero() {
            return Err(invalid("MAIL_TIMEOUT", "must be more than 0"));
        }
        for (name, value) in [
            ("MAIL_FROM", &self.mail.from),
            ("ADMIN_EMAIL", &self.mail.admin_email),
        ] {
            if value.as_deref().is_some_and(|v| !v.contains('@')) {
                return Err(invalid(name, "must be an email address"));
            }
        }
        let Some(url) = &self.mail.smtp_url else {
            return Ok(());
        };
        let url = url.expose_secret();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(invalid(
                "SMTP_URL",
                "must be smtp://host:port, smtps://user:pass@host, or smtp://host:port?tls=required",
            ));
        }
        if self.mail.from.is_none() {
            return Err(invalid("MAIL_FROM", "is required when SMTP_URL is set"));
        }
        Ok(())
    }

    /// The rules of settings, checked when they are read and again when a server starts (tests
    /// build settings in code): audit entries are kept at least a day; a request may run for a provider call plus a statement, so
    /// an `IDEMPOTENCY_LEASE` shorter than that could hand a live request's key to a retry.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.shop.audit_retention < MIN_AUDIT_RETENTION {
            return Err(invalid(
                "AUDIT_RETENTION",
                "must be at least 1d (audit entries are kept at least a day)",
            ));
        }
        if self.webhooks.concurrency == 0 {
            return Err(invalid("WEBHOOK_CONCURRENCY", "must be at least 1"));
        }
        if self.webhooks.timeout.is_zero() {
            return Err(invalid("WEBHOOK_TIMEOUT", "must be more than 0"));
        }
        self.check_mail()?;
        self.check_bus()?;
        let longest_request = self.payments.timeout + self.database.statement_timeout;
        if self.shop.idempotency_lease < longest_request {
            return Err(invalid(
                "IDEMPOTENCY_LEASE",
                format!(
                    "must be at least PAYMENT_TIMEOUT_MS plus DATABASE_STATEMENT_TIMEOUT ({} ms)",
                    longest_request.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// Settings for tests and tools: the documented defaults with this database and secret,
    /// listening on `127.0.0.1:0`, cookies without `Secure`, rate limits off.
    pub fn for_tests(database_url: &str, jwt_secret: &str) -> Result<Settings, ConfigError> {
        let vars = [
            ("APP_ENV", "development"),
            ("DATABASE_URL", database_url),
            ("JWT_SECRET", jwt_secret),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("COOKIE_SECURE", "false"),
            ("DATABASE_MAX_CONNECTIONS", "5"),
        ];
        let mut settings = Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })?;
        settings.rate_limits = RateLimits::OFF;
        settings.http.workers = 1;
        Ok(settings)
    }

    /// The origins a browser may call from: `PUBLIC_ORIGIN` and `CORS_ALLOWED_ORIGINS`.
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.http.public_origin == origin
            || self.http.cors_allowed_origins.iter().any(|o| o == origin)
    }
}

/// `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET` (required), `STRIPE_API_BASE` (an
/// `http(s)://` URL, default Stripe's). The secrets are never echoed.
fn stripe_settings(
    get: &impl Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Result<adapters_stripe::StripeSettings, ConfigError> {
    let required = |name: &'static str| {
        get(name)
            .map(|v| SecretString::from(v.trim().to_owned()))
            .ok_or_else(|| invalid(name, "is required with PAYMENT_PROVIDER=stripe"))
    };
    let secret_key = required("STRIPE_SECRET_KEY")?;
    let webhook_secret = required("STRIPE_WEBHOOK_SECRET")?;
    let api_base = get("STRIPE_API_BASE")
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| adapters_stripe::DEFAULT_API_BASE.to_owned());
    let valid = url::Url::parse(&api_base)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid {
        return Err(invalid(
            "STRIPE_API_BASE",
            "must be an http:// or https:// URL",
        ));
    }
    Ok(adapters_stripe::StripeSettings {
        secret_key,
        webhook_secret,
        api_base,
        timeout,
    })
}

fn random_secret() -> SecretString {
    use base64::Engine as _;
    let bytes: [u8; 48] = rand::random();
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn check_jwt_secret(secret: &SecretString) -> Result<(), ConfigError> {
    let len = secret.expose_secret().len();
    if len < MIN_JWT_SECRET_BYTES {
        return Err(invalid(
            "JWT_SECRET",
            format!("must be at least {MIN_JWT_SECRET_BYTES} bytes (got {len})"),
        ));
    }
    Ok(())
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An IP address or CIDR (`10.0.0.0/8`, `192.168.1.1`).
pub fn parse_net(value: &str) -> Result<IpNet, ConfigError> {
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net);
    }
    value
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| invalid("TRUSTED_PROXIES", format!("{value:?} is not an IP or CIDR")))
}

fn bool_var(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(invalid(name, "must be true or false")),
    }
}

fn num_var<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| invalid(name, "must be a non-negative integer in range")),
    }
}

fn duration_var(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    let value = get(name).unwrap_or_else(|| default.to_owned());
    parse_duration(&value).ok_or_else(|| {
        invalid(
            name,
            format!("{value:?} is not a duration like 500ms, 30s, 5m, 12h, 30d"),
        )
    })
}

/// `WEBHOOK_RETRY_SCHEDULE`, `MAIL_RETRY_SCHEDULE`: comma-separated durations, at least one, each
/// more than zero.
fn schedule_var(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Vec<Duration>,
) -> Result<Vec<Duration>, ConfigError> {
    let Some(value) = get(name) else {
        return Ok(default);
    };
    let waits: Option<Vec<Duration>> = value
        .split(',')
        .map(|part| parse_duration(part).filter(|wait| !wait.is_zero()))
        .collect();
    waits.ok_or_else(|| {
        invalid(
            name,
            format!("{value:?} is not a list of durations like 1s,2s,4s (each more than 0)"),
        )
    })
}

/// Parses `500ms`, `30s`, `5m`, `12h`, `30d` (one number, one unit).
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds = |factor: u64| number.checked_mul(factor).map(Duration::from_secs);
    match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn webhook_settings() {
        let defaults = settings(&[("JWT_SECRET", SECRET)]).unwrap().webhooks;
        assert_eq!(defaults, WebhookSettings::default());
        let custom = settings(&[
            ("JWT_SECRET", SECRET),
            ("WEBHOOK_RETRY_SCHEDULE", "1s, 2s,4s"),
            ("WEBHOOK_TIMEOUT", "2s"),
            ("WEBHOOK_ALLOW_PRIVATE", "true"),
        ])
        .unwrap()
        .webhooks;
        assert_eq!(
            custom.retry_schedule,
            [1, 2, 4].map(Duration::from_secs).to_vec()
        );
        assert_eq!(custom.lease(), Duration::from_secs(7));
        assert!(custom.allow_private && !custom.allow_http);
        for (name, value) in [
            ("WEBHOOK_RETRY_SCHEDULE", "soon"),
            ("WEBHOOK_RETRY_SCHEDULE", "1s,0s"),
            ("WEBHOOK_RETRY_SCHEDULE", "1s,,2s"),
            ("WEBHOOK_CONCURRENCY", "0"),
            ("WEBHOOK_TIMEOUT", "0s"),
        ] {
            let error = settings(&[("JWT_SECRET", SECRET), (name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{value:?}");
        }
    }

    #[test]
    fn the_bus_is_postgres_unless_told_and_its_names_are_checked() {
        let default = settings(&[("JWT_SECRET", SECRET)]).unwrap().bus;
        assert_eq!(default.kind, BusKind::Postgres);
        assert_eq!(default.nats_stream, "OMS_EVENTS");
        let nats = settings(&[
            ("JWT_SECRET", SECRET),
            ("EVENT_BUS", "nats"),
            ("NATS_URL", "nats://10.0.0.5:4222,nats://10.0.0.6:4222"),
            ("NATS_REPLICAS", "3"),
        ])
        .unwrap()
        .bus;
        assert_eq!(nats.kind, BusKind::Nats);
        assert_eq!(nats.nats_replicas, 3);
        for (name, value) in [
            ("EVENT_BUS", "kafka"),
            ("NATS_STREAM", "oms.events"),
            ("NATS_REPLICAS", "0"),
            ("NATS_SUBJECT_PREFIX", "oms..events"),
            ("NATS_SUBJECT_PREFIX", "oms.>"),
        ] {
            let error = settings(&[("JWT_SECRET", SECRET), (name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{value:?}");
        }
    }

    #[test]
    fn stripe_settings_are_checked_and_never_printed() {
        let base = [
            ("JWT_SECRET", SECRET),
            ("PAYMENT_PROVIDER", "stripe"),
            ("STRIPE_SECRET_KEY", "sk_test_topsecretkey"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_topsecrethook"),
        ];
        let s = settings(&base).expect("valid");
        let stripe = s.payments.stripe.clone().expect("stripe settings");
        assert_eq!(stripe.api_base, "https://api.stripe.com");
        assert_eq!(stripe.secret_key.expose_secret(), "sk_test_topsecretkey");
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("topsecretkey") && !printed.contains("topsecrethook"),
            "{printed}"
        );
        for missing in ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"] {
            let vars: Vec<_> = base
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            let error = settings(&vars).unwrap_err();
            assert_eq!(error.variable, missing);
            assert!(error.to_string().contains(missing), "{error}");
        }
        let mut local = base.to_vec();
        local.push(("STRIPE_API_BASE", "http://127.0.0.1:8420/"));
        assert_eq!(
            settings(&local).unwrap().payments.stripe.unwrap().api_base,
            "http://127.0.0.1:8420"
        );
        let mut bad = base.to_vec();
        bad.push(("STRIPE_API_BASE", "ftp://x"));
        assert_eq!(settings(&bad).unwrap_err().variable, "STRIPE_API_BASE");
        let unknown = settings(&[("JWT_SECRET", SECRET), ("PAYMENT_PROVIDER", "paypal")]);
        assert_eq!(unknown.unwrap_err().variable, "PAYMENT_PROVIDER");
        // Without stripe, its variables are not needed.
        assert!(
            settings(&[("JWT_SECRET", SECRET)])
                .unwrap()
                .payments
                .stripe
                .is_none()
        );
    }

    #[test]
    fn email_is_off_without_smtp_url_and_needs_mail_from_with_it() {
        let off = settings(&[("JWT_SECRET", SECRET)]).unwrap().mail;
        assert!(off.smtp_url.is_none());
        assert_eq!(off.settings, MailSettings::default());
        let on = settings(&[
            ("JWT_SECRET", SECRET),
            ("SMTP_URL", "smtps://user:secret@mail.example.com"),
            ("MAIL_FROM", "Shop <orders@shop.example>"),
            ("ADMIN_EMAIL", "owner@shop.example"),
            ("MAIL_RETRY_SCHEDULE", "1s,2s"),
            ("MAIL_TIMEOUT", "5s"),
        ])
        .unwrap()
        .mail;
        assert_eq!(
            on.settings.retry_schedule,
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(on.settings.timeout, Duration::from_secs(5));
        assert!(
            !format!("{on:?}").contains("secret"),
            "SMTP_URL is never shown"
        );
        for (vars, variable) in [
            (&[("SMTP_URL", "smtp://127.0.0.1:25")][..], "MAIL_FROM"),
            (
                &[("SMTP_URL", "http://mail"), ("MAIL_FROM", "a@b.c")][..],
                "SMTP_URL",
            ),
            (&[("MAIL_FROM", "nobody")][..], "MAIL_FROM"),
            (&[("ADMIN_EMAIL", "nobody")][..], "ADMIN_EMAIL"),
            (
                &[("MAIL_RETRY_SCHEDULE", "later")][..],
                "MAIL_RETRY_SCHEDULE",
            ),
            (&[("MAIL_TIMEOUT", "0s")][..], "MAIL_TIMEOUT"),
        ] {
            let mut all = vec![("JWT_SECRET", SECRET)];
            all.extend_from_slice(vars);
            let error = settings(&all).unwrap_err();
            assert_eq!(error.variable, variable, "{vars:?}");
            assert!(!error.to_string().contains("secret"));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-5s",
            "1.5h",
            "5 m",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn defaults() {
        let s = settings(&[("JWT_SECRET", SECRET)]).expect("valid");
        assert_eq!(s.app_env, AppEnv::Production);
        assert_eq!(s.http.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.auth.jwt_ttl, Duration::from_secs(12 * 3600));
        assert!(s.auth.cookie_secure);
        assert_eq!(
            s.rate_limits,
            RateLimits {
                auth_per_minute: 10,
                api_per_second: 100,
                orders_per_minute: 60
            }
        );
        assert_eq!(s.shop.currency, "USD");
        assert_eq!(s.shop.pricing, PricingRules::default());
        assert_eq!(s.shop.pending_order_ttl, Duration::from_secs(1800));
        assert_eq!(s.payments.timeout, Duration::from_millis(5000));
        assert_eq!(s.payments.provider, "simulated");
        assert_eq!(s.realtime.ws_ping_interval, Duration::from_secs(30));
        assert_eq!(s.http.shutdown_timeout, Duration::from_secs(10));
        assert!(!s.database.run_migrations);
        assert_eq!(s.shop.audit_retention, Duration::from_secs(365 * 86_400));
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn audit_retention_is_at_least_a_day() {
        let s = settings(&[("JWT_SECRET", SECRET), ("AUDIT_RETENTION", "1d")]).expect("1d");
        assert_eq!(s.shop.audit_retention, Duration::from_secs(86_400));
        let s = settings(&[("JWT_SECRET", SECRET), ("AUDIT_RETENTION", "36h")]).expect("36h");
        assert_eq!(s.shop.audit_retention, Duration::from_secs(36 * 3600));
        for short in ["23h", "0s", "1439m", "86399s"] {
            let err =
                settings(&[("JWT_SECRET", SECRET), ("AUDIT_RETENTION", short)]).expect_err(short);
            assert_eq!(err.variable, "AUDIT_RETENTION", "{short}");
        }
        let err = settings(&[("JWT_SECRET", SECRET), ("AUDIT_RETENTION", "a year")])
            .expect_err("unparsable");
        assert_eq!(err.variable, "AUDIT_RETENTION");
        // Settings built in code are checked when a server starts.
        let mut built = Settings::for_tests("postgres://x/y", SECRET).expect("valid");
        built.shop.audit_retention = Duration::from_secs(3600);
        assert_eq!(
            built.check().expect_err("too short").variable,
            "AUDIT_RETENTION"
        );
    }

    #[test]
    fn jwt_secret_rules() {
        let missing = settings(&[]).expect_err("required in production");
        assert_eq!(missing.variable, "JWT_SECRET");
        let short = settings(&[("JWT_SECRET", "too-short")]).expect_err("short");
        assert_eq!(short.variable, "JWT_SECRET");
        assert!(!short.to_string().contains("too-short"), "never echoed");
        let dev = settings(&[("APP_ENV", "development")]).expect("random in development");
        assert!(dev.auth.jwt_secret.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
        assert_eq!(dev.warnings.len(), 1);
        let other = settings(&[("APP_ENV", "development")]).expect("random");
        assert_ne!(
            dev.auth.jwt_secret.expose_secret(),
            other.auth.jwt_secret.expose_secret()
        );
        assert!(!format!("{dev:?}").contains(dev.auth.jwt_secret.expose_secret()));
    }

    #[test]
    fn parsed_values() {
        let s = settings(&[
            ("JWT_SECRET", SECRET),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example/,https://b.example",
            ),
            ("TAX_RATES", "GB=2000,de=1900"),
            ("RATE_LIMIT_API_PER_SECOND", "0"),
            ("COOKIE_SECURE", "false"),
            ("JWT_TTL", "30m"),
            ("CURRENCY", "eur"),
            ("HTTP_WORKERS", "3"),
            ("HTTP_KEEP_ALIVE", "75s"),
        ])
        .expect("valid");
        assert_eq!(s.http.workers, 3);
        assert_eq!(s.http.keep_alive, Duration::from_secs(75));
        assert_eq!(s.http.trusted_proxies.len(), 2);
        assert_eq!(
            s.http.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(s.shop.pricing.tax_rates.rate_for("DE"), 1900);
        assert_eq!(s.rate_limits.api_per_second, 0);
        assert!(!s.auth.cookie_secure);
        assert_eq!(s.warnings.len(), 1, "insecure cookies in production warn");
        assert_eq!(s.auth.jwt_ttl, Duration::from_secs(1800));
        assert_eq!(s.shop.currency, "EUR");
        assert!(s.is_allowed_origin("https://b.example"));
        assert!(s.is_allowed_origin("http://localhost:8080"));
        assert!(!s.is_allowed_origin("https://evil.example"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("TRUSTED_PROXIES", "not-an-ip"),
            ("JWT_TTL", "12 hours"),
            ("SHUTDOWN_TIMEOUT", "10"),
            ("HTTP_WORKERS", "two"),
            ("COOKIE_SECURE", "maybe"),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "-1"),
            ("TAX_RATES", "GB"),
            ("APP_ENV", "staging"),
            ("CURRENCY", "dollars"),
        ] {
            let err = settings(&[("JWT_SECRET", SECRET), (name, value)]).expect_err(name);
            assert_eq!(err.variable, name);
        }
    }

    #[test]
    fn the_idempotency_lease_must_outlast_a_provider_call_and_a_statement() {
        let s = settings(&[("JWT_SECRET", SECRET)]).expect("defaults");
        assert_eq!(s.shop.idempotency_lease, Duration::from_secs(60));
        let ok = settings(&[
            ("JWT_SECRET", SECRET),
            ("IDEMPOTENCY_LEASE", "3s"),
            ("PAYMENT_TIMEOUT_MS", "2000"),
            ("DATABASE_STATEMENT_TIMEOUT", "1s"),
        ])
        .expect("3 s = 2 s + 1 s");
        assert_eq!(ok.shop.idempotency_lease, Duration::from_secs(3));
        for (lease, payment_ms, statement) in [("3s", "2001", "1s"), ("30s", "5000", "30s")] {
            let err = settings(&[
                ("JWT_SECRET", SECRET),
                ("IDEMPOTENCY_LEASE", lease),
                ("PAYMENT_TIMEOUT_MS", payment_ms),
                ("DATABASE_STATEMENT_TIMEOUT", statement),
            ])
            .expect_err(lease);
            assert_eq!(err.variable, "IDEMPOTENCY_LEASE");
        }
        // Settings built in code are checked when a server starts.
        let mut built = Settings::for_tests("postgres://x/y", SECRET).expect("valid");
        built.shop.idempotency_lease = Duration::from_secs(1);
        assert_eq!(
            built.check().expect_err("too short").variable,
            "IDEMPOTENCY_LEASE"
        );
    }

    #[test]
    fn test_settings() {
        let s = Settings::for_tests("postgres://x/y", SECRET).expect("valid");
        assert_eq!(s.http.bind_addr, "127.0.0.1:0");
        assert_eq!(s.rate_limits, RateLimits::OFF);
        assert_eq!(s.database.url.expose_secret(), "postgres://x/y");
        assert_eq!(s.auth.jwt_secret.expose_secret(), SECRET);
    }
}
