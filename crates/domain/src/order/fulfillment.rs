//! Shipments, partial refunds and returns: what happens to each unit of an order line, and the
//! money a refund gives back.
//!
//! Every unit of a line is at any time exactly one of open (to ship), shipped or cancelled, so
//! `open + shipped + cancelled = quantity`. A shipped unit may later be returned; it stays counted
//! as shipped (`returned ≤ shipped`).
//!
//! | unit before | action                  | unit after | stock          |
//! |-------------|-------------------------|------------|----------------|
//! | open        | ship                    | shipped    | —              |
//! | open        | refund `cancel`         | cancelled  | back (+1)      |
//! | shipped     | refund `return`         | returned   | back (+1)      |
//! | shipped     | refund `no_restock`     | returned   | not back       |
//! | open        | cancel the whole order  | (released) | back (+1)      |
//!
//! A returned unit stays counted as shipped. Cancelled and returned units never move again, so a
//! unit goes back to stock at most once; cancelling an order releases its open units only.
//!
//! An order's `fulfillment_status` is `unfulfilled` while nothing shipped, `fulfilled` once no unit
//! is open and at least one shipped, else `partially_fulfilled`. A `PAID` order moves to
//! `FULFILLED` in the change that makes it `fulfilled`: a shipment, or a refund that cancels its
//! last open units after others shipped. An order whose units were all cancelled before any
//! shipped stays `PAID` and `unfulfilled`.
//!
//! Lines hold each product once (placement merges lines of the same product). Every function that
//! reads lines first checks them ([`LineUnits::check`]) and refuses broken ones.

use serde::{Deserialize, Serialize};

use super::events::{EventType, OrderEvent};
use super::status::{OrderStatus, PaymentStatus};
use crate::money::{Cents, MoneyOverflow};

/// The units of one order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineUnits {
    pub product_id: i64,
    /// Units ordered.
    pub quantity: i64,
    /// The price of one unit when the order was placed.
    pub unit_price: Cents,
    /// Units shipped (returned ones included).
    pub shipped: i64,
    /// Units refunded with `cancel` before they shipped.
    pub cancelled: i64,
    /// Shipped units refunded with `return` or `no_restock`.
    pub returned: i64,
}

/// A line whose counts break the rules (`0 ≤ shipped + cancelled ≤ quantity`,
/// `0 ≤ returned ≤ shipped`, `unit_price ≥ 0`). Stored data is wrong: a server error, never the
/// client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BrokenLine {
    #[error("line of product {product_id}: a count is negative")]
    NegativeCount { product_id: i64 },
    #[error("line of product {product_id}: the unit price is negative")]
    NegativePrice { product_id: i64 },
    #[error(
        "line of product {product_id}: {shipped} shipped and {cancelled} cancelled of {quantity}"
    )]
    MoreThanOrdered {
        product_id: i64,
        quantity: i64,
        shipped: i64,
        cancelled: i64,
    },
    #[error("line of product {product_id}: {returned} returned of {shipped} shipped")]
    ReturnedOverShipped {
        product_id: i64,
        shipped: i64,
        returned: i64,
    },
}

impl LineUnits {
    /// A line of `quantity` units, all open.
    pub const fn new(product_id: i64, quantity: i64, unit_price: Cents) -> LineUnits {
        LineUnits {
            product_id,
            quantity,
            unit_price,
            shipped: 0,
            cancelled: 0,
            returned: 0,
        }
    }

    /// Units still to ship: `quantity − shipped − cancelled`.
    pub const fn open(&self) -> i64 {
        self.quantity
            .saturating_sub(self.shipped)
            .saturating_sub(self.cancelled)
    }

    /// Units a refund with `restock` may take: `cancel` takes open units, `return` and
    /// `no_restock` take shipped units not yet returned (`shipped − returned`; both kinds draw on
    /// that same pool).
    pub const fn refundable(&self, restock: Restock) -> i64 {
        match restock {
            Restock::Cancel => self.open(),
            Restock::Return | Restock::NoRestock => self.shipped.saturating_sub(self.returned),
        }
    }

    /// Checks the line's counts: all ≥ 0, `shipped + cancelled ≤ quantity`, `returned ≤ shipped`,
    /// and a price ≥ 0.
    pub fn check(&self) -> Result<(), BrokenLine> {
        let product_id = self.product_id;
        if self.quantity < 0 || self.shipped < 0 || self.cancelled < 0 || self.returned < 0 {
            return Err(BrokenLine::NegativeCount { product_id });
        }
        if self.unit_price.0 < 0 {
            return Err(BrokenLine::NegativePrice { product_id });
        }
        // Both are ≥ 0, so the sum cannot wrap below; it may overflow above.
        let allocated = self.shipped.checked_add(self.cancelled);
        if allocated.is_none_or(|allocated| allocated > self.quantity) {
            return Err(BrokenLine::MoreThanOrdered {
                product_id,
                quantity: self.quantity,
                shipped: self.shipped,
                cancelled: self.cancelled,
            });
        }
        if self.returned > self.shipped {
            return Err(BrokenLine::ReturnedOverShipped {
                product_id,
                shipped: self.shipped,
                returned: self.returned,
            });
        }
        Ok(())
    }
}

fn check_lines(lines: &[LineUnits]) -> Result<(), BrokenLine> {
    lines.iter().try_for_each(LineUnits::check)
}

fn find_line(lines: &[LineUnits], product_id: i64) -> Option<usize> {
    lines.iter().position(|line| line.product_id == product_id)
}

/// What a refunded unit becomes, and whether it goes back to stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restock {
    /// An open unit that will not ship: cancelled, back to stock.
    Cancel,
    /// A shipped unit that came back: returned, back to stock.
    Return,
    /// A shipped unit that did not come back: returned, not back to stock.
    NoRestock,
}

impl Restock {
    pub const ALL: [Restock; 3] = [Restock::Cancel, Restock::Return, Restock::NoRestock];

    pub const fn as_str(self) -> &'static str {
        match self {
            Restock::Cancel => "cancel",
            Restock::Return => "return",
            Restock::NoRestock => "no_restock",
        }
    }

    pub fn parse(s: &str) -> Option<Restock> {
        Restock::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// Whether the refunded units go back to stock: `cancel` and `return` do, `no_restock` does
    /// not.
    pub const fn restocks(self) -> bool {
        matches!(self, Restock::Cancel | Restock::Return)
    }

    /// Whether the units refunded this way are shipped ones (`return`, `no_restock`) rather than
    /// open ones (`cancel`).
    pub const fn takes_shipped(self) -> bool {
        matches!(self, Restock::Return | Restock::NoRestock)
    }
}

impl std::fmt::Display for Restock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of an order shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Nothing shipped (also when every unit was cancelled).
    Unfulfilled,
    /// Some units shipped and some are still open.
    PartiallyFulfilled,
    /// No unit is open and at least one shipped.
    Fulfilled,
}

