//! The reconciler: resolves `PENDING` orders whose charge outcome is unknown, and cancels unpaid
//! orders past `pending_order_ttl` (their stock goes back).
//!
//! Safe with several instances at once: every change is conditional (`payment_status_in`, `from`
//! status), so an order is resolved or cancelled once, whichever instance gets there first.
//!
//! When: [`Reconciler::run_until`] makes a pass at start-up (so a charge a dead instance left in
//! flight is asked about at once), then sleeps until the next order falls due, as the store's
//! [`ReconcileHorizon`] tells: an unpaid order at its creation + TTL, a charge in flight at its
//! attempt + the payment timeout (before that its request may still be waiting for the answer), a
//! pending refund at its reservation + the payment timeout. Work that starts while it sleeps falls
//! due at least a TTL (an order) or a payment timeout (a charge or refund left unanswered) later,
//! so the sleep is capped at half the TTL, the payment timeout and [`MAX_SLEEP`]; it is never
//! shorter than [`MIN_SLEEP`] (no busy loop), nor than [`RETRY_SLEEP`] after a pass that left
//! charges unresolved or failed. With ten instances and a 2 s TTL that is at most ten
//! three-index-lookup queries a second; with the defaults, two.

use std::time::Duration;

use domain::{OrderStatus, PaymentStatus};
use ports::{ChargeState, Order, ReconcileHorizon, StatusChange, StoreError};
use tokio::sync::watch;

use crate::payments;
use crate::refunds::RefundService;
use crate::{AppSettings, Deps};

/// How many orders one run looks at.
pub const BATCH_SIZE: u32 = 100;

/// At most this many full batches back to back (a backlog after downtime) before sleeping.
pub const PASSES_PER_WAKE: usize = 50;

/// The shortest sleep between passes.
pub const MIN_SLEEP: Duration = Duration::from_secs(1);

/// The shortest sleep after a pass that could not resolve everything due (the provider or the
/// store failing): do not hammer them.
pub const RETRY_SLEEP: Duration = Duration::from_secs(5);

/// Woken this long after an order falls due, so that it is due by then.
const DUE_SLACK: Duration = Duration::from_millis(20);

/// The longest sleep between passes.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The note on an order cancelled at expiry.
pub const EXPIRED_NOTE: &str = "expired";

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Orders looked at.
    pub examined: u32,
    /// Charges found captured: the orders are now `PAID`.
    pub paid: u32,
    /// Charges found not made or declined: payment now `failed`.
    pub failed: u32,
    /// Unpaid orders past their TTL, now `CANCELLED`.
    pub expired: u32,
    /// Charges the provider could not tell about now (asked again next run).
    pub unresolved: u32,
    /// Orders another actor changed first (paid, cancelled): nothing to do.
    pub skipped: u32,
    /// Orders whose handling failed (logged; the others went on).
    pub errors: u32,
    /// Pending refunds settled (the provider told, or the refund was made now).
    pub refunds_settled: u32,
    /// Pending refunds the provider could not tell about now (asked again next run).
    pub refunds_unresolved: u32,
}

/// Resolves pending orders; run it periodically in every instance.
#[derive(Clone)]
pub struct Reconciler {
    pub deps: Deps,
    pub settings: AppSettings,
}

/// What handling one order came to.
enum Handled {
    Paid,
    Failed { then_expired: bool },
    Expired,
    Unresolved,
    Skipped,
    Nothing,
}

impl Reconciler {
    pub fn new(deps: Deps, settings: AppSettings) -> Reconciler {
        Reconciler { deps, settings }
    }

