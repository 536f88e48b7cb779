//! What the templates see: the order and the shipment or refund an email reports, with money
//! already written as people read it (`domain::email::format_money`, the order's currency).

use domain::FulfillmentStatus;
use domain::email::{MailKind, format_money, short_number};
use ports::OutgoingMail;
use serde::Serialize;

/// The templates' context.
#[derive(Debug, Clone, Serialize)]
pub struct MailView {
    pub subject: String,
    pub heading: String,
    pub order: OrderView,
    pub shipment: Option<ShipmentView>,
    pub refund: Option<RefundView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// The full order id (every email names it).
    pub id: String,
    /// `#` and this: the label people use.
    pub short: String,
    pub lines: Vec<LineView>,
    pub subtotal: String,
    pub shipping: String,
    pub tax: String,
    pub has_tax: bool,
    pub total: String,
    /// What succeeded refunds gave back so far.
    pub refunded: String,
    pub refunded_any: bool,
    /// The payment was collected.
    pub paid: bool,
    /// No unit is left to ship.
    pub fully_shipped: bool,
    /// The name on the shipping address.
    pub customer: String,
    pub address: AddressView,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineView {
    pub name: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: String,
    pub line_total: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddressView {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    /// `City, Region Postal-code`, the parts there are.
    pub city_line: String,
    pub country: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShipmentView {
    pub items: Vec<ShippedItem>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShippedItem {
    pub name: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    pub amount: String,
}

impl MailView {
    pub fn of(mail: &OutgoingMail) -> MailView {
        let order = &mail.order;
        let money = |cents: i64| format_money(cents, &order.currency);
        let id = order.id.to_string();
        let short = short_number(&id).to_owned();
        let address = &order.shipping_address;
        let mut city_line = address.city.clone();
        if let Some(region) = address.region.as_deref().filter(|r| !r.is_empty()) {
            city_line.push_str(", ");
            city_line.push_str(region);
        }
        if let Some(postal) = address.postal_code.as_deref().filter(|p| !p.is_empty()) {
            city_line.push(' ');
            city_line.push_str(postal);
        }
        let name_of = |product_id: i64| {
            order
                .items
                .iter()
                .find(|item| item.product_id == product_id)
                .map_or_else(|| format!("product {product_id}"), |item| item.name.clone())
        };
        let shipment = mail
            .shipment_id
            .and_then(|id| order.shipments.iter().find(|s| s.id == id))
            .map(|shipment| ShipmentView {
                items: shipment
                    .items
                    .iter()
                    .map(|&(product_id, quantity)| ShippedItem {
                        name: name_of(product_id),
                        quantity,
                    })
                    .collect(),
                carrier: shipment.tracking.as_ref().map(|t| t.carrier.clone()),
                tracking_number: shipment
                    .tracking
                    .as_ref()
                    .map(|t| t.tracking_number.clone()),
            });
        let refund = mail
            .refund_id
            .and_then(|id| order.refunds.iter().find(|r| r.id == id))
            .map(|refund| RefundView {
                amount: money(refund.amount),
            });
        let total = money(order.total_amount);
        let (subject, heading) = match mail.kind {
            MailKind::OrderPaid => (
                format!("Your order #{short} is confirmed"),
                String::from("Thank you for your order"),
            ),
            MailKind::NewOrder => (
                format!("New order #{short}: {total}"),
                format!("New order #{short}"),
            ),
            MailKind::Shipped => (
                format!("Your order #{short} has shipped"),
                String::from("Your order is on its way"),
            ),
            MailKind::Refunded => (
                match &refund {
                    Some(refund) => format!("Refund of {} on order #{short}", refund.amount),
                    None => format!("A refund on order #{short}"),
                },
                String::from("Your refund"),
            ),
            MailKind::Cancelled => (
                format!("Your order #{short} was cancelled"),
                String::from("Your order was cancelled"),
            ),
        };
        MailView {
            subject,
            heading,
            order: OrderView {
                lines: order
                    .items
                    .iter()
                    .map(|item| LineView {
                        name: item.name.clone(),
                        sku: item.sku.clone(),
                        quantity: item.quantity,
                        unit_price: money(item.unit_price),
                        line_total: money(item.line_total),
                    })
                    .collect(),
                subtotal: money(order.subtotal),
                shipping: money(order.shipping_amount),
                tax: money(order.tax_amount),
                has_tax: order.tax_amount != 0,
                total,
                refunded: money(order.refunded_amount),
                refunded_any: order.refunded_amount > 0,
                paid: order.payment_collected,
                fully_shipped: order.fulfillment_status == FulfillmentStatus::Fulfilled,
                customer: address.name.clone(),
                address: AddressView {
                    name: address.name.clone(),
                    line1: address.line1.clone(),
                    line2: address.line2.clone().filter(|l| !l.is_empty()),
                    city_line,
                    country: address.country.clone(),
                },
                id,
                short,
            },
            shipment,
            refund,
        }
    }
}