impl FulfillmentStatus {
    pub const ALL: [FulfillmentStatus; 3] = [
        FulfillmentStatus::Unfulfilled,
        FulfillmentStatus::PartiallyFulfilled,
        FulfillmentStatus::Fulfilled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            FulfillmentStatus::Unfulfilled => "unfulfilled",
            FulfillmentStatus::PartiallyFulfilled => "partially_fulfilled",
            FulfillmentStatus::Fulfilled => "fulfilled",
        }
    }

    pub fn parse(s: &str) -> Option<FulfillmentStatus> {
        FulfillmentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

impl std::fmt::Display for FulfillmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `unfulfilled` while no unit shipped, `fulfilled` once no unit is open and at least one shipped,
/// else `partially_fulfilled`.
pub fn fulfillment_status(lines: &[LineUnits]) -> FulfillmentStatus {
    let shipped = lines.iter().any(|line| line.shipped > 0);
    let open = lines.iter().any(|line| line.open() > 0);
    match (shipped, open) {
        (false, _) => FulfillmentStatus::Unfulfilled,
        (true, true) => FulfillmentStatus::PartiallyFulfilled,
        (true, false) => FulfillmentStatus::Fulfilled,
    }
}

/// Whether a change that left an order in `status` with `lines_after` moves it `PAID` →
/// `FULFILLED`: it is `PAID` and its lines are now `fulfilled`.
pub fn completes_order(status: OrderStatus, lines_after: &[LineUnits]) -> bool {
    status == OrderStatus::Paid && fulfillment_status(lines_after) == FulfillmentStatus::Fulfilled
}

/// The status an order in `status` is in once a shipment or refund left `lines_after`.
pub fn status_after(status: OrderStatus, lines_after: &[LineUnits]) -> OrderStatus {
    if completes_order(status, lines_after) {
        OrderStatus::Fulfilled
    } else {
        status
    }
}

/// The event of a shipment that left an order in `status` with `lines_after`: the move `PAID` →
/// `FULFILLED` (`order.status_changed`) when it completes the order, else `order.shipped` with the
/// status unchanged.
pub fn shipment_event(status: OrderStatus, lines_after: &[LineUnits]) -> OrderEvent {
    unit_change_event(OrderEvent::shipped(status), status, lines_after)
}

/// The event of a refund that left an order in `status` with `lines_after` (a goodwill refund
/// leaves them as they were): the move `PAID` → `FULFILLED` when its cancelled units complete the
/// order, else `order.refunded` with the status unchanged.
pub fn refund_event(status: OrderStatus, lines_after: &[LineUnits]) -> OrderEvent {
    unit_change_event(OrderEvent::refunded(status), status, lines_after)
}

fn unit_change_event(
    unchanged: OrderEvent,
    status: OrderStatus,
    lines_after: &[LineUnits],
) -> OrderEvent {
    if completes_order(status, lines_after) {
        OrderEvent {
            kind: EventType::for_move(Some(status), OrderStatus::Fulfilled),
            from_status: Some(status),
            to_status: OrderStatus::Fulfilled,
        }
    } else {
        unchanged
    }
}

/// The stock an order's cancellation releases: its open units, per product (shipped units left,
/// cancelled and returned ones already went back). Lines with no open unit are left out.
pub fn release_on_cancel(lines: &[LineUnits]) -> Vec<(i64, i64)> {
    lines
        .iter()
        .filter(|line| line.open() > 0)
        .map(|line| (line.product_id, line.open()))
        .collect()
}

/// An entry of a shipment request that asks for more than its line's open units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceedsOpen {
    /// The position in the request of the product's first entry.
    pub index: usize,
    pub product_id: i64,
    /// The line's open units; 0 for a product not in the order.
    pub open: i64,
}

impl ExceedsOpen {
    /// The request field it names: `items[i].quantity`.
    pub fn field(&self) -> String {
        format!("items[{}].quantity", self.index)
    }
}

/// A shipment that cannot be made. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipmentError {
    /// Entries whose quantity is below 1 (their positions in the request), checked first.
    #[error("quantities must be at least 1 (items {0:?})")]
    InvalidQuantity(Vec<usize>),
    /// Every product asked for beyond its open units, or not in the order; entries of the same
    /// product add up and are named once, at the first one.
    #[error("more than the open units of {} line(s)", .0.len())]
    ExceedsOpen(Vec<ExceedsOpen>),
    /// The shipment would hold no unit: no unit is open, or the request is empty.
    #[error("nothing to ship")]
    NothingToShip,
    #[error(transparent)]
    Broken(#[from] BrokenLine),
}

/// Plans a shipment: `None` ships every open unit of every line (in line order, lines with no open
/// unit left out); `Some(items)` ships those `(product_id, quantity)` (entries of the same product
/// add up, in the order products first appear). Checks, in order: the lines; every quantity ≥ 1
/// ([`ShipmentError::InvalidQuantity`]); every product in the order and within its open units
/// ([`ShipmentError::ExceedsOpen`]); a plan that is not empty ([`ShipmentError::NothingToShip`]).
pub fn plan_shipment(
    lines: &[LineUnits],
    request: Option<&[(i64, i64)]>,
) -> Result<Vec<(i64, i64)>, ShipmentError> {
    check_lines(lines)?;
    let plan = match request {
        None => release_on_cancel(lines),
        Some(items) => {
            let invalid: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, (_, quantity))| *quantity < 1)
                .map(|(index, _)| index)
                .collect();
            if !invalid.is_empty() {
                return Err(ShipmentError::InvalidQuantity(invalid));
            }
            // (first index, product, summed quantity)
            let mut merged: Vec<(usize, i64, i64)> = Vec::new();
            for (index, &(product_id, quantity)) in items.iter().enumerate() {
                match merged.iter_mut().find(|(_, id, _)| *id == product_id) {
                    // Saturating: a sum beyond i64 exceeds any line anyway.
                    Some((_, _, sum)) => *sum = sum.saturating_add(quantity),
                    None => merged.push((index, product_id, quantity)),
                }
            }
            let exceeding: Vec<ExceedsOpen> = merged
                .iter()
                .filter_map(|&(index, product_id, sum)| {
                    let open = find_line(lines, product_id).map_or(0, |i| lines[i].open());
                    (sum > open).then_some(ExceedsOpen {
                        index,
                        product_id,
                        open,
                    })
                })
                .collect();
            if !exceeding.is_empty() {
                return Err(ShipmentError::ExceedsOpen(exceeding));
            }
            merged
                .into_iter()
                .map(|(_, product_id, sum)| (product_id, sum))
                .collect()
        }
    };
    if plan.is_empty() {
        return Err(ShipmentError::NothingToShip);
    }
    Ok(plan)
}

/// Ships `plan` (as [`plan_shipment`] gives it; checked again, so any request may be passed):
/// `shipped += quantity` on each line. Answers the fulfillment status after. On an error the lines
/// are left as they were.
pub fn apply_shipment(
    lines: &mut [LineUnits],
    plan: &[(i64, i64)],
) -> Result<FulfillmentStatus, ShipmentError> {
    let plan = plan_shipment(lines, Some(plan))?;
    for (product_id, quantity) in plan {
        if let Some(i) = find_line(lines, product_id) {
            // Checked by the plan: shipped + cancelled + quantity ≤ line quantity.
            lines[i].shipped += quantity;
        }
    }
    Ok(fulfillment_status(lines))
}

/// One line of a refund: `quantity` units of `product_id`, refunded with `restock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundItem {
    pub product_id: i64,
    pub quantity: i64,
    pub restock: Restock,
}