    /// One pass over at most [`BATCH_SIZE`] orders: `processing` ones are asked about
    /// (captured → `PAID`; not charged or declined → payment `failed`); unpaid or failed ones
    /// created more than `pending_order_ttl` ago are cancelled with the note `expired`. An
    /// order whose handling fails is logged and does not stop the others; only failing to get
    /// the batch is an error.
    #[tracing::instrument(skip(self))]
    pub async fn run_once(&self) -> Result<ReconcileReport, StoreError> {
        let now = self.deps.clock.now();
        let cutoff = now - self.settings.pending_order_ttl;
        let batch = self
            .deps
            .orders
            .pending_to_reconcile(cutoff, now - self.charge_grace(), BATCH_SIZE)
            .await?;
        let mut report = ReconcileReport::default();
        for order in batch {
            report.examined += 1;
            let order_id = order.id;
            match self.handle(order, cutoff).await {
                Ok(Handled::Paid) => report.paid += 1,
                Ok(Handled::Failed { then_expired }) => {
                    report.failed += 1;
                    report.expired += u32::from(then_expired);
                }
                Ok(Handled::Expired) => report.expired += 1,
                Ok(Handled::Unresolved) => report.unresolved += 1,
                Ok(Handled::Skipped) => report.skipped += 1,
                Ok(Handled::Nothing) => {}
                Err(error) => {
                    report.errors += 1;
                    tracing::error!(%order_id, %error, "reconciling the order failed");
                }
            }
        }
        let refunds = self
            .deps
            .orders
            .pending_refunds(now - self.charge_grace(), BATCH_SIZE)
            .await?;
        let refunder = RefundService::new(self.deps.clone(), self.settings.clone());
        for refund in refunds {
            report.examined += 1;
            let refund_id = refund.id;
            match refunder.reconcile(refund).await {
                Ok(true) => report.refunds_settled += 1,
                Ok(false) => report.refunds_unresolved += 1,
                Err(error) => {
                    report.errors += 1;
                    tracing::error!(%refund_id, %error, "reconciling the refund failed");
                }
            }
        }
        if report != ReconcileReport::default() {
            tracing::info!(?report, "reconciler pass");
        }
        Ok(report)
    }

