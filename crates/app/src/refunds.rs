//! Refunds of a captured payment, in part or in whole: units cancelled before they shipped,
//! returned, or kept (`no_restock`), the shipping, or a goodwill amount.
//!
//! Three steps, because the provider is never called inside a store transaction: the store
//! reserves the refund `pending` (its units and money held against every other refund); the
//! provider refunds it, keyed by the refund's id; the store settles it exactly once. A provider
//! that does not answer in time leaves the refund `pending` for the reconciler, which asks the
//! provider (and, when the request never reached it, makes it again under the same key).

use domain::validation::{self, Lines};
use domain::{RefundItem, Restock, ValidationErrors};
use ports::audit::action;
use ports::{
    Actor, AuditContext, NewRefund, Order, PaymentError, Refund, RefundError, RefundOutcome,
    RefundRequest, RefundSettlement, RefundState, RefundStatus, StoreError,
};
use uuid::Uuid;

use crate::{AppSettings, Deps};

/// The longest reason.
pub const REASON_MAX: usize = 500;
/// The most lines one refund may name.
pub const REFUND_LINES_MAX: usize = 100;
/// The most units of one line a request may name (as for placement).
pub const REFUND_QUANTITY_MAX: i64 = 1000;

/// An admin's refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundCommand {
    pub order_id: Uuid,
    /// `None` when the request named no items.
    pub items: Option<Vec<RefundItem>>,
    pub shipping: bool,
    /// A goodwill amount, alone.
    pub amount: Option<i64>,
    pub reason: String,
    /// `If-Match`: the order's version the admin saw.
    pub expected_version: Option<i64>,
}

/// How a refund ended, the errors aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundResult {
    /// The provider refunded it: its units, stock and money moved (201).
    Succeeded { order: Box<Order>, refund: Refund },
    /// The provider did not answer in time: `pending`, settled later (202).
    Pending { refund: Refund },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundOrderError {
    #[error("order not found")]
    NotFound,
    /// The payment is neither `captured` nor `partially_refunded` (409 `not_refundable`).
    #[error("the order's payment is not refundable")]
    NotRefundable,
    /// 409 `exceeds_refundable_quantity`, one entry per offending line.
    #[error("more units than are refundable")]
    ExceedsRefundable(Vec<domain::ExceedsRefundable>),
    /// 409 `exceeds_refundable_quantity` on `shipping`.
    #[error("the shipping was refunded already")]
    ShippingRefunded,
    /// 409 `exceeds_captured_amount`.
    #[error("more than remains captured")]
    ExceedsCaptured { remaining: i64 },
    /// The provider refused: the refund is `failed` and nothing else changed (409
    /// `refund_failed` with `refund_id`).
    #[error("the payment provider refused the refund")]
    Failed { refund_id: Uuid },
    #[error("the order changed meanwhile")]
    PreconditionFailed,
    /// Fields `items`, `items[i].*`, `shipping`, `amount`, `reason`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RefundError> for RefundOrderError {
    fn from(error: RefundError) -> Self {
        match error {
            RefundError::NotFound => RefundOrderError::NotFound,
            RefundError::NotRefundable => RefundOrderError::NotRefundable,
            RefundError::ExceedsRefundable(lines) => RefundOrderError::ExceedsRefundable(lines),
            RefundError::ShippingRefunded => RefundOrderError::ShippingRefunded,
            RefundError::ExceedsCaptured { remaining } => {
                RefundOrderError::ExceedsCaptured { remaining }
            }
            RefundError::PreconditionFailed => RefundOrderError::PreconditionFailed,
            RefundError::Store(e) => RefundOrderError::Store(e),
        }
    }
}

/// Refunds, for admins (the API checks the role).
#[derive(Clone)]
pub struct RefundService {
    pub deps: Deps,
    pub settings: AppSettings,
}

