//! An order as the API shows it, and the order requests.

use app::orders::HistoryEntry;
use domain::{FulfillmentStatus, OrderStatus, PaymentStatus, Role, allowed_transitions};
use ports::{Actor, Order, OrderNote, Refund, Shipment, StoredEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::handlers::timestamps;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddressJson {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrackingJson {
    pub carrier: String,
    pub tracking_number: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderItemJson {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub quantity_shipped: i64,
    /// Refunded before they shipped, or left open when the order was cancelled.
    pub quantity_cancelled: i64,
    /// Shipped units refunded with `return` or `no_restock`.
    pub quantity_returned: i64,
}

/// One line of a shipment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShipmentItemJson {
    pub product_id: i64,
    pub quantity: i64,
}

/// A shipment of some of an order's units.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShipmentJson {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub order_id: Uuid,
    pub items: Vec<ShipmentItemJson>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl ShipmentJson {
    pub fn new(shipment: &Shipment) -> ShipmentJson {
        ShipmentJson {
            id: shipment.id,
            order_id: shipment.order_id,
            items: shipment
                .items
                .iter()
                .map(|&(product_id, quantity)| ShipmentItemJson {
                    product_id,
                    quantity,
                })
                .collect(),
            carrier: shipment.tracking.as_ref().map(|t| t.carrier.clone()),
            tracking_number: shipment
                .tracking
                .as_ref()
                .map(|t| t.tracking_number.clone()),
            created_at: shipment.created_at,
        }
    }
}

/// One line of a refund.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundItemJson {
    pub product_id: i64,
    pub quantity: i64,
    /// `cancel`, `return` or `no_restock`.
    pub restock: String,
}

/// A refund, as the contract shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundJson {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub order_id: Uuid,
    pub amount: i64,
    pub items: Vec<RefundItemJson>,
    pub shipping: bool,
    /// Shown to admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `succeeded`, `pending` or `failed`.
    pub status: String,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl RefundJson {
    /// `with_reason`: the reason is shown to admins only.
    pub fn new(refund: &Refund, with_reason: bool) -> RefundJson {
        RefundJson {
            id: refund.id,
            order_id: refund.order_id,
            amount: refund.amount,
            items: refund
                .items
                .iter()
                .map(|i| RefundItemJson {
                    product_id: i.product_id,
                    quantity: i.quantity,
                    restock: i.restock.as_str().to_owned(),
                })
                .collect(),
            shipping: refund.shipping,
            reason: with_reason.then(|| refund.reason.clone()),
            status: refund.status.as_str().to_owned(),
            created_at: refund.created_at,
        }
    }
}

/// The order JSON of the contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderJson {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub user_id: i64,
    #[schema(value_type = String, example = "PENDING")]
    pub status: OrderStatus,
    /// `unpaid`, `processing`, `captured`, `refunded` or `failed`.
    #[schema(value_type = String, example = "unpaid")]
    pub payment_status: PaymentStatus,
    pub payment_collected: bool,
    /// The statuses the caller may move the order to now.
    #[schema(value_type = Vec<String>)]
    pub allowed_transitions: Vec<OrderStatus>,
    pub subtotal: i64,
    pub shipping_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
    pub currency: String,
    pub shipping_address: AddressJson,
    /// The latest shipment's tracking.
    pub tracking: Option<TrackingJson>,
    pub items: Vec<OrderItemJson>,
    /// `unfulfilled`, `partially_fulfilled` or `fulfilled`.
    #[schema(value_type = String, example = "unfulfilled")]
    pub fulfillment_status: FulfillmentStatus,
    /// What succeeded refunds gave back, in cents.
    pub refunded_amount: i64,
    /// Oldest first.
    pub shipments: Vec<ShipmentJson>,
    /// Oldest first.
    pub refunds: Vec<RefundJson>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Only in the 202 answer of a placement or payment whose charge awaits the customer's
    /// authentication (3-D Secure, `PAYMENT_PROVIDER=stripe`): finish it with Stripe.js.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentActionJson>,
}

/// What the page needs to finish a payment with the provider's script.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentActionJson {
    /// The PaymentIntent's client secret, for `stripe.handleNextAction({clientSecret})`.
    pub client_secret: String,
}

/// What `viewer` may move the order to now. A customer may cancel their own `PENDING` order
/// while no charge is in flight; an admin makes every move the state machine allows.
pub fn transitions_for(order: &Order, viewer: Actor) -> Vec<OrderStatus> {
    match viewer.role {
        Role::Admin => allowed_transitions(order.status, Role::Admin),
        Role::Customer
            if order.user_id == viewer.id && order.payment_status != PaymentStatus::Processing =>
        {
            allowed_transitions(order.status, Role::Customer)
        }
        Role::Customer => Vec::new(),
    }
}

