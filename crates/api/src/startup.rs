//! Start-up: builds the pool, the repositories, the use cases and the server, binds the listener
//! (port 0 picks a free one), and starts the instance's background tasks: the one `LISTEN`
//! connection, the event relay, the revocation follower, the reconciler, and housekeeping.
//!
//! # How a committed event travels
//! ```text
//! LISTEN oms_events ── PgEventSource ──▶ app::EventRelay ──▶ sinks: the real-time hub,
//!                      (EventSource)     in id order, each once;      webhooks (WebhookSink)
//!                                        gaps and reconnects read from the EventLog
//!                                                                 email (when SMTP_URL is set)
//! each delivery sink ─ wakes ─▶ app::delivery::DeliveryLoop fan-out (events → deliveries, durable
//!                     position) ─ wakes ─▶ delivery loop (claim under a lease, attempt, record):
//!     webhooks: PgDeliveryQueue, sign, HttpWebhookSender;  email: PgMailQueue, SmtpMailer
//! LISTEN oms_revocations ── RevocationNotice ──▶ follow_revocations ──▶ RevokedTokens, the hub
//! ```
//! With `EVENT_BUS=nats` there is no `LISTEN`: the one bus publisher (`app::bus`, under a lease)
//! copies the event log and the revocation log to two JetStream streams, and each instance follows
//! them (`NatsEventSource`, `NatsRevocationSource`) in place of the two channels above.
//! [`Application::build`] only wires these. A new consumer of events (webhooks, email) implements
//! [`ports::EventSink`] and is registered with `.with_sink(…)` on the relay there.
//!
//! # Where the real-time routes plug in
//! [`Realtime`] holds the hub and a `configure` that mounts `/api/ws` and `/api/events` (it runs
//! after every other route, so a `web::scope("/api")` there shadows nothing). Build it in
//! [`realtime`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use adapters_postgres::listener;
use adapters_postgres::{
    ExportSettings, PgCustomerRepository, PgDeliveryQueue, PgEventLog, PgIdempotencyStore,
    PgMailQueue, PgOrderExport, PgOrderRepository, PgPool, PgProductRepository, PgSettings,
    PgTokenRevocations, PgUserRepository,
};
use adapters_webhooks::HttpWebhookSender;
use adapters_ws::Hub;
use anyhow::Context as _;
use app::{
    AdminOrderService, AppSettings, AuthService, CatalogueService, CustomerService, Deps,
    EventRelay, OrderService, mail::MailWorker, webhooks::DeliveryWorker,
};
use async_trait::async_trait;
use ports::{
    AuditLog, Clock, DeliveryQueue, EventLog, IdempotencyStore, MailQueue, OrderRepository,
    RevocationNotice, RevocationSource, StoreError, SystemClock, TokenRevocations,
};
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::auth::password::Argon2Hasher;
use crate::auth::{AuthState, RevokedTokens};
use crate::config::{BusKind, Settings};
use crate::error::extractors::{json_config, path_config, query_config};
use crate::error_reporting;
use crate::handlers;
use crate::handlers::realtime::RealtimeState;
use crate::metrics::{self, GaugeSources, Metrics};
use crate::order_metrics::count_outcomes;
use crate::paging::CursorKey;
use crate::panic_guard::catch_panic;
use crate::rate_limit::{ClientAddress, RateLimiters};
use crate::request_id::request_id;
use crate::security_headers::{keep_alive_secs, security_headers};
use crate::shutdown::ShutdownHandle;
use crate::state::{AppState, Readiness};
use crate::telemetry::RequestSpan;

/// How often expired revocations, idempotency keys and idle rate-limit keys are forgotten.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);
/// Idempotency keys are kept this long.
pub const IDEMPOTENCY_KEY_LIFETIME: time::Duration = time::Duration::hours(24);