/// An entry of a refund that asks for more units than its line has in the state `restock` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceedsRefundable {
    /// The position in the request of the first entry of this product and pool.
    pub index: usize,
    pub product_id: i64,
    /// [`LineUnits::refundable`] for the entry's restock kind; 0 for a product not in the order.
    pub refundable: i64,
}

impl ExceedsRefundable {
    /// The request field it names: `items[i].quantity`.
    pub fn field(&self) -> String {
        format!("items[{}].quantity", self.index)
    }
}

/// A refund's units that cannot be refunded. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundUnitsError {
    /// Entries whose quantity is below 1 (their positions in the request), checked first.
    #[error("quantities must be at least 1 (items {0:?})")]
    InvalidQuantity(Vec<usize>),
    /// Every product and pool asked for beyond what the line has in that state, or not in the
    /// order; entries of the same product and pool add up and are named once, at the first one.
    #[error("more than the refundable units of {} line(s)", .0.len())]
    ExceedsRefundable(Vec<ExceedsRefundable>),
    #[error(transparent)]
    Broken(#[from] BrokenLine),
}

/// Plans the units of a refund: checks the lines, every quantity ≥ 1
/// ([`RefundUnitsError::InvalidQuantity`]), then each product against its line per pool: `cancel`
/// entries against the open units, `return` and `no_restock` entries together against the shipped
/// units not yet returned ([`RefundUnitsError::ExceedsRefundable`]). Answers the items with entries
/// of the same product and restock kind added up, in the order they first appear. No items is a
/// valid plan (a refund of the shipping alone).
pub fn plan_refund_units(
    lines: &[LineUnits],
    items: &[RefundItem],
) -> Result<Vec<RefundItem>, RefundUnitsError> {
    check_lines(lines)?;
    let invalid: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.quantity < 1)
        .map(|(index, _)| index)
        .collect();
    if !invalid.is_empty() {
        return Err(RefundUnitsError::InvalidQuantity(invalid));
    }
    // Per (product, pool): (first index, product, takes shipped, summed quantity)
    let mut pools: Vec<(usize, i64, bool, i64)> = Vec::new();
    let mut merged: Vec<RefundItem> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let takes_shipped = item.restock.takes_shipped();
        match pools
            .iter_mut()
            .find(|(_, id, shipped, _)| *id == item.product_id && *shipped == takes_shipped)
        {
            Some((_, _, _, sum)) => *sum = sum.saturating_add(item.quantity),
            None => pools.push((index, item.product_id, takes_shipped, item.quantity)),
        }
        match merged
            .iter_mut()
            .find(|m| m.product_id == item.product_id && m.restock == item.restock)
        {
            Some(m) => m.quantity = m.quantity.saturating_add(item.quantity),
            None => merged.push(*item),
        }
    }
    let exceeding: Vec<ExceedsRefundable> = pools
        .iter()
        .filter_map(|&(index, product_id, takes_shipped, sum)| {
            let restock = if takes_shipped {
                Restock::Return
            } else {
                Restock::Cancel
            };
            let refundable =
                find_line(lines, product_id).map_or(0, |i| lines[i].refundable(restock));
            (sum > refundable).then_some(ExceedsRefundable {
                index,
                product_id,
                refundable,
            })
        })
        .collect();
    if !exceeding.is_empty() {
        return Err(RefundUnitsError::ExceedsRefundable(exceeding));
    }
    Ok(merged)
}

/// Refunds the units of `items` (checked again as [`plan_refund_units`] does): `cancel` adds to
/// `cancelled`, `return` and `no_restock` to `returned`. Answers the fulfillment status after. On
/// an error the lines are left as they were.
pub fn apply_refund_units(
    lines: &mut [LineUnits],
    items: &[RefundItem],
) -> Result<FulfillmentStatus, RefundUnitsError> {
    let plan = plan_refund_units(lines, items)?;
    for item in plan {
        if let Some(i) = find_line(lines, item.product_id) {
            // Checked by the plan: within the line's open or shipped-not-returned units.
            match item.restock {
                Restock::Cancel => lines[i].cancelled += item.quantity,
                Restock::Return | Restock::NoRestock => lines[i].returned += item.quantity,
            }
        }
    }
    Ok(fulfillment_status(lines))
}

/// The units a refund puts back to stock, per product in the order they first appear: those
/// refunded with `cancel` or `return`, never `no_restock`. Products with none are left out.
pub fn stock_back(items: &[RefundItem]) -> Vec<(i64, i64)> {
    let mut back: Vec<(i64, i64)> = Vec::new();
    for item in items
        .iter()
        .filter(|item| item.restock.restocks() && item.quantity > 0)
    {
        match back.iter_mut().find(|(id, _)| *id == item.product_id) {
            Some((_, sum)) => *sum = sum.saturating_add(item.quantity),
            None => back.push((item.product_id, item.quantity)),
        }
    }
    back
}

/// The amounts of an order, as priced when it was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAmounts {
    pub subtotal: Cents,
    pub shipping_amount: Cents,
    pub tax_amount: Cents,
    pub total_amount: Cents,
}

/// The amount of a refund cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundAmountError {
    #[error("the refund's amount is too large")]
    Overflow,
    /// An item whose product is not in the order, or whose quantity is below 1
    /// ([`plan_refund_units`] never gives one).
    #[error("item {index} (product {product_id}) is not a refundable item of the order")]
    InvalidItem { index: usize, product_id: i64 },
    #[error(transparent)]
    Broken(#[from] BrokenLine),
}

impl From<MoneyOverflow> for RefundAmountError {
    fn from(_: MoneyOverflow) -> Self {
        RefundAmountError::Overflow
    }
}

/// The amount a refund of `items` (and the order's shipping when `shipping`) gives back:
/// `base` = Σ `unit_price × quantity` (+ `shipping_amount`), plus the tax on `base` at the order's
/// own rate, `base × tax_amount / (subtotal + shipping_amount)`, rounded half to even to a cent (0
/// when that denominator is 0); then capped at `remaining_captured`, and never below 0.
pub fn refund_amount(
    order: &OrderAmounts,
    lines: &[LineUnits],
    items: &[RefundItem],
    shipping: bool,
    remaining_captured: Cents,
) -> Result<Cents, RefundAmountError> {
    check_lines(lines)?;
    let mut base = Cents::ZERO;
    for (index, item) in items.iter().enumerate() {
        let line = find_line(lines, item.product_id)
            .filter(|_| item.quantity >= 1)
            .ok_or(RefundAmountError::InvalidItem {
                index,
                product_id: item.product_id,
            })?;
        base = base.checked_add(lines[line].unit_price.checked_mul(item.quantity)?)?;
    }
    if shipping {
        base = base.checked_add(order.shipping_amount)?;
    }
    let taxable = i128::from(order.subtotal.0) + i128::from(order.shipping_amount.0);
    let tax = if taxable > 0 {
        div_half_even(i128::from(base.0) * i128::from(order.tax_amount.0), taxable)
    } else {
        0
    };
    let amount = i128::from(base.0) + tax;
    let capped = amount.min(i128::from(remaining_captured.0)).max(0);
    i64::try_from(capped)
        .map(Cents)
        .map_err(|_| RefundAmountError::Overflow)
}