impl RefundService {
    pub fn new(deps: Deps, settings: AppSettings) -> RefundService {
        RefundService { deps, settings }
    }

    /// Reserves, refunds at the provider and settles; `refund_id` is the new refund's id (a UUID
    /// v7 the caller reserved, e.g. with its `Idempotency-Key`) and the provider's key. The
    /// admin's `order.refunded` entry goes with the reservation (the admin's write; the
    /// settlement is the provider's answer).
    #[tracing::instrument(skip(self, actor, cmd, audit), fields(user_id = actor.id, order_id = %cmd.order_id))]
    pub async fn refund(
        &self,
        actor: Actor,
        refund_id: Uuid,
        cmd: RefundCommand,
        audit: &AuditContext,
    ) -> Result<RefundResult, RefundOrderError> {
        let mut new = validate(&cmd, refund_id, actor)?;
        new.audit = Some(crate::admin_orders::order_entry(
            audit,
            actor,
            action::ORDER_REFUNDED,
            cmd.order_id,
        ));
        let refund = self.deps.orders.reserve_refund(&new).await?;
        tracing::info!(amount = refund.amount, "refund reserved");
        self.finish(refund).await
    }

    /// Finishes a refund whose request never answered (its `Idempotency-Key` was taken over
    /// after the lease): a pending one is refunded again under the same key (once at the
    /// provider) and settled; a settled one is answered as it stands. `None` when the first
    /// request never reserved it.
    pub async fn resume(&self, refund_id: Uuid) -> Result<Option<RefundResult>, RefundOrderError> {
        match self.deps.orders.refund(refund_id).await? {
            None => Ok(None),
            Some(refund) => self.finish(refund).await.map(Some),
        }
    }

    /// One refund.
    pub async fn get(&self, refund_id: Uuid) -> Result<Option<Refund>, StoreError> {
        self.deps.orders.refund(refund_id).await
    }

    /// The provider's part and the settlement of a reserved refund.
    async fn finish(&self, refund: Refund) -> Result<RefundResult, RefundOrderError> {
        match refund.status {
            RefundStatus::Succeeded => {
                let order = self.order(refund.order_id).await?;
                return Ok(RefundResult::Succeeded {
                    order: Box::new(order),
                    refund,
                });
            }
            RefundStatus::Failed => {
                return Err(RefundOrderError::Failed {
                    refund_id: refund.id,
                });
            }
            RefundStatus::Pending => {}
        }
        let settlement = if refund.amount == 0 {
            // Free units: nothing to give back at the provider.
            RefundSettlement::Succeeded {
                reference: "no_money_moved".into(),
            }
        } else {
            match self.ask_provider(&refund).await {
                Ok(RefundOutcome::Refunded { reference }) => {
                    RefundSettlement::Succeeded { reference }
                }
                Ok(RefundOutcome::Refused { reason }) => {
                    tracing::warn!(%reason, "the provider refused the refund");
                    RefundSettlement::Failed
                }
                Err(error) => {
                    tracing::warn!(%error, "refund outcome unknown: left to the reconciler");
                    return Ok(RefundResult::Pending { refund });
                }
            }
        };
        let (order, refund) = self
            .deps
            .orders
            .settle_refund(refund.id, &settlement)
            .await?;
        match refund.status {
            RefundStatus::Succeeded => {
                tracing::info!(amount = refund.amount, "refund succeeded");
                Ok(RefundResult::Succeeded {
                    order: Box::new(order),
                    refund,
                })
            }
            RefundStatus::Failed => Err(RefundOrderError::Failed {
                refund_id: refund.id,
            }),
            RefundStatus::Pending => Ok(RefundResult::Pending { refund }),
        }
    }

    async fn ask_provider(&self, refund: &Refund) -> Result<RefundOutcome, PaymentError> {
        let request = RefundRequest {
            refund_id: refund.id,
            order_id: refund.order_id,
            amount: refund.amount,
            currency: self.settings.currency.clone(),
        };
        tokio::time::timeout(
            self.settings.payment_timeout,
            self.deps.payments.refund_amount(&request),
        )
        .await
        .unwrap_or(Err(PaymentError::Timeout))
    }

