//! The admin use cases of webhooks: endpoints (create, list, read, change, delete), their secret
//! (rotation), the test event, the deliveries log and redelivery.
//!
//! # The URL check
//! At creation, and when a change gives a `url`:
//! 1. the URL rules ([`domain::webhook::parse_url`], `WEBHOOK_ALLOW_HTTP`): `Invalid` (422
//!    `validation_failed` on `url`);
//! 2. unless `WEBHOOK_ALLOW_PRIVATE`: an address written in the URL that is forbidden
//!    ([`domain::webhook::forbidden_reason`]: loopback, private, link-local, shared, multicast,
//!    unspecified, ...) is `UrlNotAllowed`; a host name is resolved ([`HostResolver`]) and is
//!    `UrlNotAllowed` when **any** of its addresses is forbidden (a name with one public and one
//!    private address would otherwise reach the private one whenever the client picks it).
//!
//! A name that does not resolve now is **accepted**: DNS may not be set up yet when an admin
//! registers the endpoint, and refusing it would prove nothing, since what a name resolves to can
//! change after this check anyway (DNS rebinding). The check that protects is the one made again
//! at every delivery, on the address actually connected to (the sender's); this one only tells the
//! admin early that a URL can never be delivered to.
//!
//! # Secrets
//! A new endpoint's secret and a rotated one are `whsec_` + base64 of 24 bytes of the thread's
//! CSPRNG (`rand::rng()`: ChaCha12 seeded from the OS). They are returned by [`create`] and
//! [`rotate_secret`] only; nothing else here ever returns one, and the store never puts one in an
//! audit entry.
//!
//! [`create`]: WebhookService::create
//! [`rotate_secret`]: WebhookService::rotate_secret

use std::sync::Arc;

use domain::ValidationErrors;
use domain::validation::{self, Lines};
use domain::webhook::{
    EventFilter, WebhookHost, WebhookSecret, WebhookUrl, forbidden_reason, parse_url,
};
use ports::{
    AuditContext, Delivery, DeliveryQuery, DeliveryStatus, EndpointCursor, EndpointQuery,
    HostResolver, NewWebhookEndpoint, StoreError, WebhookEndpoint, WebhookEndpointChange,
    WebhookStore,
};
use uuid::Uuid;

use super::{SECRET_OVERLAP, WebhookSettings};
use crate::paging::{self, Page};

/// The longest description, in characters (once trimmed).
pub const DESCRIPTION_MAX: usize = 500;

/// The field a description failure names.
pub const DESCRIPTION_FIELD: &str = "description";

