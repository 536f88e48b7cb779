//! Test helpers: mocks of every port gathered into [`Deps`], fixtures, a slow gateway.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::order::placement::ShippingAddress;
use domain::{AddressInput, LineInput, OrderStatus, PaymentStatus, Role};
use ports::{
    Actor, ChargeOutcome, ChargeRequest, ChargeState, MockAuditLog, MockClock,
    MockCustomerRepository, MockEventLog, MockOrderExport, MockOrderRepository, MockPasswordHasher,
    MockPaymentGateway, MockProductRepository, MockUserRepository, Order, OrderItem, PaymentError,
    PaymentGateway, Product, User,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use crate::{AppSettings, Deps};

/// The time every test's clock says.
pub const NOW: OffsetDateTime = datetime!(2026-11-25 10:00:00 UTC);

/// One mock per port. A mock with no expectation panics when called, so a test that sets none
/// asserts the port is not used.
#[derive(Default)]
pub struct Mocks {
    pub users: MockUserRepository,
    pub products: MockProductRepository,
    pub orders: MockOrderRepository,
    pub export: MockOrderExport,
    pub events: MockEventLog,
    pub payments: MockPaymentGateway,
    pub hasher: MockPasswordHasher,
    pub audit: MockAuditLog,
    pub customers: MockCustomerRepository,
}

impl Mocks {
    pub fn new() -> Mocks {
        Mocks::default()
    }

    /// The mocks as [`Deps`], with a clock fixed at [`NOW`].
    pub fn into_deps(self) -> Deps {
        self.into_deps_with_gateway(None)
    }

    /// As [`Mocks::into_deps`], with `gateway` in place of the mock gateway.
    pub fn into_deps_with_gateway(self, gateway: Option<Arc<dyn PaymentGateway>>) -> Deps {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        Deps {
            users: Arc::new(self.users),
            products: Arc::new(self.products),
            orders: Arc::new(self.orders),
            export: Arc::new(self.export),
            events: Arc::new(self.events),
            payments: gateway.unwrap_or_else(|| Arc::new(self.payments)),
            hasher: Arc::new(self.hasher),
            clock: Arc::new(clock),
            audit: Arc::new(self.audit),
            customers: Arc::new(self.customers),
        }
    }
}

pub fn settings() -> AppSettings {
    AppSettings {
        payment_timeout: Duration::from_millis(500),
        ..AppSettings::default()
    }
}

pub const CUSTOMER: Actor = Actor {
    id: 7,
    role: Role::Customer,
};
pub const OTHER_CUSTOMER: Actor = Actor {
    id: 8,
    role: Role::Customer,
};
pub const ADMIN: Actor = Actor {
    id: 1,
    role: Role::Admin,
};

/// The audit context of an admin's request (actor [`ADMIN`], request `req-audit`, address
/// `203.0.113.9`).
pub fn audit_context() -> ports::AuditContext {
    ports::AuditContext {
        actor: Some(ADMIN),
        request_id: Some("req-audit".into()),
        client_ip: Some("203.0.113.9".into()),
    }
}

pub fn user(id: i64, email: &str, role: Role) -> User {
    User {
        id,
        email: email.to_owned(),
        role,
        status: domain::UserStatus::Active,
        token_generation: 0,
        created_at: NOW,
    }
}

pub fn product(id: i64) -> Product {
    Product {
        id,
        name: format!("Product {id}"),
        description: None,
        price: 1000,
        stock_quantity: 5,
        sku: format!("SKU-{id}"),
        image_url: None,
        archived: false,
        version: 1,
        created_at: NOW,
        updated_at: NOW,
    }
}

pub fn address_input() -> AddressInput {
    AddressInput {
        name: "Ada Lovelace".into(),
        line1: "1 Main St".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: Some("N1 9GU".into()),
        country: "gb".into(),
    }
}

pub fn lines() -> Vec<LineInput> {
    vec![LineInput {
        product_id: 12,
        quantity: 2,
    }]
}

/// An order of `user_id`, two units of product 12, created at `NOW`.
pub fn order(id: Uuid, user_id: i64, status: OrderStatus, payment: PaymentStatus) -> Order {
    Order {
        id,
        user_id,
        status,
        payment_status: payment,
        payment_collected: matches!(payment, PaymentStatus::Captured | PaymentStatus::Refunded),
        payment_reference: None,
        payment_attempt: 1,
        subtotal: 2000,
        shipping_amount: 500,
        tax_amount: 500,
        total_amount: 3000,
        currency: "USD".into(),
        shipping_address: ShippingAddress {
            name: "Ada Lovelace".into(),
            line1: "1 Main St".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: Some("N1 9GU".into()),
            country: "GB".into(),
        },
        tracking: None,
        items: vec![OrderItem {
            product_id: 12,
            sku: "SKU-12".into(),
            name: "Product 12".into(),
            quantity: 2,
            unit_price: 1000,
            line_total: 2000,
            quantity_shipped: 0,
            quantity_cancelled: 0,
            quantity_returned: 0,
        }],
        fulfillment_status: domain::FulfillmentStatus::Unfulfilled,
        refunded_amount: 0,
        shipments: Vec::new(),
        refunds: Vec::new(),
        version: 1,
        created_at: NOW,
        updated_at: NOW,
    }
}

/// A payment provider that answers nothing before `delay` (longer than any test's timeout).
pub struct SlowGateway {
    delay: Duration,
}

impl SlowGateway {
    pub fn new(delay: Duration) -> SlowGateway {
        SlowGateway { delay }
    }
}

#[async_trait]
impl PaymentGateway for SlowGateway {
    async fn charge(&self, _request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        tokio::time::sleep(self.delay).await;
        Ok(ChargeOutcome::Captured {
            reference: "ch_late".into(),
        })
    }

    async fn lookup(&self, _order_id: Uuid) -> Result<ChargeState, PaymentError> {
        tokio::time::sleep(self.delay).await;
        Ok(ChargeState::NotCharged)
    }

    async fn refund(&self, _order_id: Uuid) -> Result<(), PaymentError> {
        tokio::time::sleep(self.delay).await;
        Ok(())
    }

    async fn refund_amount(
        &self,
        _request: &ports::RefundRequest,
    ) -> Result<ports::RefundOutcome, PaymentError> {
        tokio::time::sleep(self.delay).await;
        Ok(ports::RefundOutcome::Refunded {
            reference: "re_late".into(),
        })
    }

    async fn refund_state(&self, _refund_id: Uuid) -> Result<ports::RefundState, PaymentError> {
        tokio::time::sleep(self.delay).await;
        Ok(ports::RefundState::NotRefunded)
    }
}

/// An `order.created` event with id `id` (user 2, the nil order).
pub fn event(id: i64) -> ports::StoredEvent {
    ports::StoredEvent {
        id,
        kind: domain::EventType::OrderCreated,
        order_id: Uuid::nil(),
        user_id: 2,
        from_status: None,
        to_status: OrderStatus::Pending,
        payment_status: PaymentStatus::Unpaid,
        fulfillment_status: domain::FulfillmentStatus::Unfulfilled,
        total_amount: 100,
        refunded_amount: 0,
        shipment_id: None,
        refund_id: None,
        amount: None,
        actor: None,
        note: None,
        occurred_at: time::OffsetDateTime::UNIX_EPOCH,
    }
}