    /// Settles one `pending` refund for the reconciler: refunded or refused at the provider →
    /// settled; never made there (the request died first) → made now, under the same key;
    /// unknown → left pending. Whether it was settled.
    pub async fn reconcile(&self, refund: Refund) -> Result<bool, StoreError> {
        let state = tokio::time::timeout(
            self.settings.payment_timeout,
            self.deps.payments.refund_state(refund.id),
        )
        .await
        .unwrap_or(Err(PaymentError::Timeout));
        let settlement = match state {
            Ok(RefundState::Refunded { reference }) => RefundSettlement::Succeeded { reference },
            Ok(RefundState::Refused) => RefundSettlement::Failed,
            Ok(RefundState::NotRefunded) => {
                return match self.finish(refund).await {
                    Ok(RefundResult::Succeeded { .. }) | Err(RefundOrderError::Failed { .. }) => {
                        Ok(true)
                    }
                    Ok(RefundResult::Pending { .. }) => Ok(false),
                    Err(RefundOrderError::Store(e)) => Err(e),
                    Err(other) => Err(StoreError::Internal(other.to_string())),
                };
            }
            Err(error) => {
                tracing::warn!(refund_id = %refund.id, %error, "refund still unknown");
                return Ok(false);
            }
        };
        self.deps
            .orders
            .settle_refund(refund.id, &settlement)
            .await?;
        Ok(true)
    }

    async fn order(&self, order_id: Uuid) -> Result<Order, StoreError> {
        self.deps
            .orders
            .get(order_id)
            .await?
            .ok_or_else(|| StoreError::Internal("a refund's order vanished".into()))
    }
}

/// Either `items` and/or `shipping`, or `amount` alone; lines 1 to 100, quantities 1 to 1000;
/// the reason 1 to 500 characters.
fn validate(cmd: &RefundCommand, id: Uuid, actor: Actor) -> Result<NewRefund, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let reason = validation::text(
        &mut errors,
        "reason",
        &cmd.reason,
        1,
        REASON_MAX,
        Lines::Multi,
    );
    let items = cmd.items.clone().unwrap_or_default();
    let with_units = cmd.items.is_some() || cmd.shipping;
    match (with_units, cmd.amount) {
        (true, Some(_)) => errors.add(
            "amount",
            "a goodwill amount goes alone, without items or shipping",
        ),
        (false, None) => errors.add("items", "name items and/or shipping, or a goodwill amount"),
        (false, Some(amount)) if amount < 1 => errors.add("amount", "must be at least 1"),
        _ => {}
    }
    if let Some(lines) = &cmd.items
        && (lines.is_empty() || lines.len() > REFUND_LINES_MAX)
    {
        errors.add("items", format!("1 to {REFUND_LINES_MAX} lines"));
    }
    for (i, item) in items.iter().enumerate() {
        if item.product_id < 1 {
            errors.add(format!("items[{i}].product_id"), "must be a product id");
        }
        if !(1..=REFUND_QUANTITY_MAX).contains(&item.quantity) {
            errors.add(
                format!("items[{i}].quantity"),
                format!("must be 1 to {REFUND_QUANTITY_MAX}"),
            );
        }
    }
    errors.into_result(NewRefund {
        id,
        order_id: cmd.order_id,
        items,
        shipping: cmd.shipping,
        amount: if with_units { None } else { cmd.amount },
        reason,
        actor: Some(actor),
        expected_version: cmd.expected_version,
        audit: None,
    })
}

/// `cancel`, `return` or `no_restock`.
pub fn parse_restock(text: &str) -> Option<Restock> {
    Restock::parse(text)
}

#[cfg(test)]
mod tests;