impl OrderJson {
    pub fn new(order: &Order, viewer: Actor) -> OrderJson {
        let a = &order.shipping_address;
        OrderJson {
            id: order.id,
            user_id: order.user_id,
            status: order.status,
            payment_status: order.payment_status,
            payment_collected: order.payment_collected,
            allowed_transitions: transitions_for(order, viewer),
            subtotal: order.subtotal,
            shipping_amount: order.shipping_amount,
            tax_amount: order.tax_amount,
            total_amount: order.total_amount,
            currency: order.currency.clone(),
            shipping_address: AddressJson {
                name: a.name.clone(),
                line1: a.line1.clone(),
                line2: a.line2.clone(),
                city: a.city.clone(),
                region: a.region.clone(),
                postal_code: a.postal_code.clone(),
                country: a.country.clone(),
            },
            tracking: order.tracking.as_ref().map(|t| TrackingJson {
                carrier: t.carrier.clone(),
                tracking_number: t.tracking_number.clone(),
            }),
            items: order
                .items
                .iter()
                .map(|i| OrderItemJson {
                    product_id: i.product_id,
                    sku: i.sku.clone(),
                    name: i.name.clone(),
                    quantity: i.quantity,
                    unit_price: i.unit_price,
                    line_total: i.line_total,
                    quantity_shipped: i.quantity_shipped,
                    quantity_cancelled: i.quantity_cancelled,
                    quantity_returned: i.quantity_returned,
                })
                .collect(),
            fulfillment_status: order.fulfillment_status,
            refunded_amount: order.refunded_amount,
            shipments: order.shipments.iter().map(ShipmentJson::new).collect(),
            refunds: order
                .refunds
                .iter()
                .map(|r| RefundJson::new(r, viewer.role == Role::Admin))
                .collect(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            payment: None,
        }
    }
}

/// The strong `ETag` of an order: its version.
pub fn etag(order: &Order) -> String {
    format!("\"{}\"", order.version)
}

/// A page of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderJson>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActorJson {
    pub id: i64,
    #[schema(value_type = String, example = "CUSTOMER")]
    pub role: Role,
}

/// One entry of an order's history: an event, or (admins only) an internal note.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntryJson {
    /// Events and notes share one id space: entries sort by id in the order they happened.
    pub id: i64,
    /// `order.created`, `order.paid`, `order.status_changed`, `order.cancelled`, `order.shipped`,
    /// `order.refunded`, or `note` (an internal note, shown to admins only).
    #[serde(rename = "type")]
    #[schema(example = "order.status_changed")]
    pub kind: String,
    /// `null` for `order.created` and for a note.
    #[schema(value_type = Option<String>)]
    pub from_status: Option<OrderStatus>,
    /// `null` for a note.
    #[schema(value_type = Option<String>)]
    pub to_status: Option<OrderStatus>,
    /// `null` for the system (payment, expiry).
    pub actor: Option<ActorJson>,
    /// The change's note, or the text of a note entry.
    pub note: Option<String>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
}

/// The `type` of a note in an order's history.
pub const NOTE_TYPE: &str = "note";

impl From<&StoredEvent> for HistoryEntryJson {
    fn from(event: &StoredEvent) -> Self {
        HistoryEntryJson {
            id: event.id,
            kind: event.kind.as_str().to_owned(),
            from_status: event.from_status,
            to_status: Some(event.to_status),
            actor: event.actor.map(ActorJson::from),
            note: event.note.clone(),
            occurred_at: event.occurred_at,
        }
    }
}

impl From<&OrderNote> for HistoryEntryJson {
    fn from(note: &OrderNote) -> Self {
        HistoryEntryJson {
            id: note.id,
            kind: NOTE_TYPE.to_owned(),
            from_status: None,
            to_status: None,
            actor: Some(ActorJson::from(note.actor)),
            note: Some(note.note.clone()),
            occurred_at: note.occurred_at,
        }
    }
}

impl From<&HistoryEntry> for HistoryEntryJson {
    fn from(entry: &HistoryEntry) -> Self {
        match entry {
            HistoryEntry::Event(event) => event.into(),
            HistoryEntry::Note(note) => note.into(),
        }
    }
}

impl From<Actor> for ActorJson {
    fn from(actor: Actor) -> Self {
        ActorJson {
            id: actor.id,
            role: actor.role,
        }
    }
}

/// `{"items": [...]}`, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryJson {
    pub items: Vec<HistoryEntryJson>,
}

/// One line of a new order.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    #[schema(minimum = 1)]
    pub product_id: i64,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, example = "Ada Lovelace")]
    pub name: String,
    #[schema(min_length = 1, max_length = 200, example = "1 Main St")]
    pub line1: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(min_length = 1, max_length = 200, example = "London")]
    pub city: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub region: Option<String>,
    /// Up to 20 characters.
    #[serde(default)]
    #[schema(max_length = 20, example = "N1 9GU")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, any case.
    #[schema(pattern = "^[A-Za-z]{2}$", example = "GB")]
    pub country: String,
}

/// A payment token from the provider's client library (`tok_visa` in test mode).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    #[schema(min_length = 1, max_length = 255, example = "tok_visa")]
    pub token: String,
}

impl std::fmt::Debug for PaymentRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentRequest { token: *** }")
    }
}

/// `POST /api/orders`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// 1 to 100 lines; lines of the same product are merged.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<LineRequest>,
    pub shipping_address: AddressRequest,
    /// Charge right away; without it the order stays `PENDING`, payment `unpaid`.
    #[serde(default)]
    pub payment: Option<PaymentRequest>,
}
