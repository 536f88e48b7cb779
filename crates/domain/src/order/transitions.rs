//! The order state machine, as one function.
//!
//! ```text
//! PENDING ──▶ PAID ──▶ FULFILLED
//!    │          │
//!    └────▶ CANCELLED ◀┘
//! ```
//! `FULFILLED` and `CANCELLED` are final.

use super::events::{EventType, OrderEvent};
use super::status::OrderStatus;
use crate::user::Role;

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order cannot move from {from} to {to}")]
pub struct InvalidTransition {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// What the payment side of a transition must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentEffect {
    /// Nothing changes on the payment.
    None,
    /// The money is now collected (`payment_collected`, `captured`).
    Capture,
    /// The collected money goes back through the provider (`refunded`).
    Refund,
}

/// An allowed move: the new status and everything it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: OrderStatus,
    pub to: OrderStatus,
    /// The one event this change emits.
    pub event: OrderEvent,
    /// The order's reserved stock goes back to the shelves. Only a move into `CANCELLED` says so,
    /// and `CANCELLED` is final, so over any sequence of moves this is true at most once.
    pub release_stock: bool,
    pub payment: PaymentEffect,
}

/// Checks a move from `from` to `to` and says what it causes.
pub fn transition(from: OrderStatus, to: OrderStatus) -> Result<Transition, InvalidTransition> {
    use OrderStatus::{Cancelled, Fulfilled, Paid, Pending};
    let payment = match (from, to) {
        (Pending, Paid) => PaymentEffect::Capture,
        (Pending, Cancelled) | (Paid, Fulfilled) => PaymentEffect::None,
        (Paid, Cancelled) => PaymentEffect::Refund,
        _ => return Err(InvalidTransition { from, to }),
    };
    Ok(Transition {
        from,
        to,
        event: OrderEvent {
            kind: EventType::for_move(Some(from), to),
            from_status: Some(from),
            to_status: to,
        },
        release_stock: to == Cancelled,
        payment,
    })
}

/// The statuses `role` may move an order in `status` to now. A customer may only cancel their own
/// order while it is `PENDING` (the caller checks ownership); an admin may make every allowed move.
pub fn allowed_transitions(status: OrderStatus, role: Role) -> Vec<OrderStatus> {
    match role {
        Role::Admin => OrderStatus::ALL
            .into_iter()
            .filter(|to| transition(status, *to).is_ok())
            .collect(),
        Role::Customer if status == OrderStatus::Pending => vec![OrderStatus::Cancelled],
        Role::Customer => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::{Cancelled, Fulfilled, Paid, Pending};
    use proptest::prelude::*;

    #[test]
    fn the_four_allowed_moves() {
        let allowed = [
            (Pending, Paid),
            (Pending, Cancelled),
            (Paid, Fulfilled),
            (Paid, Cancelled),
        ];
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let result = transition(from, to);
                if allowed.contains(&(from, to)) {
                    let t = result.expect("allowed move");
                    assert_eq!((t.from, t.to), (from, to));
                    assert_eq!(t.event.to_status, to);
                    assert_eq!(t.event.from_status, Some(from));
                } else {
                    assert_eq!(result, Err(InvalidTransition { from, to }));
                }
            }
        }
    }

    #[test]
    fn events_and_effects() {
        let paid = transition(Pending, Paid).expect("allowed");
        assert_eq!(paid.event.kind, EventType::OrderPaid);
        assert_eq!(paid.payment, PaymentEffect::Capture);
        assert!(!paid.release_stock);

        let fulfilled = transition(Paid, Fulfilled).expect("allowed");
        assert_eq!(fulfilled.event.kind, EventType::OrderStatusChanged);
        assert!(!fulfilled.release_stock);

        let cancel_pending = transition(Pending, Cancelled).expect("allowed");
        assert_eq!(cancel_pending.event.kind, EventType::OrderCancelled);
        assert!(cancel_pending.release_stock);
        assert_eq!(cancel_pending.payment, PaymentEffect::None);

        let cancel_paid = transition(Paid, Cancelled).expect("allowed");
        assert!(cancel_paid.release_stock);
        assert_eq!(cancel_paid.payment, PaymentEffect::Refund);
    }

    #[test]
    fn allowed_transitions_by_role() {
        assert_eq!(
            allowed_transitions(Pending, Role::Admin),
            vec![Paid, Cancelled]
        );
        assert_eq!(
            allowed_transitions(Paid, Role::Admin),
            vec![Fulfilled, Cancelled]
        );
        assert!(allowed_transitions(Fulfilled, Role::Admin).is_empty());
        assert!(allowed_transitions(Cancelled, Role::Admin).is_empty());
        assert_eq!(
            allowed_transitions(Pending, Role::Customer),
            vec![Cancelled]
        );
        assert!(allowed_transitions(Paid, Role::Customer).is_empty());
    }

    fn any_status() -> impl Strategy<Value = OrderStatus> {
        prop::sample::select(OrderStatus::ALL.to_vec())
    }

    proptest! {
        /// No sequence of attempted moves leaves a final state, and stock is released at most once.
        #[test]
        fn final_states_stay_final_and_stock_is_released_at_most_once(
            attempts in prop::collection::vec(any_status(), 0..40)
        ) {
            let mut status = Pending;
            let mut releases = 0;
            let mut reached_final = false;
            for to in attempts {
                match transition(status, to) {
                    Ok(t) => {
                        prop_assert!(!reached_final, "moved out of final state {status}");
                        if t.release_stock {
                            releases += 1;
                        }
                        status = t.to;
                    }
                    Err(e) => prop_assert_eq!(e, InvalidTransition { from: status, to }),
                }
                reached_final |= status.is_final();
            }
            prop_assert!(releases <= 1);
            prop_assert_eq!(releases == 1, status == Cancelled);
        }
    }
}
