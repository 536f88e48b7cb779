//! Rows as read from the tables, and their translation into the ports' types. A value the schema's
//! CHECK constraints should have made impossible (an unknown status) is a `StoreError::Internal`.

use diesel::prelude::*;
use domain::order::placement::ShippingAddress;
use domain::{EventType, FulfillmentStatus, OrderStatus, PaymentStatus, Role, UserStatus};
use ports::{Actor, Order, OrderItem, Product, StoreError, StoredEvent, Tracking, User};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::{order_events, order_items, orders, products, users};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub status: String,
    pub token_generation: i64,
    pub created_at: OffsetDateTime,
}

impl UserRow {
    pub(crate) fn user(&self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            email: self.email.clone(),
            role: parse_role(&self.role)?,
            status: parse_user_status(&self.status)?,
            token_generation: self.token_generation,
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ProductRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub price: i64,
    pub stock_quantity: i64,
    pub sku: String,
    pub archived: bool,
    pub image_url: Option<String>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl From<ProductRow> for Product {
    fn from(r: ProductRow) -> Product {
        Product {
            id: r.id,
            name: r.name,
            description: r.description,
            price: r.price,
            stock_quantity: r.stock_quantity,
            sku: r.sku,
            image_url: r.image_url,
            archived: r.archived,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrderRow {
    pub id: Uuid,
    pub user_id: i64,
    pub status: String,
    pub payment_status: String,
    pub payment_collected: bool,
    pub payment_reference: Option<String>,
    pub payment_attempt: i32,
    pub fulfillment_status: String,
    pub refunded_amount: i64,
    pub shipping_refunded: bool,
    /// Refunds reserved on the order, any status: its refunds are read only when there are some.
    pub refund_count: i32,
    pub subtotal: i64,
    pub shipping_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
    pub currency: String,
    pub shipping_address: serde_json::Value,
    pub tracking_carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl OrderRow {
    pub(crate) fn status(&self) -> Result<OrderStatus, StoreError> {
        parse_status(&self.status)
    }

    pub(crate) fn payment_status(&self) -> Result<PaymentStatus, StoreError> {
        parse_payment_status(&self.payment_status)
    }

    /// The order with `items` (which must be this order's, in display order).
    pub(crate) fn into_order(self, items: Vec<ItemRow>) -> Result<Order, StoreError> {
        let status = self.status()?;
        let payment_status = self.payment_status()?;
        let shipping_address: ShippingAddress = serde_json::from_value(self.shipping_address)
            .map_err(|e| {
                StoreError::Internal(format!("order {}: bad shipping_address: {e}", self.id))
            })?;
        let tracking = match (self.tracking_carrier, self.tracking_number) {
            (Some(carrier), Some(tracking_number)) => Some(Tracking {
                carrier,
                tracking_number,
            }),
            _ => None,
        };
        Ok(Order {
            id: self.id,
            user_id: self.user_id,
            status,
            payment_status,
            payment_collected: self.payment_collected,
            payment_reference: self.payment_reference,
            payment_attempt: u32::try_from(self.payment_attempt).map_err(|_| {
                StoreError::Internal(format!(
                    "order {}: payment_attempt {}",
                    self.id, self.payment_attempt
                ))
            })?,
            subtotal: self.subtotal,
            shipping_amount: self.shipping_amount,
            tax_amount: self.tax_amount,
            total_amount: self.total_amount,
            currency: self.currency,
            shipping_address,
            tracking,
            items: items.into_iter().map(ItemRow::into_item).collect(),
            fulfillment_status: parse_fulfillment_status(&self.fulfillment_status)?,
            refunded_amount: self.refunded_amount,
            // Read separately, for the orders that shipped anything (`shipments::attach`).
            shipments: Vec::new(),
            // Read separately, for the orders that were paid (`refund::attach`).
            refunds: Vec::new(),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ItemRow {
    pub id: i64,
    pub order_id: Uuid,
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub quantity_shipped: i64,
    pub quantity_cancelled: i64,
    pub quantity_returned: i64,
}

impl ItemRow {
    /// The line's unit accounting, for the domain's shipment and refund rules.
    pub(crate) fn units(&self) -> domain::LineUnits {
        domain::LineUnits {
            shipped: self.quantity_shipped,
            cancelled: self.quantity_cancelled,
            returned: self.quantity_returned,
            ..domain::LineUnits::new(
                self.product_id,
                self.quantity,
                domain::Cents(self.unit_price),
            )
        }
    }

    fn into_item(self) -> OrderItem {
        OrderItem {
            product_id: self.product_id,
            sku: self.sku,
            name: self.name,
            quantity: self.quantity,
            unit_price: self.unit_price,
            // Both factors are CHECKed into ranges whose product fits an i64.
            line_total: self.unit_price.saturating_mul(self.quantity),
            quantity_shipped: self.quantity_shipped,
            quantity_cancelled: self.quantity_cancelled,
            quantity_returned: self.quantity_returned,
        }
    }
}

/// Groups items (sorted by order) by order id.
pub(crate) fn group_items(items: Vec<ItemRow>) -> std::collections::HashMap<Uuid, Vec<ItemRow>> {
    let mut by_order: std::collections::HashMap<Uuid, Vec<ItemRow>> =
        std::collections::HashMap::new();
    for item in items {
        by_order.entry(item.order_id).or_default().push(item);
    }
    by_order
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct EventRow {
    pub id: i64,
    pub order_id: Uuid,
    pub user_id: i64,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub payment_status: String,
    pub total_amount: i64,
    pub fulfillment_status: String,
    pub refunded_amount: i64,
    pub shipment_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    pub amount: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_role: Option<String>,
    pub note: Option<String>,
    pub occurred_at: OffsetDateTime,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<StoredEvent, StoreError> {
        let actor = match (self.actor_id, self.actor_role.as_deref()) {
            (Some(id), Some(role)) => Some(Actor {
                id,
                role: parse_role(role)?,
            }),
            _ => None,
        };
        Ok(StoredEvent {
            id: self.id,
            kind: EventType::parse(&self.kind)
                .ok_or_else(|| bad_value("event type", &self.kind))?,
            order_id: self.order_id,
            user_id: self.user_id,
            from_status: self.from_status.as_deref().map(parse_status).transpose()?,
            to_status: parse_status(&self.to_status)?,
            payment_status: parse_payment_status(&self.payment_status)?,
            fulfillment_status: parse_fulfillment_status(&self.fulfillment_status)?,
            total_amount: self.total_amount,
            refunded_amount: self.refunded_amount,
            shipment_id: self.shipment_id,
            refund_id: self.refund_id,
            amount: self.amount,
            actor,
            note: self.note,
            occurred_at: self.occurred_at,
        })
    }
}

pub(crate) fn events_from_rows(rows: Vec<EventRow>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter().map(EventRow::into_event).collect()
}

pub(crate) fn parse_status(s: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::parse(s).ok_or_else(|| bad_value("order status", s))
}

pub(crate) fn parse_payment_status(s: &str) -> Result<PaymentStatus, StoreError> {
    PaymentStatus::parse(s).ok_or_else(|| bad_value("payment status", s))
}

pub(crate) fn parse_fulfillment_status(s: &str) -> Result<FulfillmentStatus, StoreError> {
    FulfillmentStatus::parse(s).ok_or_else(|| bad_value("fulfillment status", s))
}

pub(crate) fn parse_role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| bad_value("role", s))
}

pub(crate) fn parse_user_status(s: &str) -> Result<UserStatus, StoreError> {
    UserStatus::parse(s).ok_or_else(|| bad_value("user status", s))
}

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("unexpected {what} {value:?} in the database"))
}
