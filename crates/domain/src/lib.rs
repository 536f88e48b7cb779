//! The order system's rules in plain Rust: no I/O, no async, no database or web types.
//!
//! - [`order`]: the state machine (`OrderStatus`, `PaymentStatus`, transitions, events).
//! - [`money`] and [`pricing`]: integer cents with checked arithmetic, the pricing rules.
//! - [`validation`]: request validation whose every failure names its field.

pub mod money;
pub mod order;
pub mod pricing;
pub mod product;
pub mod user;
pub mod validation;

pub use money::{Cents, MoneyOverflow};
pub use order::events::{EventType, OrderEvent};
pub use order::placement::{
    AddressInput, LineInput, OrderLine, ShippingAddress, ValidOrder, validate_order,
};
pub use order::status::{OrderStatus, PaymentStatus};
pub use order::transitions::PaymentEffect;
pub use order::transitions::{InvalidTransition, Transition, allowed_transitions, transition};
pub use pricing::{PricedLine, PricingError, PricingRules, TaxRates, Totals, price_order};
pub use user::Role;
pub use validation::{FieldError, ValidationErrors};