/// Why a URL's address is refused (422 `webhook_url_not_allowed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook URL is not allowed: {reason}")]
pub struct UrlNotAllowed {
    /// For the admin: e.g. `"the host is a loopback address"`,
    /// `"the host resolves to 10.0.0.5, a private address"`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateWebhookError {
    /// `url`, `event_types`, `description`: each bad one named.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("the webhook URL is not allowed: {reason}")]
    UrlNotAllowed { reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetWebhookError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateWebhookError {
    #[error("webhook endpoint not found")]
    NotFound,
    /// `url`, `event_types`, `description`: each bad one named.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("the webhook URL is not allowed: {reason}")]
    UrlNotAllowed { reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeleteWebhookError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotateSecretError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendTestError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListDeliveriesError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryDeliveryError {
    /// No such endpoint, or no such delivery of it.
    #[error("webhook delivery not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UrlNotAllowed> for CreateWebhookError {
    fn from(e: UrlNotAllowed) -> Self {
        CreateWebhookError::UrlNotAllowed { reason: e.reason }
    }
}

impl From<UrlNotAllowed> for UpdateWebhookError {
    fn from(e: UrlNotAllowed) -> Self {
        UpdateWebhookError::UrlNotAllowed { reason: e.reason }
    }
}

/// `POST /api/admin/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateWebhook {
    pub url: String,
    /// `["*"]` or known event type names.
    pub event_types: Vec<String>,
    /// `None` and `""` both mean none.
    pub description: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// A new endpoint and its secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedWebhook {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

/// `PATCH /api/admin/webhooks/{id}`: the members given (`Some`) change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some(None)` and `Some(Some(""))` clear it.
    pub description: Option<Option<String>>,
    /// `true` re-enables (clearing `disabled_reason`), `false` disables.
    pub enabled: Option<bool>,
}

/// Webhook endpoints for admins.
#[derive(Clone)]
pub struct WebhookService {
    store: Arc<dyn WebhookStore>,
    resolver: Arc<dyn HostResolver>,
    settings: WebhookSettings,
    /// Wakes this instance's delivery loop when a delivery is made due now (test, retry).
    wake: Option<Arc<tokio::sync::Notify>>,
}

/// A description trimmed: none when absent or empty, else 1 to 500 characters of one line.
fn description(errors: &mut ValidationErrors, value: Option<&str>) -> Option<String> {
    validation::optional_text(
        errors,
        DESCRIPTION_FIELD,
        value,
        DESCRIPTION_MAX,
        Lines::Single,
    )
}

/// Adds the errors of `result` to `errors`; its value when it passed.
fn collect<T>(errors: &mut ValidationErrors, result: Result<T, ValidationErrors>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            errors.0.extend(e.0);
            None
        }
    }
}

/// 24 bytes of the thread's CSPRNG.
fn new_secret() -> WebhookSecret {
    WebhookSecret::from_random(rand::random())
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn WebhookStore>,
        resolver: Arc<dyn HostResolver>,
        settings: WebhookSettings,
    ) -> WebhookService {
        WebhookService {
            store,
            resolver,
            settings,
            wake: None,
        }
    }

    /// Wakes `wake` (the delivery worker's, [`super::DeliveryWorker::waker`]) whenever a delivery
    /// is made due now, so this instance attempts it at once (others find it within a second).
    #[must_use]
    pub fn with_wake(mut self, wake: Arc<tokio::sync::Notify>) -> WebhookService {
        self.wake = Some(wake);
        self
    }

    fn wake_worker(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }

    /// Unless `allow_private`, refuses a URL whose address is, or whose host resolves to, a
    /// forbidden one (see the module docs).
    async fn check_address(&self, url: &WebhookUrl) -> Result<(), UrlNotAllowed> {
        if self.settings.allow_private {
            return Ok(());
        }
        let refused = match url.host() {
            WebhookHost::Ip(_) => url.forbidden_literal().map(|reason| UrlNotAllowed {
                reason: format!("the host is a {reason} address"),
            }),
            WebhookHost::Domain(name) => match self.resolver.resolve(name, url.port()).await {
                Ok(addresses) => addresses.into_iter().find_map(|ip| {
                    forbidden_reason(ip).map(|reason| UrlNotAllowed {
                        reason: format!("the host resolves to {ip}, a {reason} address"),
                    })
                }),
                Err(error) => {
                    // Accepted: checked again at every delivery (see the module docs).
                    tracing::info!(host = name, %error, "webhook host does not resolve now; accepted");
                    None
                }
            },
        };
        refused.map_or(Ok(()), Err)
    }