/// `numerator / denominator` rounded half to even; `denominator` > 0.
fn div_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let twice_remainder = numerator.rem_euclid(denominator) * 2;
    match twice_remainder.cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal if quotient % 2 == 0 => quotient,
        std::cmp::Ordering::Equal => quotient + 1,
    }
}

/// A goodwill refund (an amount alone, touching no unit) that cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GoodwillError {
    #[error("the amount must be at least 1")]
    NotPositive,
    #[error("the amount exceeds the {remaining} cents that remain captured")]
    ExceedsCaptured { remaining: Cents },
}

/// Checks a goodwill refund of `amount` cents: at least 1 and at most what remains captured.
pub fn goodwill_amount(amount: i64, remaining_captured: Cents) -> Result<Cents, GoodwillError> {
    if amount < 1 {
        Err(GoodwillError::NotPositive)
    } else if amount > remaining_captured.0 {
        Err(GoodwillError::ExceedsCaptured {
            remaining: remaining_captured,
        })
    } else {
        Ok(Cents(amount))
    }
}

/// What remains captured once `refunded_total` was given back: `captured_total − refunded_total`,
/// never below 0.
pub fn remaining_captured(captured_total: Cents, refunded_total: Cents) -> Cents {
    Cents(captured_total.0.saturating_sub(refunded_total.0).max(0))
}

/// Whether an order whose payment is `payment` may be refunded: `captured` or
/// `partially_refunded`.
pub const fn accepts_refund(payment: PaymentStatus) -> bool {
    matches!(
        payment,
        PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
    )
}

