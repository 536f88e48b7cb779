//! The order system's rules in plain Rust: no I/O, no async, no database or web types.
//!
//! - [`order`]: the state machine (`OrderStatus`, `PaymentStatus`, transitions, events), and
//!   [`order::fulfillment`]: shipments, partial refunds and returns, unit by unit.
//! - [`money`] and [`pricing`]: integer cents with checked arithmetic, the pricing rules.
//! - [`validation`]: request validation whose every failure names its field.
//! - [`stats`]: the admin sales report's query rules and bucket arithmetic.
//! - [`email`]: which events make which emails, their fixed `Message-ID`, retries, money as
//!   receipts write it.
//! - [`webhook`]: webhook URL rules, the addresses a delivery must never connect to, secrets and
//!   signatures, subscriptions, retries and disabling.

pub mod email;
pub mod money;
pub mod order;
pub mod pricing;
pub mod product;
pub mod stats;
pub mod user;
pub mod validation;
pub mod webhook;

pub use money::{Cents, MoneyOverflow};
pub use order::events::{EventType, OrderEvent};
pub use order::fulfillment::{
    BrokenLine, ExceedsOpen, ExceedsRefundable, FulfillmentStatus, GoodwillError, LineUnits,
    OrderAmounts, RefundAmountError, RefundItem, RefundUnitsError, Restock, ShipmentError,
    accepts_refund, apply_refund_units, apply_shipment, completes_order, fulfillment_status,
    goodwill_amount, payment_status_after_refund, plan_refund_units, plan_shipment, refund_amount,
    refund_event, release_on_cancel, remaining_captured, shipment_event, status_after, stock_back,
};
pub use order::placement::{
    AddressInput, LineInput, OrderLine, ShippingAddress, ValidOrder, validate_order,
};
pub use order::status::{OrderStatus, PaymentStatus};
pub use order::transitions::PaymentEffect;
pub use order::transitions::{InvalidTransition, Transition, allowed_transitions, transition};
pub use pricing::{PricedLine, PricingError, PricingRules, TaxRates, Totals, price_order};
pub use user::{
    Account, AccountChange, AccountChangeRefusal, Role, UserStatus, check_not_self,
    decide_account_change, plan_account_change,
};
pub use validation::{FieldError, ValidationErrors};