    /// Creates an endpoint with a new secret; events committed from now on are delivered to it.
    #[tracing::instrument(skip(self, input, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn create(
        &self,
        input: CreateWebhook,
        ctx: &AuditContext,
    ) -> Result<CreatedWebhook, CreateWebhookError> {
        let mut errors = ValidationErrors::new();
        let url = collect(&mut errors, parse_url(&input.url, self.settings.allow_http));
        let event_types = collect(&mut errors, EventFilter::parse(&input.event_types));
        let description = description(&mut errors, input.description.as_deref());
        let (Some(url), Some(event_types), true) = (url, event_types, errors.is_empty()) else {
            return Err(errors.into());
        };
        self.check_address(&url).await?;
        let secret = new_secret();
        let endpoint = self
            .store
            .create(
                NewWebhookEndpoint {
                    id: Uuid::now_v7(),
                    url: url.as_str().to_owned(),
                    event_types,
                    description,
                    enabled: input.enabled.unwrap_or(true),
                    secret: secret.clone(),
                },
                ctx,
            )
            .await?;
        tracing::info!(webhook_id = %endpoint.id, "webhook endpoint created");
        Ok(CreatedWebhook { endpoint, secret })
    }

    /// Endpoints newest first, after `after`; `next` is the position of the last one when more
    /// exist.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        after: Option<EndpointCursor>,
        limit: u32,
    ) -> Result<Page<WebhookEndpoint, EndpointCursor>, StoreError> {
        let query = EndpointQuery {
            after,
            limit: paging::rows_to_fetch(limit),
        };
        let rows = self.store.list(&query).await?;
        Ok(Page::from_rows(rows, limit, EndpointCursor::of))
    }

    #[tracing::instrument(skip(self))]
    pub async fn get(&self, id: Uuid) -> Result<WebhookEndpoint, GetWebhookError> {
        self.store.get(id).await?.ok_or(GetWebhookError::NotFound)
    }

    /// Changes the members given. A change that changes nothing writes nothing (no audit entry).
    #[tracing::instrument(skip(self, patch, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn update(
        &self,
        id: Uuid,
        patch: WebhookPatch,
        ctx: &AuditContext,
    ) -> Result<WebhookEndpoint, UpdateWebhookError> {
        let mut errors = ValidationErrors::new();
        let url = match &patch.url {
            Some(url) => collect(&mut errors, parse_url(url, self.settings.allow_http)),
            None => None,
        };
        let event_types = match &patch.event_types {
            Some(names) => collect(&mut errors, EventFilter::parse(names)),
            None => None,
        };
        let description = patch
            .description
            .as_ref()
            .map(|d| description(&mut errors, d.as_deref()));
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if let Some(url) = &url {
            self.check_address(url).await?;
        }
        let change = WebhookEndpointChange {
            url: url.map(|url| url.as_str().to_owned()),
            event_types,
            description,
            enabled: patch.enabled,
        };
        self.store
            .update(id, change, ctx)
            .await?
            .ok_or(UpdateWebhookError::NotFound)
    }

    /// Deletes the endpoint and its deliveries.
    #[tracing::instrument(skip(self, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn delete(&self, id: Uuid, ctx: &AuditContext) -> Result<(), DeleteWebhookError> {
        if self.store.delete(id, ctx).await? {
            Ok(())
        } else {
            Err(DeleteWebhookError::NotFound)
        }
    }

    /// Gives the endpoint a new secret (returned this once); the old one keeps signing beside it
    /// for [`SECRET_OVERLAP`].
    #[tracing::instrument(skip(self, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        ctx: &AuditContext,
    ) -> Result<WebhookSecret, RotateSecretError> {
        let secret = new_secret();
        if self
            .store
            .rotate_secret(id, secret.clone(), SECRET_OVERLAP, ctx)
            .await?
        {
            Ok(secret)
        } else {
            Err(RotateSecretError::NotFound)
        }
    }

    /// Queues one `webhook.test` event for this endpoint only, whatever its `event_types` (and
    /// even while it is disabled: it is sent once it is enabled again).
    #[tracing::instrument(skip(self, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn send_test(&self, id: Uuid, ctx: &AuditContext) -> Result<Delivery, SendTestError> {
        let delivery = self
            .store
            .send_test(id, ctx)
            .await?
            .ok_or(SendTestError::NotFound)?;
        self.wake_worker();
        Ok(delivery)
    }

    /// The endpoint's deliveries, newest first (by event id), with `status` if given, before
    /// the event id `before`; `next` is the event id of the last one when more exist.
    #[tracing::instrument(skip(self))]
    pub async fn deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<Delivery, i64>, ListDeliveriesError> {
        let query = DeliveryQuery {
            endpoint_id,
            status,
            before_event_id: before,
            limit: paging::rows_to_fetch(limit),
        };
        let rows = self
            .store
            .deliveries(&query)
            .await?
            .ok_or(ListDeliveriesError::NotFound)?;
        Ok(Page::from_rows(rows, limit, |d: &Delivery| d.event_id))
    }

    /// Makes the delivery due now (a failed or succeeded one pending again).
    #[tracing::instrument(skip(self, ctx), fields(actor_id = ctx.actor.map(|a| a.id)))]
    pub async fn retry_delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        ctx: &AuditContext,
    ) -> Result<Delivery, RetryDeliveryError> {
        let delivery = self
            .store
            .retry_delivery(endpoint_id, delivery_id, ctx)
            .await?
            .ok_or(RetryDeliveryError::NotFound)?;
        self.wake_worker();
        Ok(delivery)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use domain::EventType;
    use mockall::predicate::eq;
    use ports::{MockHostResolver, MockWebhookStore};

    use super::*;
    use crate::test_support::{NOW, audit_context};

    fn settings() -> WebhookSettings {
        WebhookSettings::default()
    }

    fn service(store: MockWebhookStore, resolver: MockHostResolver) -> WebhookService {
        service_with(store, resolver, settings())
    }

    fn service_with(
        store: MockWebhookStore,
        resolver: MockHostResolver,
        settings: WebhookSettings,
    ) -> WebhookService {
        WebhookService::new(Arc::new(store), Arc::new(resolver), settings)
    }

    fn endpoint(id: Uuid, url: &str) -> WebhookEndpoint {
        WebhookEndpoint {
            id,
            url: url.to_owned(),
            event_types: EventFilter::All,
            description: None,
            enabled: true,
            disabled_reason: None,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn input(url: &str) -> CreateWebhook {
        CreateWebhook {
            url: url.to_owned(),
            event_types: vec!["*".into()],
            description: None,
            enabled: None,
        }
    }

    /// A store that stores whatever `create` gets and answers it as an endpoint.
    fn storing() -> MockWebhookStore {
        let mut store = MockWebhookStore::new();
        store.expect_create().returning(|new, _| {
            Ok(WebhookEndpoint {
                event_types: new.event_types,
                description: new.description,
                enabled: new.enabled,
                ..endpoint(new.id, &new.url)
            })
        });
        store
    }

    fn resolving(host: &'static str, addresses: &[&str]) -> MockHostResolver {
        resolving_on(host, 443, addresses)
    }

    fn resolving_on(host: &'static str, port: u16, addresses: &[&str]) -> MockHostResolver {
        let addresses: Vec<IpAddr> = addresses
            .iter()
            .map(|a| a.parse().expect("address"))
            .collect();
        let mut resolver = MockHostResolver::new();
        resolver
            .expect_resolve()
            .with(eq(host), eq(port))
            .times(1)
            .returning(move |_, _| Ok(addresses.clone()));
        resolver
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[tokio::test]
    async fn create_stores_the_normalised_url_and_returns_a_new_secret() {
        let mut store = MockWebhookStore::new();
        store
            .expect_create()
            .withf(|new, ctx| {
                new.url == "https://hooks.example.com/oms"
                    && new.event_types == EventFilter::Only(vec![EventType::OrderPaid])
                    && new.description.as_deref() == Some("Warehouse")
                    && !new.enabled
                    && *ctx == audit_context()
            })
            .times(1)
            .returning(|new, _| {
                Ok(WebhookEndpoint {
                    enabled: false,
                    ..endpoint(new.id, &new.url)
                })
            });
        let service = service(
            store,
            resolving(
                "hooks.example.com",
                &["93.184.215.14", "2606:2800:21f:cb07::1"],
            ),
        );
        let created = service
            .create(
                CreateWebhook {
                    url: " HTTPS://Hooks.Example.com/oms ".into(),
                    event_types: vec!["order.paid".into(), "order.paid".into()],
                    description: Some("  Warehouse ".into()),
                    enabled: Some(false),
                },
                &audit_context(),
            )
            .await
            .expect("created");
        let secret = created.secret.expose();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(secret.len(), "whsec_".len() + 32, "24 bytes in base64");
        assert_eq!(WebhookSecret::parse(&secret), Ok(created.secret.clone()));
        // Two secrets are never the same.
        let other = service_with(
            storing(),
            MockHostResolver::new(),
            WebhookSettings {
                allow_private: true,
                ..settings()
            },
        )
        .create(input("https://a.example/"), &audit_context())
        .await
        .expect("created");
        assert_ne!(other.secret, created.secret);
    }

    #[tokio::test]
    async fn every_bad_field_is_named_before_anything_is_resolved_or_stored() {
        // No expectation: neither the resolver nor the store may be called.
        let service = service(MockWebhookStore::new(), MockHostResolver::new());
        let bad = CreateWebhook {
            url: "http://hooks.example.com/".into(),
            event_types: vec!["order.teleported".into()],
            description: Some("a\nb".into()),
            enabled: None,
        };
        match service.create(bad, &audit_context()).await {
            Err(CreateWebhookError::Invalid(errors)) => {
                assert_eq!(fields(&errors), ["url", "event_types", "description"]);
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        for (url, description) in [
            ("https://user:pw@hooks.example.com/", None),
            (&*format!("https://a.example/{}", "x".repeat(2048)), None),
            ("https://a.example/", Some("d".repeat(501))),
            ("ftp://a.example/", None),
        ] {
            let result = service
                .create(
                    CreateWebhook {
                        description,
                        ..input(url)
                    },
                    &audit_context(),
                )
                .await;
            assert!(
                matches!(result, Err(CreateWebhookError::Invalid(_))),
                "{url}: {result:?}"
            );
        }
        let result = service
            .create(
                CreateWebhook {
                    event_types: vec![],
                    ..input("https://a.example/")
                },
                &audit_context(),
            )
            .await;
        assert!(
            matches!(result, Err(CreateWebhookError::Invalid(e)) if fields(&e) == ["event_types"])
        );
    }

    #[tokio::test]
    async fn http_only_with_allow_http() {
        let service = service_with(
            storing(),
            resolving_on("hooks.example.com", 80, &[]),
            WebhookSettings {
                allow_http: true,
                ..settings()
            },
        );
        let created = service
            .create(input("http://hooks.example.com/x"), &audit_context())
            .await
            .expect("http allowed");
        assert_eq!(created.endpoint.url, "http://hooks.example.com/x");
    }

    #[tokio::test]
    async fn forbidden_addresses_are_refused_written_or_resolved() {
        for literal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "[::1]",
            "[fc00::1]",
            "[fe80::1]",
            "[ff02::1]",
            "[::]",
            "[::ffff:127.0.0.1]",
            "2130706433",
        ] {
            // An address written in the URL is never resolved.
            let service = service(MockWebhookStore::new(), MockHostResolver::new());
            let result = service
                .create(input(&format!("https://{literal}/hook")), &audit_context())
                .await;
            assert!(
                matches!(&result, Err(CreateWebhookError::UrlNotAllowed { reason }) if reason.starts_with("the host is a")),
                "{literal}: {result:?}"
            );
        }
        // A name is refused when any of its addresses is forbidden.
        let service = service(
            MockWebhookStore::new(),
            resolving("mixed.example.com", &["93.184.215.14", "10.0.0.5"]),
        );
        assert_eq!(
            service
                .create(input("https://mixed.example.com/"), &audit_context())
                .await,
            Err(CreateWebhookError::UrlNotAllowed {
                reason: "the host resolves to 10.0.0.5, a private address".into()
            })
        );
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_accepted() {
        let mut resolver = MockHostResolver::new();
        resolver
            .expect_resolve()
            .with(eq("not-yet.example.com"), eq(8443))
            .times(1)
            .returning(|_, _| Err("no such host".into()));
        let created = service(storing(), resolver)
            .create(input("https://not-yet.example.com:8443/"), &audit_context())
            .await
            .expect("accepted");
        assert_eq!(created.endpoint.url, "https://not-yet.example.com:8443/");
    }

    #[tokio::test]
    async fn allow_private_skips_the_address_check() {
        let service = service_with(
            storing(),
            MockHostResolver::new(),
            WebhookSettings {
                allow_private: true,
                ..settings()
            },
        );
        for url in [
            "https://127.0.0.1:9000/hook",
            "https://localhost/",
            "https://[::1]/",
        ] {
            service
                .create(input(url), &audit_context())
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[tokio::test]
    async fn update_checks_only_what_it_is_given_and_passes_the_change_on() {
        let id = Uuid::now_v7();
        let mut store = MockWebhookStore::new();
        store
            .expect_update()
            .with(
                eq(id),
                eq(WebhookEndpointChange {
                    url: None,
                    event_types: Some(EventFilter::Only(vec![EventType::OrderCancelled])),
                    description: Some(None),
                    enabled: Some(true),
                }),
                eq(audit_context()),
            )
            .times(1)
            .returning(move |_, _, _| Ok(Some(endpoint(id, "https://a.example/"))));
        let service = service(store, MockHostResolver::new());
        let updated = service
            .update(
                id,
                WebhookPatch {
                    url: None,
                    event_types: Some(vec!["order.cancelled".into()]),
                    description: Some(Some("   ".into())),
                    enabled: Some(true),
                },
                &audit_context(),
            )
            .await
            .expect("updated");
        assert_eq!(updated.id, id);

        // A new URL is checked like at creation.
        let service = service_with(
            MockWebhookStore::new(),
            resolving("localhost", &["127.0.0.1"]),
            settings(),
        );
        let refused = service
            .update(
                id,
                WebhookPatch {
                    url: Some("https://localhost/".into()),
                    ..WebhookPatch::default()
                },
                &audit_context(),
            )
            .await;
        assert_eq!(
            refused,
            Err(UpdateWebhookError::UrlNotAllowed {
                reason: "the host resolves to 127.0.0.1, a loopback address".into()
            })
        );
        let invalid = service
            .update(
                id,
                WebhookPatch {
                    url: Some("https://@a.example/".into()),
                    event_types: Some(vec!["*".into(), "order.paid".into()]),
                    ..WebhookPatch::default()
                },
                &audit_context(),
            )
            .await;
        assert!(
            matches!(invalid, Err(UpdateWebhookError::Invalid(e)) if fields(&e) == ["url", "event_types"])
        );
    }

    #[tokio::test]
    async fn unknown_ids_are_not_found() {
        let id = Uuid::now_v7();
        let mut store = MockWebhookStore::new();
        store.expect_get().with(eq(id)).returning(|_| Ok(None));
        store.expect_update().returning(|_, _, _| Ok(None));
        store.expect_delete().returning(|_, _| Ok(false));
        store
            .expect_rotate_secret()
            .returning(|_, _, _, _| Ok(false));
        store.expect_send_test().returning(|_, _| Ok(None));
        store.expect_deliveries().returning(|_| Ok(None));
        store.expect_retry_delivery().returning(|_, _, _| Ok(None));
        let service = service(store, MockHostResolver::new());
        let ctx = audit_context();
        assert_eq!(service.get(id).await, Err(GetWebhookError::NotFound));
        assert_eq!(
            service.update(id, WebhookPatch::default(), &ctx).await,
            Err(UpdateWebhookError::NotFound)
        );
        assert_eq!(
            service.delete(id, &ctx).await,
            Err(DeleteWebhookError::NotFound)
        );
        assert_eq!(
            service.rotate_secret(id, &ctx).await,
            Err(RotateSecretError::NotFound)
        );
        assert_eq!(
            service.send_test(id, &ctx).await,
            Err(SendTestError::NotFound)
        );
        assert_eq!(
            service.deliveries(id, None, None, 50).await,
            Err(ListDeliveriesError::NotFound)
        );
        assert_eq!(
            service.retry_delivery(id, Uuid::now_v7(), &ctx).await,
            Err(RetryDeliveryError::NotFound)
        );
    }

    #[tokio::test]
    async fn rotation_hands_the_store_a_new_secret_and_the_overlap() {
        let id = Uuid::now_v7();
        let stored = Arc::new(std::sync::Mutex::new(None));
        let seen = stored.clone();
        let mut store = MockWebhookStore::new();
        store
            .expect_rotate_secret()
            .withf(move |i, _, overlap, ctx| {
                *i == id && *overlap == SECRET_OVERLAP && *ctx == audit_context()
            })
            .times(1)
            .returning(move |_, secret, _, _| {
                *seen.lock().expect("lock") = Some(secret);
                Ok(true)
            });
        let secret = service(store, MockHostResolver::new())
            .rotate_secret(id, &audit_context())
            .await
            .expect("rotated");
        assert_eq!(stored.lock().expect("lock").clone(), Some(secret.clone()));
        assert!(secret.expose().starts_with("whsec_"));
    }

    fn delivery(event_id: i64) -> Delivery {
        Delivery {
            id: Uuid::now_v7(),
            event_id,
            event_type: "order.paid".into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            next_attempt_at: Some(NOW),
            last_response_status: None,
            last_error: None,
        }
    }

    #[tokio::test]
    async fn deliveries_are_paged_by_event_id() {
        let id = Uuid::now_v7();
        let mut store = MockWebhookStore::new();
        store
            .expect_deliveries()
            .with(eq(DeliveryQuery {
                endpoint_id: id,
                status: Some(DeliveryStatus::Failed),
                before_event_id: Some(90),
                limit: 3,
            }))
            .times(1)
            .returning(|_| Ok(Some(vec![delivery(80), delivery(70), delivery(60)])));
        let page = service(store, MockHostResolver::new())
            .deliveries(id, Some(DeliveryStatus::Failed), Some(90), 2)
            .await
            .expect("page");
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next, Some(70));
    }

    #[tokio::test]
    async fn endpoints_are_paged_by_creation() {
        let mut store = MockWebhookStore::new();
        let rows: Vec<WebhookEndpoint> = (0..2)
            .map(|_| endpoint(Uuid::now_v7(), "https://a.example/"))
            .collect();
        let expected = EndpointCursor::of(&rows[0]);
        store
            .expect_list()
            .with(eq(EndpointQuery {
                after: None,
                limit: 2,
            }))
            .times(1)
            .returning(move |_| Ok(rows.clone()));
        let page = service(store, MockHostResolver::new())
            .list(None, 1)
            .await
            .expect("page");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next, Some(expected));
    }

    #[tokio::test]
    async fn test_and_retry_return_the_delivery() {
        let id = Uuid::now_v7();
        let queued = delivery(7);
        let delivery_id = queued.id;
        let mut store = MockWebhookStore::new();
        let answer = queued.clone();
        store
            .expect_send_test()
            .with(eq(id), eq(audit_context()))
            .times(1)
            .returning(move |_, _| Ok(Some(answer.clone())));
        let answer = queued.clone();
        store
            .expect_retry_delivery()
            .with(eq(id), eq(delivery_id), eq(audit_context()))
            .times(1)
            .returning(move |_, _, _| Ok(Some(answer.clone())));
        let service = service(store, MockHostResolver::new());
        assert_eq!(
            service.send_test(id, &audit_context()).await,
            Ok(queued.clone())
        );
        assert_eq!(
            service
                .retry_delivery(id, delivery_id, &audit_context())
                .await,
            Ok(queued)
        );
    }
}