    /// Passes until `stop` turns true (or its sender is gone): one at once, then each when the
    /// next order falls due (see the module documentation).
    pub async fn run_until(&self, mut stop: watch::Receiver<bool>) {
        loop {
            let retry = self.drain().await;
            let sleep = match self.deps.orders.reconcile_horizon().await {
                Ok(horizon) => self.sleep_for(horizon, retry),
                Err(error) => {
                    tracing::warn!(%error, "reconciler could not read its next due time");
                    RETRY_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            }
        }
    }

    /// Up to [`PASSES_PER_WAKE`] passes while they come back full; whether something due was
    /// left unresolved (ask again later, not at once).
    async fn drain(&self) -> bool {
        for _ in 0..PASSES_PER_WAKE {
            match self.run_once().await {
                Ok(report) if report.examined >= BATCH_SIZE => {}
                Ok(report) => {
                    return report.unresolved > 0
                        || report.refunds_unresolved > 0
                        || report.errors > 0;
                }
                Err(error) => {
                    tracing::warn!(%error, "reconciler pass failed");
                    return true;
                }
            }
        }
        false
    }

    /// How long to sleep before the next pass, given the oldest pending orders (module docs).
    pub fn sleep_for(&self, horizon: ReconcileHorizon, retry: bool) -> Duration {
        let now = self.deps.clock.now();
        let ttl = self.settings.pending_order_ttl;
        let due = [
            horizon.oldest_unpaid.map(|created| created + ttl),
            horizon.oldest_processing.map(|at| at + self.charge_grace()),
            horizon
                .oldest_pending_refund
                .map(|at| at + self.charge_grace()),
        ];
        // Work that starts while we sleep falls due no sooner than these after it starts.
        let cap = MAX_SLEEP
            .min(Duration::try_from(ttl / 2).unwrap_or(MIN_SLEEP))
            .min(self.settings.payment_timeout.max(MIN_SLEEP));
        let until_due = due
            .into_iter()
            .flatten()
            .min()
            // A little past it: the order is due once strictly older than the cutoff.
            .map(|due| Duration::try_from(due - now).unwrap_or(Duration::ZERO) + DUE_SLACK)
            .unwrap_or(cap);
        let floor = if retry { RETRY_SLEEP } else { MIN_SLEEP };
        until_due.min(cap).max(floor)
    }

    /// How long after a charge attempt its order is asked about: its request waits this long for
    /// the provider's answer.
    fn charge_grace(&self) -> time::Duration {
        time::Duration::try_from(self.settings.payment_timeout).unwrap_or(time::Duration::MAX)
    }

    async fn handle(
        &self,
        order: Order,
        cutoff: time::OffsetDateTime,
    ) -> Result<Handled, StoreError> {
        if order.status != OrderStatus::Pending {
            return Ok(Handled::Nothing);
        }
        if order.payment_status == PaymentStatus::Processing {
            return self.resolve_charge(order, cutoff).await;
        }
        if is_expired(&order, cutoff) {
            return self.expire(&order).await;
        }
        Ok(Handled::Nothing)
    }

    /// Asks the provider about an order whose charge is in flight or unknown.
    async fn resolve_charge(
        &self,
        order: Order,
        cutoff: time::OffsetDateTime,
    ) -> Result<Handled, StoreError> {
        let gateway = self.deps.payments.as_ref();
        let state = payments::lookup(gateway, order.id, self.settings.payment_timeout).await;
        match state {
            Ok(ChargeState::Captured { reference }) => self.mark_paid(&order, reference).await,
            Ok(ChargeState::NotCharged | ChargeState::Declined | ChargeState::Refunded) => {
                self.mark_failed(&order, cutoff).await
            }
            // Awaiting the customer's authentication (3-D Secure) or still processing: asked
            // again, until the order's TTL runs out (then it fails and expires like an unpaid one).
            Ok(ChargeState::Pending) if order.created_at < cutoff => {
                self.mark_failed(&order, cutoff).await
            }
            Ok(ChargeState::Pending) => Ok(Handled::Unresolved),
            Err(error) => {
                tracing::warn!(order_id = %order.id, %error, "charge still unknown");
                Ok(Handled::Unresolved)
            }
        }
    }

    async fn mark_paid(&self, order: &Order, reference: String) -> Result<Handled, StoreError> {
        let mut change = StatusChange::new(order.id, OrderStatus::Paid);
        change.payment_reference = Some(reference);
        change.payment_status_in = vec![PaymentStatus::Processing];
        match self.deps.orders.change_status(&change).await {
            Ok(_) => {
                tracing::info!(order_id = %order.id, "captured charge found: order paid");
                Ok(Handled::Paid)
            }
            Err(ports::ChangeStatusError::Store(e)) => Err(e),
            Err(other) => {
                tracing::info!(order_id = %order.id, %other, "order changed meanwhile");
                Ok(Handled::Skipped)
            }
        }
    }

    /// Payment `processing → failed`; if the order is also past its TTL, it expires now.
    async fn mark_failed(
        &self,
        order: &Order,
        cutoff: time::OffsetDateTime,
    ) -> Result<Handled, StoreError> {
        let updated = self
            .deps
            .orders
            .set_payment_status(
                order.id,
                vec![PaymentStatus::Processing],
                PaymentStatus::Failed,
            )
            .await;
        let failed = match updated {
            Ok(failed) => failed,
            Err(ports::PaymentUpdateError::Store(e)) => return Err(e),
            Err(other) => {
                tracing::info!(order_id = %order.id, %other, "order changed meanwhile");
                return Ok(Handled::Skipped);
            }
        };
        tracing::info!(order_id = %order.id, "no charge made: payment failed");
        let then_expired =
            is_expired(&failed, cutoff) && matches!(self.expire(&failed).await?, Handled::Expired);
        Ok(Handled::Failed { then_expired })
    }

    /// Cancels an unpaid or failed order past its TTL (only if no charge is in flight by now).
    async fn expire(&self, order: &Order) -> Result<Handled, StoreError> {
        let mut change = StatusChange::new(order.id, OrderStatus::Cancelled);
        change.note = Some(EXPIRED_NOTE.to_owned());
        change.payment_status_in = vec![PaymentStatus::Unpaid, PaymentStatus::Failed];
        match self.deps.orders.change_status(&change).await {
            Ok(_) => {
                tracing::info!(order_id = %order.id, "unpaid order expired: cancelled");
                Ok(Handled::Expired)
            }
            Err(ports::ChangeStatusError::Store(e)) => Err(e),
            Err(other) => {
                tracing::info!(order_id = %order.id, %other, "order changed meanwhile");
                Ok(Handled::Skipped)
            }
        }
    }
}

fn is_expired(order: &Order, cutoff: time::OffsetDateTime) -> bool {
    order.created_at < cutoff
        && matches!(
            order.payment_status,
            PaymentStatus::Unpaid | PaymentStatus::Failed
        )
}

#[cfg(test)]
mod tests;