/// A running instance: the bound server and its background tasks.
pub struct Application {
    port: u16,
    server: Server,
    /// The `METRICS_ADDR` server, when that is set.
    metrics_server: Option<MetricsServer>,
    metrics: Arc<Metrics>,
    hub: Hub,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pool: PgPool,
}

/// The running `METRICS_ADDR` server.
struct MetricsServer {
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    port: u16,
}

/// The real-time routes' plug (see the module documentation).
pub struct Realtime {
    /// Mounts the real-time routes (and their app data).
    pub configure: Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>,
    /// The hub: a sink of the event relay; closes revoked clients, and every client when the
    /// server shuts down.
    pub hub: Hub,
}

/// The real-time wiring of this instance: the hub and the routes `/api/ws` and `/api/events`
/// (which replay `since` from `events`).
pub fn realtime(settings: &Settings, events: Arc<dyn EventLog>) -> Realtime {
    let hub = Hub::new(settings.realtime.ws_client_queue);
    let mut allowed_origins = vec![settings.http.public_origin.clone()];
    allowed_origins.extend(settings.http.cors_allowed_origins.iter().cloned());
    let state = web::Data::new(RealtimeState {
        live: Arc::new(hub.clone()),
        log: events,
        ping_interval: settings.realtime.ws_ping_interval,
        ping_timeout: settings.realtime.ws_ping_timeout,
        allowed_origins,
    });
    Realtime {
        configure: Arc::new(move |cfg| {
            cfg.app_data(state.clone());
            handlers::realtime::configure(cfg);
        }),
        hub,
    }
}

struct PoolReadiness(PgPool);

#[async_trait]
impl Readiness for PoolReadiness {
    async fn check(&self) -> Result<(), StoreError> {
        adapters_postgres::ping(&self.0).await
    }
}

/// The pool settings of `settings`.
pub fn pg_settings(settings: &Settings) -> PgSettings {
    PgSettings {
        url: settings.database.url.expose_secret().to_owned(),
        max_size: settings.database.max_connections.max(1),
        connect_timeout: settings.database.connect_timeout,
        wait_timeout: settings.database.connect_timeout,
        statement_timeout: settings.database.statement_timeout,
        application_name: "oms".into(),
    }
}

/// CSV exports running at once, at most (each holds a database connection of its own, outside the
/// pool, for as long as its client reads).
pub const EXPORTS_MAX: usize = 4;

/// How the CSV export reaches the database: the pool's URL and timeouts, its own connections.
pub fn export_settings(settings: &Settings) -> ExportSettings {
    ExportSettings {
        url: settings.database.url.expose_secret().to_owned(),
        application_name: "oms-export".into(),
        connect_timeout: settings.database.connect_timeout,
        max_concurrent: EXPORTS_MAX,
    }
}

/// The use cases' settings of `settings`.
pub fn app_settings(settings: &Settings) -> AppSettings {
    AppSettings {
        currency: settings.shop.currency.clone(),
        pricing: settings.shop.pricing.clone(),
        payment_timeout: settings.payments.timeout,
        pending_order_ttl: time::Duration::try_from(settings.shop.pending_order_ttl)
            .unwrap_or(time::Duration::MAX),
    }
}