/// The payment status of a captured order once its succeeded refunds add up to `refunded_total`:
/// `captured` while nothing was refunded, `partially_refunded` while below `captured_total`,
/// `refunded` once equal (or above).
pub fn payment_status_after_refund(captured_total: Cents, refunded_total: Cents) -> PaymentStatus {
    if refunded_total.0 <= 0 {
        PaymentStatus::Captured
    } else if refunded_total < captured_total {
        PaymentStatus::PartiallyRefunded
    } else {
        PaymentStatus::Refunded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product_id: i64, quantity: i64, unit_price: i64) -> LineUnits {
        LineUnits::new(product_id, quantity, Cents(unit_price))
    }

    fn units(
        product_id: i64,
        quantity: i64,
        shipped: i64,
        cancelled: i64,
        returned: i64,
    ) -> LineUnits {
        LineUnits {
            shipped,
            cancelled,
            returned,
            ..line(product_id, quantity, 100)
        }
    }

    fn item(product_id: i64, quantity: i64, restock: Restock) -> RefundItem {
        RefundItem {
            product_id,
            quantity,
            restock,
        }
    }

    #[test]
    fn open_and_refundable_units() {
        let l = units(1, 10, 4, 3, 1);
        assert_eq!(l.open(), 3);
        assert_eq!(l.refundable(Restock::Cancel), 3);
        assert_eq!(l.refundable(Restock::Return), 3);
        assert_eq!(l.refundable(Restock::NoRestock), 3);
        let l = units(1, 10, 6, 0, 6);
        assert_eq!(l.refundable(Restock::Cancel), 4);
        assert_eq!(l.refundable(Restock::Return), 0);
        assert_eq!(line(1, 5, 100).open(), 5);
    }

    #[test]
    fn broken_lines_are_named() {
        assert_eq!(units(1, 10, 4, 3, 1).check(), Ok(()));
        assert_eq!(units(1, 10, 10, 0, 10).check(), Ok(()));
        for bad in [
            units(7, -1, 0, 0, 0),
            units(7, 1, -1, 0, 0),
            units(7, 1, 0, -1, 0),
            units(7, 1, 0, 0, -1),
        ] {
            assert_eq!(
                bad.check(),
                Err(BrokenLine::NegativeCount { product_id: 7 })
            );
        }
        assert_eq!(
            line(7, 1, -1).check(),
            Err(BrokenLine::NegativePrice { product_id: 7 })
        );
        assert_eq!(
            units(7, 5, 3, 3, 0).check(),
            Err(BrokenLine::MoreThanOrdered {
                product_id: 7,
                quantity: 5,
                shipped: 3,
                cancelled: 3
            })
        );
        assert!(matches!(
            units(7, i64::MAX, i64::MAX, 1, 0).check(),
            Err(BrokenLine::MoreThanOrdered { .. })
        ));
        assert_eq!(
            units(7, 5, 2, 0, 3).check(),
            Err(BrokenLine::ReturnedOverShipped {
                product_id: 7,
                shipped: 2,
                returned: 3
            })
        );
        // Every function that reads lines refuses a broken one.
        let broken = [units(1, 5, 2, 0, 3)];
        let why = BrokenLine::ReturnedOverShipped {
            product_id: 1,
            shipped: 2,
            returned: 3,
        };
        assert_eq!(
            plan_shipment(&broken, None),
            Err(ShipmentError::Broken(why))
        );
        assert_eq!(
            plan_refund_units(&broken, &[]),
            Err(RefundUnitsError::Broken(why))
        );
        assert_eq!(
            refund_amount(&amounts(0, 0, 0), &broken, &[], true, Cents(0)),
            Err(RefundAmountError::Broken(why))
        );
    }

    #[test]
    fn restock_kinds() {
        for kind in Restock::ALL {
            assert_eq!(Restock::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(Restock::parse("no_restock"), Some(Restock::NoRestock));
        assert_eq!(Restock::parse("NoRestock"), None);
        assert!(Restock::Cancel.restocks());
        assert!(Restock::Return.restocks());
        assert!(!Restock::NoRestock.restocks());
        assert!(!Restock::Cancel.takes_shipped());
        assert!(Restock::Return.takes_shipped() && Restock::NoRestock.takes_shipped());
    }

    #[test]
    fn fulfillment_statuses() {
        use FulfillmentStatus::{Fulfilled, PartiallyFulfilled, Unfulfilled};
        for status in FulfillmentStatus::ALL {
            assert_eq!(FulfillmentStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(FulfillmentStatus::parse("Fulfilled"), None);
        assert_eq!(fulfillment_status(&[]), Unfulfilled);
        assert_eq!(fulfillment_status(&[units(1, 3, 0, 0, 0)]), Unfulfilled);
        // Every unit cancelled before any shipped: still unfulfilled.
        assert_eq!(
            fulfillment_status(&[units(1, 3, 0, 3, 0), units(2, 1, 0, 1, 0)]),
            Unfulfilled
        );
        assert_eq!(
            fulfillment_status(&[units(1, 3, 1, 0, 0), units(2, 1, 0, 0, 0)]),
            PartiallyFulfilled
        );
        assert_eq!(
            fulfillment_status(&[units(1, 3, 1, 2, 1), units(2, 1, 0, 1, 0)]),
            Fulfilled
        );
        // Returns do not undo a shipment.
        assert_eq!(fulfillment_status(&[units(1, 3, 3, 0, 3)]), Fulfilled);
    }

    #[test]
    fn shipping_everything_open() {
        let lines = [
            units(1, 3, 1, 0, 0),
            units(2, 2, 0, 2, 0),
            units(3, 4, 0, 1, 0),
        ];
        assert_eq!(plan_shipment(&lines, None), Ok(vec![(1, 2), (3, 3)]));
        let done = [units(1, 3, 3, 0, 0), units(2, 2, 0, 2, 0)];
        assert_eq!(
            plan_shipment(&done, None),
            Err(ShipmentError::NothingToShip)
        );
        assert_eq!(
            plan_shipment(&lines, Some(&[])),
            Err(ShipmentError::NothingToShip)
        );
    }

    #[test]
    fn shipping_some_units_merges_entries_of_a_product() {
        let lines = [line(1, 5, 100), line(2, 2, 100)];
        assert_eq!(
            plan_shipment(&lines, Some(&[(2, 1), (1, 2), (2, 1), (1, 3)])),
            Ok(vec![(2, 2), (1, 5)])
        );
    }

    #[test]
    fn a_refused_shipment_names_every_offending_entry() {
        let lines = [units(1, 5, 3, 1, 0), line(2, 2, 100), line(3, 1, 100)];
        let request = [(1, 1), (2, 2), (9, 1), (3, 2), (1, 1)];
        assert_eq!(
            plan_shipment(&lines, Some(&request)),
            Err(ShipmentError::ExceedsOpen(vec![
                // 1 + 1 > 1 open: named at its first entry.
                ExceedsOpen {
                    index: 0,
                    product_id: 1,
                    open: 1
                },
                ExceedsOpen {
                    index: 2,
                    product_id: 9,
                    open: 0
                },
                ExceedsOpen {
                    index: 3,
                    product_id: 3,
                    open: 1
                },
            ]))
        );
        let err = plan_shipment(&lines, Some(&[(2, 3)])).expect_err("too many");
        let ShipmentError::ExceedsOpen(entries) = err else {
            panic!("{err:?}")
        };
        assert_eq!(entries[0].field(), "items[0].quantity");
        assert_eq!(
            plan_shipment(&lines, Some(&[(1, 0), (2, 1), (9, -1), (9, 5)])),
            Err(ShipmentError::InvalidQuantity(vec![0, 2]))
        );
    }

    #[test]
    fn applying_a_shipment() {
        let mut lines = [line(1, 3, 100), line(2, 1, 100)];
        assert_eq!(
            apply_shipment(&mut lines, &[(1, 2)]),
            Ok(FulfillmentStatus::PartiallyFulfilled)
        );
        assert_eq!((lines[0].shipped, lines[0].open()), (2, 1));
        let before = lines;
        assert!(apply_shipment(&mut lines, &[(1, 1), (2, 2)]).is_err());
        assert!(apply_shipment(&mut lines, &[]).is_err());
        assert_eq!(lines, before, "a refused shipment changes nothing");
        let rest = plan_shipment(&lines, None).expect("open units");
        assert_eq!(
            apply_shipment(&mut lines, &rest),
            Ok(FulfillmentStatus::Fulfilled)
        );
        assert_eq!(release_on_cancel(&lines), vec![]);
    }

    #[test]
    fn completing_an_order_and_its_events() {
        use OrderStatus::{Cancelled, Fulfilled, Paid};
        let partial = [units(1, 3, 1, 0, 0)];
        let done = [units(1, 3, 1, 2, 0)];
        let all_cancelled = [units(1, 3, 0, 3, 0)];
        assert!(!completes_order(Paid, &partial));
        assert!(completes_order(Paid, &done));
        assert!(!completes_order(Fulfilled, &done));
        assert!(!completes_order(Paid, &all_cancelled));
        assert_eq!(status_after(Paid, &done), Fulfilled);
        assert_eq!(status_after(Paid, &all_cancelled), Paid);
        assert_eq!(status_after(Cancelled, &done), Cancelled);

        assert_eq!(shipment_event(Paid, &partial), OrderEvent::shipped(Paid));
        let completing = OrderEvent {
            kind: EventType::OrderStatusChanged,
            from_status: Some(Paid),
            to_status: Fulfilled,
        };
        assert_eq!(shipment_event(Paid, &done), completing);
        // A refund that cancels the last open units after others shipped completes the order too.
        assert_eq!(refund_event(Paid, &done), completing);
        assert_eq!(
            refund_event(Paid, &all_cancelled),
            OrderEvent::refunded(Paid)
        );
        assert_eq!(
            refund_event(Fulfilled, &done),
            OrderEvent::refunded(Fulfilled)
        );
    }

    #[test]
    fn cancelling_releases_the_open_units_only() {
        let lines = [units(1, 5, 2, 1, 0), units(2, 2, 0, 2, 0), line(3, 4, 100)];
        assert_eq!(release_on_cancel(&lines), vec![(1, 2), (3, 4)]);
    }

    #[test]
    fn refund_units_per_pool() {
        use Restock::{Cancel, NoRestock, Return};
        // 10 units: 4 shipped (1 returned), 3 cancelled, 3 open.
        let lines = [units(1, 10, 4, 3, 1), line(2, 2, 100)];
        let items = [
            item(1, 1, Return),
            item(1, 2, Cancel),
            item(1, 1, NoRestock),
            item(1, 1, Return),
            item(2, 2, Cancel),
        ];
        assert_eq!(
            plan_refund_units(&lines, &items),
            Ok(vec![
                item(1, 2, Return),
                item(1, 2, Cancel),
                item(1, 1, NoRestock),
                item(2, 2, Cancel),
            ])
        );
        assert_eq!(plan_refund_units(&lines, &[]), Ok(vec![]));
    }

    #[test]
    fn a_refused_refund_names_every_offending_entry() {
        use Restock::{Cancel, NoRestock, Return};
        let lines = [units(1, 10, 4, 3, 1), line(2, 2, 100)];
        let items = [
            item(2, 1, Cancel),
            // return and no_restock draw on the same 3 shipped units not returned.
            item(1, 2, Return),
            item(1, 2, NoRestock),
            item(1, 3, Cancel),
            item(2, 1, Return),
            item(5, 1, Cancel),
            item(2, 2, Cancel),
        ];
        assert_eq!(
            plan_refund_units(&lines, &items),
            Err(RefundUnitsError::ExceedsRefundable(vec![
                ExceedsRefundable {
                    index: 0,
                    product_id: 2,
                    refundable: 2
                },
                ExceedsRefundable {
                    index: 1,
                    product_id: 1,
                    refundable: 3
                },
                ExceedsRefundable {
                    index: 4,
                    product_id: 2,
                    refundable: 0
                },
                ExceedsRefundable {
                    index: 5,
                    product_id: 5,
                    refundable: 0
                },
            ]))
        );
        assert_eq!(
            plan_refund_units(&lines, &[item(1, 1, Cancel), item(1, 0, Return)]),
            Err(RefundUnitsError::InvalidQuantity(vec![1]))
        );
        let err = plan_refund_units(&lines, &[item(1, 4, Cancel)]).expect_err("3 open");
        let RefundUnitsError::ExceedsRefundable(entries) = err else {
            panic!("{err:?}")
        };
        assert_eq!(entries[0].field(), "items[0].quantity");
    }

    #[test]
    fn applying_refund_units_and_stock() {
        use Restock::{Cancel, NoRestock, Return};
        let mut lines = [units(1, 10, 4, 3, 1), line(2, 2, 100)];
        let items = [
            item(1, 1, Return),
            item(1, 1, NoRestock),
            item(1, 2, Cancel),
            item(2, 1, Cancel),
            item(1, 1, Return),
        ];
        let before = lines;
        assert!(apply_refund_units(&mut lines, &[item(1, 9, Cancel), item(2, 1, Cancel)]).is_err());
        assert_eq!(lines, before, "a refused refund changes nothing");
        assert_eq!(
            apply_refund_units(&mut lines, &items),
            Ok(FulfillmentStatus::PartiallyFulfilled)
        );
        assert_eq!(lines[0], units(1, 10, 4, 5, 4));
        assert_eq!(lines[1], units(2, 2, 0, 1, 0));
        assert_eq!(stock_back(&items), vec![(1, 4), (2, 1)]);
        assert_eq!(stock_back(&[item(1, 3, NoRestock)]), vec![]);
        // Cancelling the last open units after some shipped fulfils the order.
        assert_eq!(
            apply_refund_units(&mut lines, &[item(1, 1, Cancel), item(2, 1, Cancel)]),
            Ok(FulfillmentStatus::Fulfilled)
        );
    }

    fn amounts(subtotal: i64, shipping: i64, tax: i64) -> OrderAmounts {
        OrderAmounts {
            subtotal: Cents(subtotal),
            shipping_amount: Cents(shipping),
            tax_amount: Cents(tax),
            total_amount: Cents(subtotal.saturating_add(shipping).saturating_add(tax)),
        }
    }

    #[test]
    fn refund_amount_at_the_orders_own_tax_rate() {
        use Restock::{Cancel, Return};
        // 2 × 1000 + 500 shipping, tax 500 (20 %).
        let order = amounts(2000, 500, 500);
        let lines = [line(1, 2, 1000)];
        let refund = |items: &[RefundItem], shipping| {
            refund_amount(&order, &lines, items, shipping, Cents(3000))
        };
        assert_eq!(refund(&[item(1, 1, Cancel)], false), Ok(Cents(1200)));
        assert_eq!(refund(&[item(1, 2, Return)], false), Ok(Cents(2400)));
        assert_eq!(refund(&[], true), Ok(Cents(600)));
        assert_eq!(refund(&[item(1, 2, Return)], true), Ok(Cents(3000)));
        assert_eq!(
            refund(&[item(2, 1, Return)], false),
            Err(RefundAmountError::InvalidItem {
                index: 0,
                product_id: 2
            })
        );
        assert_eq!(
            refund(&[item(1, 1, Return), item(1, 0, Return)], false),
            Err(RefundAmountError::InvalidItem {
                index: 1,
                product_id: 1
            })
        );
    }

    #[test]
    fn refund_tax_rounds_half_to_even() {
        use Restock::Cancel;
        // A 12.5 % rate: 125 of tax on 1000.
        let order = amounts(1000, 0, 125);
        let lines = [line(1, 1, 100), line(2, 1, 108), line(3, 1, 792)];
        let tax_of = |product_id| {
            refund_amount(
                &order,
                &lines,
                &[item(product_id, 1, Cancel)],
                false,
                Cents(1125),
            )
            .map(|amount| amount.0 - lines[(product_id - 1) as usize].unit_price.0)
        };
        assert_eq!(tax_of(1), Ok(12), "12.5 → 12");
        assert_eq!(tax_of(2), Ok(14), "13.5 → 14");
        assert_eq!(tax_of(3), Ok(99), "99.0 → 99");
        // Not a half: 1/3 of a cent rounds down, 2/3 up.
        let thirds = amounts(3, 0, 1);
        let three = [line(1, 2, 1)];
        assert_eq!(
            refund_amount(&thirds, &three, &[item(1, 1, Cancel)], false, Cents(4)),
            Ok(Cents(1))
        );
        assert_eq!(
            refund_amount(&thirds, &three, &[item(1, 2, Cancel)], false, Cents(4)),
            Ok(Cents(3))
        );
    }

    #[test]
    fn refund_tax_is_zero_without_a_taxable_amount() {
        let order = amounts(0, 0, 0);
        let lines = [line(1, 2, 0)];
        assert_eq!(
            refund_amount(
                &order,
                &lines,
                &[item(1, 2, Restock::Cancel)],
                true,
                Cents(0)
            ),
            Ok(Cents(0))
        );
    }

    #[test]
    fn refund_amount_is_capped_at_what_remains_captured() {
        let order = amounts(2000, 500, 500);
        let lines = [line(1, 2, 1000)];
        let all = [item(1, 2, Restock::Return)];
        assert_eq!(
            refund_amount(&order, &lines, &all, true, Cents(1000)),
            Ok(Cents(1000))
        );
        assert_eq!(
            refund_amount(&order, &lines, &all, true, Cents(0)),
            Ok(Cents(0))
        );
        assert_eq!(
            refund_amount(&order, &lines, &all, true, Cents(-5)),
            Ok(Cents(0)),
            "never negative"
        );
    }

    #[test]
    fn refund_amount_overflow_is_an_error() {
        let order = amounts(i64::MAX / 2, 0, 1);
        let lines = [line(1, 3, i64::MAX / 2)];
        assert_eq!(
            refund_amount(
                &order,
                &lines,
                &[item(1, 3, Restock::Cancel)],
                false,
                Cents(i64::MAX)
            ),
            Err(RefundAmountError::Overflow)
        );
        // The base fits, the tax does not push the i128 sum out before the cap.
        let order = amounts(1, 0, i64::MAX);
        let lines = [line(1, 1, i64::MAX)];
        assert_eq!(
            refund_amount(
                &order,
                &lines,
                &[item(1, 1, Restock::Cancel)],
                false,
                Cents(7)
            ),
            Ok(Cents(7))
        );
    }

    #[test]
    fn goodwill_refunds() {
        assert_eq!(
            goodwill_amount(0, Cents(100)),
            Err(GoodwillError::NotPositive)
        );
        assert_eq!(
            goodwill_amount(-1, Cents(100)),
            Err(GoodwillError::NotPositive)
        );
        assert_eq!(
            goodwill_amount(101, Cents(100)),
            Err(GoodwillError::ExceedsCaptured {
                remaining: Cents(100)
            })
        );
        assert_eq!(goodwill_amount(100, Cents(100)), Ok(Cents(100)));
        assert_eq!(goodwill_amount(1, Cents(100)), Ok(Cents(1)));
    }

    #[test]
    fn payment_status_after_refunds() {
        assert_eq!(
            payment_status_after_refund(Cents(1000), Cents(0)),
            PaymentStatus::Captured
        );
        assert_eq!(
            payment_status_after_refund(Cents(1000), Cents(1)),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            payment_status_after_refund(Cents(1000), Cents(999)),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            payment_status_after_refund(Cents(1000), Cents(1000)),
            PaymentStatus::Refunded
        );
        assert_eq!(remaining_captured(Cents(1000), Cents(400)), Cents(600));
        assert_eq!(remaining_captured(Cents(1000), Cents(1200)), Cents(0));
        assert!(accepts_refund(PaymentStatus::Captured));
        assert!(accepts_refund(PaymentStatus::PartiallyRefunded));
        for refused in [
            PaymentStatus::Unpaid,
            PaymentStatus::Processing,
            PaymentStatus::Refunded,
            PaymentStatus::Failed,
        ] {
            assert!(!accepts_refund(refused));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::pricing::{PricedLine, PricingRules, TaxRates, price_order};
    use proptest::prelude::*;

    /// One attempted change. Products 0 and 6 are never in the order (ids are 1 to 5); quantities
    /// below 1 and large ones are tried too.
    #[derive(Debug, Clone)]
    enum Op {
        Ship(Option<Vec<(i64, i64)>>),
        Refund {
            items: Vec<RefundItem>,
            shipping: bool,
        },
        Goodwill(i64),
    }

    fn quantity() -> impl Strategy<Value = i64> {
        prop_oneof![4 => 1i64..=4, 1 => -1i64..=22]
    }

    fn op() -> impl Strategy<Value = Op> {
        let restock = prop::sample::select(Restock::ALL.to_vec());
        let refund_item =
            (0i64..=6, quantity(), restock).prop_map(|(product_id, quantity, restock)| {
                RefundItem {
                    product_id,
                    quantity,
                    restock,
                }
            });
        prop_oneof![
            3 => prop::option::of(prop::collection::vec((0i64..=6, quantity()), 0..4))
                .prop_map(Op::Ship),
            3 => (prop::collection::vec(refund_item, 0..4), any::<bool>())
                .prop_map(|(items, shipping)| Op::Refund { items, shipping }),
            1 => (-10i64..=20_000).prop_map(Op::Goodwill),
        ]
    }

    /// 1 to 5 lines (products 1 to 5) of 1 to 20 units at 0 to 10 000 cents, priced with a random
    /// shipping rate, threshold and tax rate.
    fn order() -> impl Strategy<Value = (Vec<LineUnits>, OrderAmounts)> {
        (
            prop::collection::vec((1i64..=20, 0i64..=10_000), 1..=5),
            0i64..=1000,
            0i64..=60_000,
            0u32..=3000,
        )
            .prop_map(|(lines, flat, threshold, bp)| {
                let lines: Vec<LineUnits> = lines
                    .into_iter()
                    .zip(1..)
                    .map(|((quantity, price), id)| LineUnits::new(id, quantity, Cents(price)))
                    .collect();
                let priced: Vec<PricedLine> = lines
                    .iter()
                    .map(|l| PricedLine {
                        unit_price: l.unit_price,
                        quantity: u32::try_from(l.quantity).unwrap_or(0),
                    })
                    .collect();
                let rules = PricingRules {
                    shipping_flat: Cents(flat),
                    free_shipping_threshold: Cents(threshold),
                    tax_rates: TaxRates::new([("GB".to_owned(), bp)]),
                };
                let totals = price_order(&priced, "GB", &rules).expect("small amounts fit");
                let amounts = OrderAmounts {
                    subtotal: totals.subtotal,
                    shipping_amount: totals.shipping,
                    tax_amount: totals.tax,
                    total_amount: totals.total,
                };
                (lines, amounts)
            })
    }

    fn expected_status(lines: &[LineUnits]) -> FulfillmentStatus {
        let shipped: i64 = lines.iter().map(|l| l.shipped).sum();
        let open: i64 = lines.iter().map(LineUnits::open).sum();
        if shipped == 0 {
            FulfillmentStatus::Unfulfilled
        } else if open == 0 {
            FulfillmentStatus::Fulfilled
        } else {
            FulfillmentStatus::PartiallyFulfilled
        }
    }

    /// Over any sequence of shipments and refunds (refused ones skipped, as the API refuses
    /// them): units are conserved, refunds never exceed what was captured, each unit goes back
    /// to stock at most once, the fulfillment status follows the counts, and a refused request
    /// changes nothing.
    /// The position of product `product_id` in the lines `order` makes (ids 1 to 5).
    fn at(product_id: i64) -> usize {
        usize::try_from(product_id - 1).unwrap_or(usize::MAX)
    }

    fn keep_the_books(
        mut lines: Vec<LineUnits>,
        amounts: OrderAmounts,
        ops: Vec<Op>,
    ) -> Result<(), TestCaseError> {
        let captured = amounts.total_amount;
        let mut refunded = Cents::ZERO;
        let mut status = OrderStatus::Paid;
        let mut payment = PaymentStatus::Captured;
        let mut stock = vec![0i64; lines.len()];
        let mut restocked_returns = vec![0i64; lines.len()];
        let mut was_fulfilled = false;
        for op in ops {
            let before = lines.clone();
            match op {
                Op::Ship(request) => {
                    if status != OrderStatus::Paid {
                        // A fulfilled order has no open unit left.
                        prop_assert_eq!(
                            plan_shipment(&lines, None),
                            Err(ShipmentError::NothingToShip)
                        );
                        continue;
                    }
                    match plan_shipment(&lines, request.as_deref()) {
                        Ok(plan) => {
                            prop_assert!(plan.iter().all(|&(_, q)| q >= 1));
                            let shipping: i64 = plan.iter().map(|&(_, q)| q).sum();
                            let after = apply_shipment(&mut lines, &plan);
                            prop_assert_eq!(after, Ok(fulfillment_status(&lines)));
                            let shipped =
                                |ls: &[LineUnits]| ls.iter().map(|l| l.shipped).sum::<i64>();
                            prop_assert_eq!(shipped(&lines), shipped(&before) + shipping);
                            if request.is_none() {
                                prop_assert!(lines.iter().all(|l| l.open() == 0));
                            }
                            let event = shipment_event(status, &lines);
                            status = status_after(status, &lines);
                            prop_assert_eq!(event.to_status, status);
                        }
                        Err(e) => {
                            let raw = request.unwrap_or_default();
                            prop_assert_eq!(apply_shipment(&mut lines, &raw), Err(e));
                            prop_assert_eq!(&lines, &before);
                        }
                    }
                }
                Op::Refund { items, shipping } => {
                    if !accepts_refund(payment) {
                        continue;
                    }
                    match plan_refund_units(&lines, &items) {
                        Ok(plan) => {
                            if plan.is_empty() && !shipping {
                                continue; // neither items nor shipping: 422
                            }
                            let remaining = remaining_captured(captured, refunded);
                            let amount =
                                refund_amount(&amounts, &lines, &plan, shipping, remaining);
                            prop_assert!(amount.is_ok(), "{:?}", amount);
                            let amount = amount.unwrap_or_default();
                            prop_assert!(Cents::ZERO <= amount && amount <= remaining);
                            prop_assert!(apply_refund_units(&mut lines, &plan).is_ok());
                            for (product_id, q) in stock_back(&plan) {
                                stock[at(product_id)] += q;
                            }
                            for item in plan.iter().filter(|i| i.restock == Restock::Return) {
                                restocked_returns[at(item.product_id)] += item.quantity;
                            }
                            refunded = refunded.checked_add(amount).unwrap_or(Cents(i64::MAX));
                            payment = payment_status_after_refund(captured, refunded);
                            let event = refund_event(status, &lines);
                            status = status_after(status, &lines);
                            prop_assert_eq!(event.to_status, status);
                        }
                        Err(e) => {
                            prop_assert_eq!(apply_refund_units(&mut lines, &items), Err(e));
                            prop_assert_eq!(&lines, &before);
                        }
                    }
                }
                Op::Goodwill(amount) => {
                    if !accepts_refund(payment) {
                        continue;
                    }
                    let remaining = remaining_captured(captured, refunded);
                    if let Ok(amount) = goodwill_amount(amount, remaining) {
                        refunded = refunded.checked_add(amount).unwrap_or(Cents(i64::MAX));
                        payment = payment_status_after_refund(captured, refunded);
                    }
                    prop_assert_eq!(&lines, &before);
                }
            }

            // Units are conserved.
            for line in &lines {
                prop_assert_eq!(line.check(), Ok(()));
                prop_assert_eq!(line.open() + line.shipped + line.cancelled, line.quantity);
                prop_assert!(0 <= line.returned && line.returned <= line.shipped);
            }
            // Refunds never exceed what was captured.
            prop_assert!(refunded <= captured);
            prop_assert_eq!(
                payment == PaymentStatus::Refunded,
                refunded == captured && refunded > Cents::ZERO
            );
            // Stock moves exactly once per cancelled or returned-with-restock unit.
            for (i, line) in lines.iter().enumerate() {
                prop_assert_eq!(stock[i], line.cancelled + restocked_returns[i]);
                prop_assert!(stock[i] <= line.quantity);
            }
            // The fulfillment status follows the counts; fulfilled stays fulfilled.
            let fulfillment = fulfillment_status(&lines);
            prop_assert_eq!(fulfillment, expected_status(&lines));
            if was_fulfilled {
                prop_assert_eq!(fulfillment, FulfillmentStatus::Fulfilled);
            }
            if fulfillment == FulfillmentStatus::Fulfilled {
                prop_assert!(lines.iter().all(|l| l.open() == 0));
                was_fulfilled = true;
            }
            prop_assert_eq!(
                status == OrderStatus::Fulfilled,
                fulfillment == FulfillmentStatus::Fulfilled
            );
        }

        // An order that never shipped may be cancelled: its open units go back, and with the
        // cancelled ones every unit went back exactly once.
        if fulfillment_status(&lines) == FulfillmentStatus::Unfulfilled {
            for (product_id, q) in release_on_cancel(&lines) {
                stock[at(product_id)] += q;
            }
            for (i, line) in lines.iter().enumerate() {
                prop_assert_eq!(stock[i], line.quantity);
            }
        }
        Ok(())
    }

    /// Refunding every unit and the shipping in one refund gives back exactly the total: the tax
    /// at the order's own rate on the whole taxable amount is the order's tax.
    fn refund_everything(
        lines: Vec<LineUnits>,
        amounts: OrderAmounts,
    ) -> Result<(), TestCaseError> {
        let items: Vec<RefundItem> = lines
            .iter()
            .map(|l| RefundItem {
                product_id: l.product_id,
                quantity: l.quantity,
                restock: Restock::Cancel,
            })
            .collect();
        let uncapped = refund_amount(&amounts, &lines, &items, true, Cents(i64::MAX));
        prop_assert_eq!(uncapped, Ok(amounts.total_amount));
        prop_assert_eq!(
            refund_amount(&amounts, &lines, &items, true, amounts.total_amount),
            Ok(amounts.total_amount)
        );
        Ok(())
    }

    /// A valid line made of any numbers: counts folded into `0 ≤ shipped + cancelled ≤ quantity`
    /// and `returned ≤ shipped`, up to `i64::MAX`.
    fn valid_line(raw: (i64, i64, i64, i64, i64, i64)) -> LineUnits {
        let (product_id, quantity, price, shipped, cancelled, returned) = raw;
        let quantity = quantity.checked_abs().unwrap_or(i64::MAX);
        let fold = |n: i64, max: i64| if max == 0 { 0 } else { n.rem_euclid(max) };
        let shipped = fold(shipped, quantity);
        let cancelled = fold(cancelled, quantity - shipped);
        LineUnits {
            product_id,
            quantity,
            unit_price: Cents(price.checked_abs().unwrap_or(i64::MAX)),
            shipped,
            cancelled,
            returned: fold(returned, shipped),
        }
    }

    /// No input panics; a refused change leaves the lines as they were, an accepted one leaves
    /// them valid.
    fn no_panic(
        raw: Vec<(i64, i64, i64, i64, i64, i64)>,
        request: Vec<(i64, i64)>,
        refund: Vec<(i64, i64, Restock)>,
        order: (i64, i64, i64),
        remaining: i64,
    ) -> Result<(), TestCaseError> {
        let (subtotal, shipping_amount, tax) = order;
        let mut lines: Vec<LineUnits> = raw
            .into_iter()
            .map(
                |(product_id, quantity, price, shipped, cancelled, returned)| LineUnits {
                    product_id,
                    quantity,
                    unit_price: Cents(price),
                    shipped,
                    cancelled,
                    returned,
                },
            )
            .collect();
        let items: Vec<RefundItem> = refund
            .into_iter()
            .map(|(product_id, quantity, restock)| RefundItem {
                product_id,
                quantity,
                restock,
            })
            .collect();
        let mut valid: Vec<LineUnits> = lines.iter().map(|l| valid_line(raw_of(l))).collect();
        let amounts = OrderAmounts {
            subtotal: Cents(subtotal),
            shipping_amount: Cents(shipping_amount),
            tax_amount: Cents(tax),
            total_amount: Cents(0),
        };
        let _ = stock_back(&items);
        for lines in [&mut lines, &mut valid] {
            let _ = fulfillment_status(lines);
            let _ = release_on_cancel(lines);
            let _ = plan_shipment(lines, None);
            let before = lines.clone();
            if apply_shipment(lines, &request).is_err() {
                prop_assert_eq!(&*lines, &before);
            }
            let before = lines.clone();
            if apply_refund_units(lines, &items).is_err() {
                prop_assert_eq!(&*lines, &before);
            }
            let valid_before = before.iter().all(|l| l.check().is_ok());
            prop_assert_eq!(lines.iter().all(|l| l.check().is_ok()), valid_before);
            if let Ok(amount) = refund_amount(&amounts, lines, &items, true, Cents(remaining)) {
                prop_assert!(amount.0 >= 0 && amount.0 <= remaining.max(0));
            }
        }
        Ok(())
    }

    fn raw_of(l: &LineUnits) -> (i64, i64, i64, i64, i64, i64) {
        (
            l.product_id,
            l.quantity,
            l.unit_price.0,
            l.shipped,
            l.cancelled,
            l.returned,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn shipments_and_refunds_keep_the_books(
            (lines, amounts) in order(),
            ops in prop::collection::vec(op(), 0..30),
        ) {
            keep_the_books(lines, amounts, ops)?;
        }

        #[test]
        fn refunding_everything_gives_back_the_total((lines, amounts) in order()) {
            refund_everything(lines, amounts)?;
        }

        #[test]
        fn no_input_panics(
            raw in prop::collection::vec(any::<(i64, i64, i64, i64, i64, i64)>(), 0..4),
            request in prop::collection::vec(any::<(i64, i64)>(), 0..4),
            refund in prop::collection::vec(
                (any::<i64>(), any::<i64>(), prop::sample::select(Restock::ALL.to_vec())),
                0..4,
            ),
            order in any::<(i64, i64, i64)>(),
            remaining in any::<i64>(),
        ) {
            no_panic(raw, request, refund, order, remaining)?;
        }
    }
}