/// The ports over a pool.
pub async fn deps(settings: &Settings, pool: &PgPool) -> anyhow::Result<Deps> {
    Ok(Deps {
        users: Arc::new(PgUserRepository::new(pool.clone())),
        products: Arc::new(PgProductRepository::new(pool.clone())),
        orders: Arc::new(PgOrderRepository::new(pool.clone())),
        export: Arc::new(PgOrderExport::new(export_settings(settings))),
        events: Arc::new(PgEventLog::new(pool.clone())),
        payments: crate::payments::gateway(&settings.payments, pool)?,
        hasher: Arc::new(
            Argon2Hasher::new()
                .await
                .context("preparing the password hasher")?,
        ),
        clock: Arc::new(SystemClock),
        audit: Arc::new(adapters_postgres::PgAuditLog::new(pool.clone())),
        customers: Arc::new(PgCustomerRepository::new(pool.clone())),
    })
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.check()?;
        let pg = pg_settings(&settings);
        if settings.database.run_migrations {
            let applied = adapters_postgres::run_migrations(&pg.url)
                .await
                .context("running migrations")?;
            tracing::info!(applied, "migrations up to date");
        }
        let pool = adapters_postgres::build_pool(&pg).context("building the database pool")?;
        let metrics = Arc::new(Metrics::default());
        let mut deps = deps(&settings, &pool).await?;
        count_outcomes(&mut deps, &metrics);
        let app_settings = app_settings(&settings);
        let revocations: Arc<dyn TokenRevocations> =
            Arc::new(PgTokenRevocations::new(pool.clone()));
        let idempotency: Arc<dyn IdempotencyStore> = Arc::new(PgIdempotencyStore::new(
            pool.clone(),
            settings.shop.idempotency_lease,
        ));

        let revoked = Arc::new(RevokedTokens::default());
        let (count, users) = revoked
            .reload(&*revocations, deps.clock.now(), settings.auth.jwt_ttl)
            .await
            .context("loading the revoked tokens")?;
        tracing::info!(count, users, "revoked tokens loaded");

        let (shutdown, shutdown_rx) = watch::channel(false);
        let realtime = realtime(&settings, deps.events.clone());
        let mut tasks = Vec::new();
        let webhook_queue: Arc<dyn DeliveryQueue> = Arc::new(PgDeliveryQueue::new(pool.clone()));
        let webhooks = DeliveryWorker::new(
            webhook_queue.clone(),
            Arc::new(
                HttpWebhookSender::new(settings.webhooks.timeout, settings.webhooks.allow_private)
                    .map_err(anyhow::Error::msg)?,
            ),
            metrics.clone(),
            settings.webhooks.clone(),
        );
        let mail = mail_worker(&settings, &pool, deps.orders.clone(), metrics.clone())?;
        let Sources {
            events: source,
            revocations: revocation_source,
        } = sources(&settings, &deps, &pool, &pg.url, &shutdown_rx, &mut tasks).await?;
        // The relay ends when its source does (shutdown). Its start is read before the server
        // binds, so no client can have subscribed before it.
        let mut relay = EventRelay::new(source, deps.events.clone())
            .with_sink(Arc::new(realtime.hub.clone()))
            .with_sink(Arc::new(webhooks.sink()));
        if let Some((mail, _)) = &mail {
            relay = relay.with_sink(Arc::new(mail.sink()));
        }
        let relay = relay.after_latest().await;
        tasks.push(tokio::spawn(relay.run()));
        let mail_queue = mail.map(|(mail, queue)| {
            tasks.push(tokio::spawn(
                mail.clone().run_fan_out_until(shutdown_rx.clone()),
            ));
            tasks.push(tokio::spawn(mail.run_until(shutdown_rx.clone())));
            queue
        });
        tasks.push(tokio::spawn(
            webhooks.clone().run_fan_out_until(shutdown_rx.clone()),
        ));
        let webhook_wake = webhooks.waker();
        tasks.push(tokio::spawn(webhooks.run_until(shutdown_rx.clone())));
        tasks.push(tokio::spawn(watch_webhook_queue(
            webhook_queue.clone(),
            metrics.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(follow_revocations(
            revocation_source,
            Revocations {
                revoked: revoked.clone(),
                store: revocations.clone(),
                clock: deps.clock.clone(),
                token_ttl: settings.auth.jwt_ttl,
            },
            realtime.hub.clone(),
        )));

        let auth =
            web::Data::new(AuthState::new(&settings.auth, revoked).with_audit(deps.audit.clone()));
        let limiters = RateLimiters::new(
            &settings.rate_limits,
            settings.http.trusted_proxies.clone(),
            auth.clone(),
        )?;
        let client_address =
            web::Data::new(ClientAddress::new(settings.http.trusted_proxies.clone()));
        let state = web::Data::new(AppState {
            auth: AuthService::new(deps.clone()),
            catalogue: CatalogueService::new(deps.clone()),
            orders: OrderService::new(deps.clone(), app_settings.clone()),
            admin_orders: AdminOrderService::new(deps.clone(), app_settings.clone()),
            refunds: app::refunds::RefundService::new(deps.clone(), app_settings.clone()),
            audit: app::audit::AuditService::new(deps.clone()),
            event_feed: app::event_feed::EventFeed::new(deps.clone()),
            stats: app::stats::StatsService::new(
                Arc::new(adapters_postgres::PgStatsRepository::new(pool.clone())),
                deps.clock.clone(),
            ),
            customers: CustomerService::new(deps.clone()),
            webhooks: app::webhooks::WebhookService::new(
                Arc::new(adapters_postgres::PgWebhookStore::new(pool.clone())),
                Arc::new(adapters_webhooks::SystemResolver),
                settings.webhooks.clone(),
            )
            .with_wake(webhook_wake),
            idempotency: idempotency.clone(),
            revocations: revocations.clone(),
            clock: deps.clock.clone(),
            cursors: CursorKey::new(&settings.auth.jwt_secret),
            readiness: Arc::new(PoolReadiness(pool.clone())),
            currency: settings.shop.currency.clone(),
            payment_events: crate::payments::events(
                &settings.payments,
                &deps,
                &app_settings,
                &pool,
            )?,
        });

        let reconciler = app::Reconciler::new(deps.clone(), app_settings);
        let stop = shutdown_rx.clone();
        tasks.push(tokio::spawn(
            async move { reconciler.run_until(stop).await },
        ));
        tasks.push(tokio::spawn(housekeeping(
            Housekeeping {
                revocations,
                idempotency,
                events: deps.events.clone(),
                event_retention: time::Duration::try_from(settings.shop.event_retention)
                    .unwrap_or(time::Duration::MAX),
                audit: deps.audit.clone(),
                audit_retention: time::Duration::try_from(settings.shop.audit_retention)
                    .unwrap_or(time::Duration::MAX),
                clock: deps.clock.clone(),
                limiters: limiters.clone(),
                webhook_queue,
                mail_queue,
                delivery_retention: time::Duration::try_from(settings.webhooks.delivery_retention)
                    .unwrap_or(time::Duration::MAX),
            },
            shutdown_rx,
        )));

        let metrics_data = web::Data::from(metrics.clone());
        let gauges = web::Data::new(GaugeSources {
            pool: pool.clone(),
            pool_max: pg.max_size.max(1),
            hub: realtime.hub.clone(),
        });
        let metrics_server = match &settings.metrics_addr {
            Some(addr) => {
                let (server, port) =
                    metrics::metrics_server(addr, metrics_data.clone(), gauges.clone())?;
                // An actix `Server` serves only while it is polled.
                Some(MetricsServer {
                    handle: server.handle(),
                    task: tokio::spawn(server),
                    port,
                })
            }
            None => None,
        };
        let metrics_on_api = metrics_server.is_none();
        let sentry_enabled = sentry::Hub::current().client().is_some();

        let listener = TcpListener::bind(&settings.http.bind_addr)
            .with_context(|| format!("binding {}", settings.http.bind_addr))?;
        let port = listener.local_addr()?.port();
        let cors_settings = settings.clone();
        let workers = match settings.http.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let configure_realtime = realtime.configure.clone();
        let keep_alive = settings.http.keep_alive;
        let server = HttpServer::new(move || {
            let limiters = limiters.clone();
            let configure_realtime = configure_realtime.clone();
            let (metrics_data, gauges) = (metrics_data.clone(), gauges.clone());
            App::new()
                .app_data(metrics_data.clone())
                .app_data(state.clone())
                .app_data(auth.clone())
                .app_data(client_address.clone())
                .app_data(json_config())
                .app_data(path_config())
                .app_data(query_config())
                .configure(|cfg| handlers::configure(cfg, &limiters))
                .configure(move |cfg| configure_realtime(cfg))
                .configure(|cfg| {
                    if metrics_on_api {
                        metrics::configure(cfg, &metrics_data, &gauges);
                    }
                })
                .default_service(web::to(handlers::not_found))
                .wrap(from_fn(catch_panic))
                .wrap(handlers::problem_fallbacks())
                .wrap(limiters.api.middleware())
                .wrap(cors(&cors_settings))
                .wrap(security_headers(keep_alive))
                .wrap(from_fn(error_reporting::tag_request))
                .wrap(error_reporting::middleware(sentry_enabled))
                .wrap(from_fn(metrics::track))
                .wrap(TracingLogger::<RequestSpan>::new())
                .wrap(from_fn(request_id))
        })
        .workers(workers)
        .keep_alive(Duration::from_secs(keep_alive_secs(keep_alive)))
        .listen(listener)?
        // `oms serve` handles the signals itself (see `run_until_signalled`).
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout.as_secs().max(1))
        .run();
        tracing::info!(port, "listening");
        if let Some(metrics) = &metrics_server {
            tracing::info!(metrics_port = metrics.port, "metrics listening");
        }
        Ok(Application {
            port,
            server,
            metrics_server,
            metrics,
            hub: realtime.hub,
            shutdown,
            tasks,
            pool,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool (tools and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The port of the `METRICS_ADDR` server, when that is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|m| m.port)
    }

    /// The process's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A handle that stops the server abruptly or gracefully (tests; `oms serve` stops on
    /// SIGINT/SIGTERM through [`Application::run_until_signalled`]).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// A handle that shuts the instance down gracefully: real-time clients closed first, then
    /// in-flight requests finish (see [`crate::shutdown`]).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            server: self.server.handle(),
            metrics_server: self.metrics_server.as_ref().map(|m| m.handle.clone()),
            hub: self.hub.clone(),
        }
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (see [`crate::shutdown`]).
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.shutdown_handle();
        actix_web::rt::spawn(async move {
            let signal = crate::shutdown::signalled().await;
            tracing::info!(signal, "signal received: shutting down gracefully");
            handle.shutdown().await;
        });
        self.run_until_stopped().await
    }

    /// Serves until the server stops (`stop` on a handle, or a signal with
    /// [`Application::run_until_signalled`]), then stops the metrics server and the background
    /// tasks.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.hub.shutdown();
        let _ = self.shutdown.send(true);
        if let Some(metrics) = self.metrics_server {
            metrics.handle.stop(true).await;
            let _ = metrics.task.await;
        }
        for task in self.tasks {
            // The listener, reconciler and housekeeping end on the shutdown signal; a task
            // stuck in a database call is not waited for long.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop in time: aborted");
                abort.abort();
            }
        }
        result
    }
}

/// CORS: the origins of `CORS_ALLOWED_ORIGINS` (and `PUBLIC_ORIGIN`) with credentials.
fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_MATCH,
            header::HeaderName::from_static("x-csrf-token"),
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            header::HeaderName::from_static("x-request-id"),
        ])
        .supports_credentials()
        .max_age(600);
    for origin in std::iter::once(&settings.http.public_origin)
        .chain(settings.http.cors_allowed_origins.iter())
    {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// The in-memory revocation set and where to reload it from.
struct Revocations {
    revoked: Arc<RevokedTokens>,
    store: Arc<dyn TokenRevocations>,
    clock: Arc<dyn Clock>,
    /// `JWT_TTL`: user generations raised longer ago only concern expired tokens.
    token_ttl: Duration,
}

/// Applies the revocation notices (`LISTEN` or the bus) to the in-memory set (a token's `jti`, or
/// a user's minimum generation; a full reload after a reconnect, since notices were lost
/// meanwhile), then closes the revoked real-time clients (the set first: see
/// `handlers::realtime::open_feed`).
async fn follow_revocations(
    mut source: Box<dyn RevocationSource>,
    revocations: Revocations,
    hub: Hub,
) {
    let Revocations {
        revoked,
        store,
        clock,
        token_ttl,
    } = revocations;
    while let Some(notice) = source.next().await {
        match notice {
            RevocationNotice::Revoked(jti) => {
                revoked.insert(jti.clone());
                hub.revoke(&jti);
            }
            RevocationNotice::UserRevoked(generation) => {
                revoked.revoke_user(generation);
                hub.revoke_user(generation.user_id, generation.min_generation);
            }
            RevocationNotice::Reconnected => {
                match revoked.reload(&*store, clock.now(), token_ttl).await {
                    Ok((count, users)) => {
                        tracing::info!(count, users, "revoked tokens reloaded after a reconnect");
                    }
                    Err(error) => tracing::error!(%error, "reloading revoked tokens failed"),
                }
            }
        }
    }
}

/// The audit purge's cutoff: `retention` before `now` (the earliest time when it overflows).
fn audit_cutoff(now: time::OffsetDateTime, retention: time::Duration) -> time::OffsetDateTime {
    now.checked_sub(retention)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// What housekeeping forgets, now and then.
struct Housekeeping {
    revocations: Arc<dyn TokenRevocations>,
    idempotency: Arc<dyn IdempotencyStore>,
    events: Arc<dyn EventLog>,
    event_retention: time::Duration,
    audit: Arc<dyn AuditLog>,
    /// At least a day (`Settings::check`); the database refuses a later cutoff anyway.
    audit_retention: time::Duration,
    clock: Arc<dyn Clock>,
    limiters: RateLimiters,
    webhook_queue: Arc<dyn DeliveryQueue>,
    /// The email queue, when email is on.
    mail_queue: Option<Arc<dyn MailQueue>>,
    delivery_retention: time::Duration,
}

/// Forgets expired revocations, idempotency keys older than 24 hours, events older than
/// `EVENT_RETENTION`, audit entries older than `AUDIT_RETENTION` (through the database's purge,
/// the one way past the audit log's append-only trigger) and idle rate-limit keys. Safe on every
/// instance at once (plain deletes; two purges at once delete each entry once).
async fn housekeeping(work: Housekeeping, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        work.limiters.forget_idle();
        let now = work.clock.now();
        if let Err(error) = work.revocations.purge_expired(now).await {
            tracing::warn!(%error, "purging expired revocations failed");
        }
        if let Err(error) = work
            .idempotency
            .purge_before(now - IDEMPOTENCY_KEY_LIFETIME)
            .await
        {
            tracing::warn!(%error, "purging old idempotency keys failed");
        }
        if let Err(error) = work.events.purge_before(now - work.event_retention).await {
            tracing::warn!(%error, "purging old events failed");
        }
        match work
            .audit
            .purge(audit_cutoff(now, work.audit_retention))
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old audit entries purged"),
            Err(error) => tracing::warn!(%error, "purging old audit entries failed"),
        }
        if let Err(error) = work
            .webhook_queue
            .purge_before(audit_cutoff(now, work.delivery_retention))
            .await
        {
            tracing::warn!(%error, "purging old webhook deliveries failed");
        }
        if let Some(mail_queue) = &work.mail_queue
            && let Err(error) = mail_queue
                .purge_before(audit_cutoff(now, EMAIL_RETENTION))
                .await
        {
            tracing::warn!(%error, "purging old email records failed");
        }
    }
}

/// Where an instance hears of what any instance committed.
struct Sources {
    /// Committed events, for the relay.
    events: Box<dyn ports::EventSource>,
    /// Token revocations, for the revocation set.
    revocations: Box<dyn RevocationSource>,
}

/// The `LISTEN` connection (`EVENT_BUS=postgres`), or the NATS streams (`EVENT_BUS=nats`: no
/// `LISTEN` at all, and this instance also runs a bus publisher, which publishes events and
/// revocations while it holds the lease).
async fn sources(
    settings: &Settings,
    deps: &Deps,
    pool: &PgPool,
    database_url: &str,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Sources> {
    let bus = &settings.bus;
    if bus.kind == BusKind::Postgres {
        let listener = listener::spawn(database_url.to_owned(), shutdown.clone());
        tasks.push(listener.task);
        return Ok(Sources {
            events: Box::new(listener.events),
            revocations: Box::new(listener.revocations),
        });
    }
    let config = adapters_nats::NatsConfig {
        urls: bus.nats_url.clone(),
        stream: bus.nats_stream.clone(),
        replicas: bus.nats_replicas,
        subject_prefix: bus.nats_subject_prefix.clone(),
        retention: settings.shop.event_retention,
    };
    let client = adapters_nats::connect(&config)
        .await
        .map_err(anyhow::Error::msg)?;
    tracing::info!(stream = %config.stream, "events and revocations travel over NATS JetStream");
    let (events, task) =
        adapters_nats::NatsEventSource::spawn(client.clone(), config.clone(), shutdown.clone());
    tasks.push(task);
    let (revocations, task) = adapters_nats::NatsRevocationSource::spawn(
        client.clone(),
        config.clone(),
        shutdown.clone(),
    );
    tasks.push(task);
    let publisher = app::bus::BusPublisher::new(
        deps.events.clone(),
        Arc::new(PgTokenRevocations::new(pool.clone())),
        Arc::new(adapters_nats::NatsBus::new(client, config)),
        Box::new(adapters_postgres::PgPublisherLease::new(
            database_url.to_owned(),
        )),
        app::bus::PublisherSettings::default(),
    );
    tasks.push(tokio::spawn(publisher.run_until(shutdown.clone())));
    Ok(Sources {
        events: Box::new(events),
        revocations: Box::new(revocations),
    })
}

/// How long the record of an email (sent, failed) is kept.
const EMAIL_RETENTION: time::Duration = time::Duration::days(30);

/// Email, when `SMTP_URL` is set: the loops to run and the queue (for housekeeping). Unset, it
/// says so once and sends nothing.
fn mail_worker(
    settings: &Settings,
    pool: &PgPool,
    orders: Arc<dyn OrderRepository>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<(MailWorker, Arc<dyn MailQueue>)>> {
    let mail = &settings.mail;
    let (Some(url), Some(from)) = (&mail.smtp_url, &mail.from) else {
        tracing::info!("email is off: SMTP_URL is not set");
        return Ok(None);
    };
    let mailer = adapters_email::SmtpMailer::new(url.expose_secret(), from, mail.settings.timeout)
        .map_err(anyhow::Error::msg)?;
    tracing::info!(
        from = %from,
        shop_copy = mail.admin_email.is_some(),
        "email is on"
    );
    let queue: Arc<dyn MailQueue> =
        Arc::new(PgMailQueue::new(pool.clone(), mail.admin_email.clone()));
    let worker = MailWorker::new(
        queue.clone(),
        orders,
        Arc::new(mailer),
        metrics,
        mail.settings.clone(),
    );
    Ok(Some((worker, queue)))
}

/// How often the webhook queue's gauges are read.
const WEBHOOK_QUEUE_EVERY: Duration = Duration::from_secs(5);

/// Reads the webhook queue's depth per endpoint into the metrics, now and then.
async fn watch_webhook_queue(
    queue: Arc<dyn DeliveryQueue>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(WEBHOOK_QUEUE_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        match queue.stats().await {
            Ok(stats) => metrics.set_webhook_queue(stats),
            Err(error) => tracing::warn!(%error, "reading the webhook queue failed"),
        }
    }
}
