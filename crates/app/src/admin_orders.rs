//! The admin's view of orders: every order, status changes, the CSV export.
//!
//! The API checks the `ADMIN` role before calling any of these.

use domain::validation::{self, Lines};
use domain::{ExceedsOpen, InvalidTransition, OrderStatus, PaymentStatus, ValidationErrors};
use ports::audit::{action, target};
use ports::{
    AuditContext, AuditEntry, AuditTarget, ChangeStatusError, CsvChunks, NewShipment, Order,
    OrderCursor, OrderFilter, ShipError, Shipment, StatusChange, StoreError, Tracking,
};
use uuid::Uuid;

use crate::orders::cursor_of;
use crate::paging::{self, Page};
use crate::payments;
use crate::{Actor, AppSettings, Deps};

/// The longest note on a status change.
pub const NOTE_MAX: usize = 1000;
/// The longest carrier name or tracking number.
pub const TRACKING_TEXT_MAX: usize = 100;

/// An admin's move of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeStatusCommand {
    pub order_id: Uuid,
    pub to: OrderStatus,
    pub note: Option<String>,
    /// Only with `to: FULFILLED`.
    pub tracking: Option<Tracking>,
    /// `If-Match`: the order's version the admin saw.
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminChangeStatusError {
    #[error("order not found")]
    NotFound,
    /// The state machine refuses the move; `from` and `to` go into the problem (409).
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// The order's version is not `expected_version` (412).
    #[error("the order changed meanwhile")]
    PreconditionFailed,
    /// Fields `note`, `tracking`, `tracking.carrier`, `tracking.tracking_number`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeStatusError> for AdminChangeStatusError {
    fn from(error: ChangeStatusError) -> Self {
        match error {
            ChangeStatusError::NotFound => AdminChangeStatusError::NotFound,
            ChangeStatusError::InvalidTransition(t) => AdminChangeStatusError::InvalidTransition(t),
            ChangeStatusError::PreconditionFailed => AdminChangeStatusError::PreconditionFailed,
            ChangeStatusError::Store(e) => AdminChangeStatusError::Store(e),
        }
    }
}

/// The most lines one shipment request may name.
pub const SHIPMENT_LINES_MAX: usize = 100;
/// The most units of one line a request may name (as for placement).
pub const SHIPMENT_QUANTITY_MAX: i64 = 1000;

/// An admin's shipment of some (or every open) unit of a `PAID` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipCommand {
    pub order_id: Uuid,
    /// `(product_id, quantity)`; `None` ships every open unit.
    pub items: Option<Vec<(i64, i64)>>,
    /// With `tracking_number`, or neither.
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub note: Option<String>,
    /// `If-Match`: the order's version the admin saw.
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipOrderError {
    #[error("order not found")]
    NotFound,
    /// Not `PAID` (`to` is `FULFILLED`) (409).
    #[error(transparent)]
    InvalidTransition(InvalidTransition),
    /// Lines over their open units or not in the order (409 `exceeds_open_quantity`).
    #[error("more units than are open")]
    ExceedsOpen(Vec<ExceedsOpen>),
    /// No open unit is left (409 `exceeds_open_quantity`, no line to name).
    #[error("nothing left to ship")]
    NothingToShip,
    #[error("the order changed meanwhile")]
    PreconditionFailed,
    /// Fields `items`, `items[i].product_id`, `items[i].quantity`, `carrier`, `tracking_number`,
    /// `note`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ShipError> for ShipOrderError {
    fn from(error: ShipError) -> Self {
        match error {
            ShipError::NotFound => ShipOrderError::NotFound,
            ShipError::InvalidTransition(t) => ShipOrderError::InvalidTransition(t),
            ShipError::ExceedsOpen(lines) => ShipOrderError::ExceedsOpen(lines),
            ShipError::NothingToShip => ShipOrderError::NothingToShip,
            ShipError::PreconditionFailed => ShipOrderError::PreconditionFailed,
            ShipError::Store(e) => ShipOrderError::Store(e),
        }
    }
}

/// Every order, for admins.
#[derive(Clone)]
pub struct AdminOrderService {
    pub deps: Deps,
    pub settings: AppSettings,
}

impl AdminOrderService {
    pub fn new(deps: Deps, settings: AppSettings) -> AdminOrderService {
        AdminOrderService { deps, settings }
    }

    /// Orders matching every filter given, newest first.
    #[tracing::instrument(skip(self))]
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        after: Option<OrderCursor>,
        limit: u32,
    ) -> Result<Page<Order, OrderCursor>, StoreError> {
        let rows = self
            .deps
            .orders
            .list(filter, after, paging::rows_to_fetch(limit))
            .await?;
        Ok(Page::from_rows(rows, limit, cursor_of))
    }

    /// Moves the order (one conditional update in the store, so of two racing admins one wins).
    /// After `PAID → CANCELLED` commits (the order then says `refunded`), the charge is refunded
    /// through the provider under the payment timeout; a failure there is logged for follow-up
    /// and does not undo the change. The change's `order.status_changed` entry goes with it.
    #[tracing::instrument(
        skip(self, actor, cmd, audit),
        fields(user_id = actor.id, order_id = %cmd.order_id, to = %cmd.to)
    )]
    pub async fn change_status(
        &self,
        actor: Actor,
        cmd: ChangeStatusCommand,
        audit: &AuditContext,
    ) -> Result<Order, AdminChangeStatusError> {
        let (note, tracking) = validate_command(&cmd)?;
        let mut change = StatusChange::new(cmd.order_id, cmd.to);
        change.actor = Some(actor);
        change.note = note;
        change.tracking = tracking;
        change.expected_version = cmd.expected_version;
        change.audit = Some(order_entry(
            audit,
            actor,
            action::ORDER_STATUS_CHANGED,
            cmd.order_id,
        ));
        let order = self.deps.orders.change_status(&change).await?;
        tracing::info!("order status changed by an admin");
        if needs_refund(&order) {
            self.refund(order.id).await;
        }
        Ok(order)
    }

    /// Ships units of a `PAID` order (see `ports::OrderRepository::ship`): `shipment_id` is the new
    /// shipment's id (a UUID v7 the caller reserved, e.g. with its `Idempotency-Key`). The
    /// shipment's `order.shipped` entry goes with it.
    #[tracing::instrument(skip(self, actor, cmd, audit), fields(user_id = actor.id, order_id = %cmd.order_id))]
    pub async fn ship(
        &self,
        actor: Actor,
        shipment_id: Uuid,
        cmd: ShipCommand,
        audit: &AuditContext,
    ) -> Result<(Order, Shipment), ShipOrderError> {
        let (items, tracking, note) = validate_shipment(&cmd)?;
        let new = NewShipment {
            id: shipment_id,
            order_id: cmd.order_id,
            items,
            tracking,
            note,
            actor: Some(actor),
            expected_version: cmd.expected_version,
            audit: Some(order_entry(
                audit,
                actor,
                action::ORDER_SHIPPED,
                cmd.order_id,
            )),
        };
        let shipped = self.deps.orders.ship(&new).await?;
        tracing::info!(status = %shipped.0.status, "order shipped");
        Ok(shipped)
    }

    /// One shipment of an order.
    #[tracing::instrument(skip(self))]
    pub async fn shipment(&self, order_id: Uuid, id: Uuid) -> Result<Option<Shipment>, StoreError> {
        self.deps.orders.shipment(order_id, id).await
    }

    /// The CSV export of the orders matching `filter`, as the store streams it (see
    /// [`ports::OrderExport`]: `Err` only when it cannot start).
    #[tracing::instrument(skip(self))]
    pub async fn export_csv(&self, filter: &OrderFilter) -> Result<CsvChunks, StoreError> {
        self.deps.export.export_csv(filter).await
    }

    async fn refund(&self, order_id: Uuid) {
        let gateway = self.deps.payments.as_ref();
        match payments::refund(gateway, order_id, self.settings.payment_timeout).await {
            Ok(()) => tracing::info!("charge refunded"),
            Err(error) => tracing::error!(%error, "refund failed: needs follow-up"),
        }
    }
}

/// An admin's entry about an order, acting as `actor` (the store adds the changes).
pub(crate) fn order_entry(
    audit: &AuditContext,
    actor: Actor,
    action: &str,
    order_id: Uuid,
) -> AuditEntry {
    audit
        .with_actor(actor)
        .entry(action, Some(AuditTarget::new(target::ORDER, order_id)))
}

/// Whether the change just made leaves money to give back: a paid order cancelled (payment now
/// `refunded`), or a pending one cancelled while its charge was in flight (`processing`: the
/// refund of a charge that never landed is a no-op at the provider).
fn needs_refund(order: &Order) -> bool {
    order.status == OrderStatus::Cancelled
        && matches!(
            order.payment_status,
            PaymentStatus::Refunded | PaymentStatus::Processing
        )
}

fn validate_command(
    cmd: &ChangeStatusCommand,
) -> Result<(Option<String>, Option<Tracking>), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let note = validation::optional_text(
        &mut errors,
        "note",
        cmd.note.as_deref(),
        NOTE_MAX,
        Lines::Single,
    );
    let tracking = cmd.tracking.as_ref().map(|t| Tracking {
        carrier: tracking_text(&mut errors, "tracking.carrier", &t.carrier),
        tracking_number: tracking_text(&mut errors, "tracking.tracking_number", &t.tracking_number),
    });
    if tracking.is_some() && cmd.to != OrderStatus::Fulfilled {
        errors.add("tracking", "only allowed when the status becomes FULFILLED");
    }
    errors.into_result((note, tracking))
}

/// The shipment's lines (1 to 100, product ids ≥ 1, quantities 1 to 1000), its tracking (carrier
/// and number together) and note.
#[allow(clippy::type_complexity)]
fn validate_shipment(
    cmd: &ShipCommand,
) -> Result<(Option<Vec<(i64, i64)>>, Option<Tracking>, Option<String>), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if let Some(items) = &cmd.items {
        if items.is_empty() || items.len() > SHIPMENT_LINES_MAX {
            errors.add(
                "items",
                format!("1 to {SHIPMENT_LINES_MAX} lines, or leave it out to ship every open unit"),
            );
        }
        for (i, (product_id, quantity)) in items.iter().enumerate() {
            if *product_id < 1 {
                errors.add(format!("items[{i}].product_id"), "must be a product id");
            }
            if !(1..=SHIPMENT_QUANTITY_MAX).contains(quantity) {
                errors.add(
                    format!("items[{i}].quantity"),
                    format!("must be 1 to {SHIPMENT_QUANTITY_MAX}"),
                );
            }
        }
    }
    let tracking = match (&cmd.carrier, &cmd.tracking_number) {
        (Some(carrier), Some(number)) => Some(Tracking {
            carrier: tracking_text(&mut errors, "carrier", carrier),
            tracking_number: tracking_text(&mut errors, "tracking_number", number),
        }),
        (None, None) => None,
        (Some(_), None) => {
            errors.add("tracking_number", "required with carrier");
            None
        }
        (None, Some(_)) => {
            errors.add("carrier", "required with tracking_number");
            None
        }
    };
    let note = validation::optional_text(
        &mut errors,
        "note",
        cmd.note.as_deref(),
        NOTE_MAX,
        Lines::Single,
    );
    errors.into_result((cmd.items.clone(), tracking, note))
}

fn tracking_text(errors: &mut ValidationErrors, field: &str, value: &str) -> String {
    validation::text(errors, field, value, 1, TRACKING_TEXT_MAX, Lines::Single)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ADMIN, Mocks, audit_context, order, settings};
    use mockall::predicate::eq;
    use ports::PaymentError;
    use time::macros::datetime;

    fn service(mocks: Mocks) -> AdminOrderService {
        AdminOrderService::new(mocks.into_deps(), settings())
    }

    fn command(id: Uuid, to: OrderStatus) -> ChangeStatusCommand {
        ChangeStatusCommand {
            order_id: id,
            to,
            note: None,
            tracking: None,
            expected_version: None,
        }
    }

    #[tokio::test]
    async fn list_orders_pages_newest_first_with_a_cursor_when_more_exist() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let rows: Vec<Order> = ids
            .iter()
            .map(|id| order(*id, 7, OrderStatus::Paid, PaymentStatus::Captured))
            .collect();
        let filter = OrderFilter {
            statuses: vec![OrderStatus::Paid],
            ..Default::default()
        };
        let mut mocks = Mocks::new();
        let returned = rows.clone();
        mocks
            .orders
            .expect_list()
            .with(eq(filter.clone()), eq(None), eq(3))
            .times(1)
            .returning(move |_, _, _| Ok(returned.clone()));
        let page = service(mocks)
            .list_orders(&filter, None, 2)
            .await
            .expect("page");
        assert_eq!(page.items, rows[..2]);
        assert_eq!(page.next, Some(cursor_of(&rows[1])));
    }

    #[tokio::test]
    async fn list_orders_last_page_has_no_cursor() {
        let mut mocks = Mocks::new();
        mocks.orders.expect_list().returning(|_, _, _| Ok(vec![]));
        let page = service(mocks)
            .list_orders(&OrderFilter::default(), None, 50)
            .await
            .expect("page");
        assert!(page.items.is_empty());
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn fulfil_with_tracking_note_and_version() {
        let id = Uuid::now_v7();
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_change_status()
            .withf(move |c| {
                c.order_id == id
                    && c.to == OrderStatus::Fulfilled
                    && c.actor == Some(ADMIN)
                    && c.owner.is_none()
                    && c.note.as_deref() == Some("shipped")
                    && c.expected_version == Some(3)
                    && c.tracking
                        == Some(Tracking {
                            carrier: "DHL".into(),
                            tracking_number: "123".into(),
                        })
            })
            .times(1)
            .returning(|c| Ok(order(c.order_id, 7, c.to, PaymentStatus::Captured)));
        let cmd = ChangeStatusCommand {
            note: Some(" shipped ".into()),
            tracking: Some(Tracking {
                carrier: "DHL".into(),
                tracking_number: " 123 ".into(),
            }),
            expected_version: Some(3),
            ..command(id, OrderStatus::Fulfilled)
        };
        let fulfilled = service(mocks)
            .change_status(ADMIN, cmd, &audit_context())
            .await
            .expect("fulfilled");
        assert_eq!(fulfilled.status, OrderStatus::Fulfilled);
    }

    #[tokio::test]
    async fn cancelling_a_paid_order_refunds_it_once() {
        let id = Uuid::now_v7();
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_change_status()
            .withf(move |c| c.order_id == id && c.to == OrderStatus::Cancelled)
            .times(1)
            .returning(|c| {
                Ok(order(
                    c.order_id,
                    7,
                    OrderStatus::Cancelled,
                    PaymentStatus::Refunded,
                ))
            });
        mocks
            .payments
            .expect_refund()
            .with(eq(id))
            .times(1)
            .returning(|_| Ok(()));
        let cancelled = service(mocks)
            .change_status(ADMIN, command(id, OrderStatus::Cancelled), &audit_context())
            .await
            .expect("cancelled");
        assert_eq!(cancelled.payment_status, PaymentStatus::Refunded);
    }

    #[tokio::test]
    async fn cancelling_a_pending_order_with_a_charge_in_flight_asks_for_a_refund() {
        let id = Uuid::now_v7();
        let mut mocks = Mocks::new();
        mocks.orders.expect_change_status().returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Cancelled,
                PaymentStatus::Processing,
            ))
        });
        mocks
            .payments
            .expect_refund()
            .with(eq(id))
            .times(1)
            .returning(|_| Ok(()));
        service(mocks)
            .change_status(ADMIN, command(id, OrderStatus::Cancelled), &audit_context())
            .await
            .expect("cancelled");
    }

    #[tokio::test]
    async fn a_failed_refund_does_not_undo_the_cancel() {
        let mut mocks = Mocks::new();
        mocks.orders.expect_change_status().returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Cancelled,
                PaymentStatus::Refunded,
            ))
        });
        mocks
            .payments
            .expect_refund()
            .times(1)
            .returning(|_| Err(PaymentError::Provider("down".into())));
        let cancelled = service(mocks)
            .change_status(
                ADMIN,
                command(Uuid::now_v7(), OrderStatus::Cancelled),
                &audit_context(),
            )
            .await
            .expect("cancelled anyway");
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
    }

    #[tokio::test]
    async fn cancelling_an_unpaid_pending_order_refunds_nothing() {
        let mut mocks = Mocks::new();
        mocks.orders.expect_change_status().returning(|c| {
            Ok(order(
                c.order_id,
                7,
                OrderStatus::Cancelled,
                PaymentStatus::Unpaid,
            ))
        });
        // No refund expectation: a call would panic.
        let cancelled = service(mocks)
            .change_status(
                ADMIN,
                command(Uuid::now_v7(), OrderStatus::Cancelled),
                &audit_context(),
            )
            .await
            .expect("cancelled");
        assert_eq!(cancelled.payment_status, PaymentStatus::Unpaid);
    }

    #[tokio::test]
    async fn marking_paid_offline_refunds_nothing() {
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_change_status()
            .withf(|c| c.to == OrderStatus::Paid && c.payment_reference.is_none())
            .returning(|c| {
                Ok(order(
                    c.order_id,
                    7,
                    OrderStatus::Paid,
                    PaymentStatus::Captured,
                ))
            });
        let paid = service(mocks)
            .change_status(
                ADMIN,
                command(Uuid::now_v7(), OrderStatus::Paid),
                &audit_context(),
            )
            .await
            .expect("paid");
        assert!(paid.payment_collected);
    }

    #[tokio::test]
    async fn store_refusals_are_mapped() {
        let cases = [
            (
                ChangeStatusError::NotFound,
                AdminChangeStatusError::NotFound,
            ),
            (
                ChangeStatusError::InvalidTransition(InvalidTransition {
                    from: OrderStatus::Fulfilled,
                    to: OrderStatus::Cancelled,
                }),
                AdminChangeStatusError::InvalidTransition(InvalidTransition {
                    from: OrderStatus::Fulfilled,
                    to: OrderStatus::Cancelled,
                }),
            ),
            (
                ChangeStatusError::PreconditionFailed,
                AdminChangeStatusError::PreconditionFailed,
            ),
            (
                ChangeStatusError::Store(StoreError::Unavailable("down".into())),
                AdminChangeStatusError::Store(StoreError::Unavailable("down".into())),
            ),
        ];
        for (refusal, expected) in cases {
            let mut mocks = Mocks::new();
            mocks
                .orders
                .expect_change_status()
                .times(1)
                .returning(move |_| Err(refusal.clone()));
            let err = service(mocks)
                .change_status(
                    ADMIN,
                    command(Uuid::now_v7(), OrderStatus::Cancelled),
                    &audit_context(),
                )
                .await
                .expect_err("refused");
            assert_eq!(err, expected);
        }
    }

    #[tokio::test]
    async fn validation_names_fields_and_changes_nothing() {
        let cmd = ChangeStatusCommand {
            note: Some("line\nbreak".into()),
            tracking: Some(Tracking {
                carrier: "".into(),
                tracking_number: "x".repeat(101),
            }),
            ..command(Uuid::now_v7(), OrderStatus::Cancelled)
        };
        match service(Mocks::new())
            .change_status(ADMIN, cmd, &audit_context())
            .await
        {
            Err(AdminChangeStatusError::Validation(e)) => assert_eq!(
                e.0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                [
                    "note",
                    "tracking.carrier",
                    "tracking.tracking_number",
                    "tracking"
                ]
            ),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn export_passes_the_filter_and_the_stream_through() {
        use futures_util::StreamExt as _;
        let filter = OrderFilter {
            email: Some("ada@example.com".into()),
            created_from: Some(datetime!(2026-11-01 0:00 UTC)),
            ..Default::default()
        };
        let mut mocks = Mocks::new();
        mocks
            .export
            .expect_export_csv()
            .with(eq(filter.clone()))
            .times(1)
            .returning(|_| {
                let chunk: Result<bytes::Bytes, StoreError> =
                    Ok(bytes::Bytes::from_static(b"id\n"));
                Ok(Box::pin(futures_util::stream::iter([chunk])))
            });
        let chunks: Vec<_> = service(mocks)
            .export_csv(&filter)
            .await
            .expect("started")
            .collect()
            .await;
        assert_eq!(chunks, vec![Ok(bytes::Bytes::from_static(b"id\n"))]);
    }

    #[tokio::test]
    async fn export_that_cannot_start_is_an_error() {
        let mut mocks = Mocks::new();
        mocks
            .export
            .expect_export_csv()
            .returning(|_| Err(StoreError::Unavailable("down".into())));
        let result = service(mocks).export_csv(&OrderFilter::default()).await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }

    // ---- ship ----

    fn ship_command(id: Uuid) -> ShipCommand {
        ShipCommand {
            order_id: id,
            items: Some(vec![(12, 1)]),
            carrier: Some("DHL".into()),
            tracking_number: Some("TRK-1".into()),
            note: Some("first box".into()),
            expected_version: Some(3),
        }
    }

    fn shipment(order_id: Uuid, id: Uuid, items: Vec<(i64, i64)>) -> Shipment {
        Shipment {
            id,
            order_id,
            items,
            tracking: None,
            created_at: datetime!(2026-11-25 10:00 UTC),
        }
    }

    #[tokio::test]
    async fn ship_passes_the_validated_shipment_to_the_store() {
        let id = Uuid::now_v7();
        let shipment_id = Uuid::now_v7();
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_ship()
            .withf(move |s| {
                s.id == shipment_id
                    && s.order_id == id
                    && s.items == Some(vec![(12, 1)])
                    && s.tracking
                        == Some(Tracking {
                            carrier: "DHL".into(),
                            tracking_number: "TRK-1".into(),
                        })
                    && s.note.as_deref() == Some("first box")
                    && s.actor == Some(ADMIN)
                    && s.expected_version == Some(3)
            })
            .times(1)
            .returning(|s| {
                Ok((
                    order(s.order_id, 7, OrderStatus::Paid, PaymentStatus::Captured),
                    shipment(s.order_id, s.id, vec![(12, 1)]),
                ))
            });
        let (order, made) = service(mocks)
            .ship(ADMIN, shipment_id, ship_command(id), &audit_context())
            .await
            .expect("shipped");
        assert_eq!(order.id, id);
        assert_eq!(made.id, shipment_id);
    }

    #[tokio::test]
    async fn ship_validation_names_every_field_and_calls_nothing() {
        let mut cmd = ship_command(Uuid::now_v7());
        cmd.items = Some(vec![(0, 0), (3, 1001)]);
        cmd.carrier = Some(" ".into());
        cmd.tracking_number = None;
        cmd.note = Some("x".repeat(NOTE_MAX + 1));
        let Err(ShipOrderError::Validation(errors)) = service(Mocks::new())
            .ship(ADMIN, Uuid::now_v7(), cmd, &audit_context())
            .await
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "items[0].product_id",
            "items[0].quantity",
            "items[1].quantity",
            "tracking_number",
            "note",
        ] {
            assert!(fields.contains(&field), "{field} in {fields:?}");
        }
        let mut empty = ship_command(Uuid::now_v7());
        empty.items = Some(Vec::new());
        assert!(matches!(
            service(Mocks::new())
                .ship(ADMIN, Uuid::now_v7(), empty, &audit_context())
                .await,
            Err(ShipOrderError::Validation(_))
        ));
    }

    #[tokio::test]
    async fn ship_maps_each_store_refusal() {
        let refusals = [
            (ShipError::NotFound, ShipOrderError::NotFound),
            (
                ShipError::PreconditionFailed,
                ShipOrderError::PreconditionFailed,
            ),
            (ShipError::NothingToShip, ShipOrderError::NothingToShip),
            (
                ShipError::ExceedsOpen(vec![ExceedsOpen {
                    index: 0,
                    product_id: 12,
                    open: 1,
                }]),
                ShipOrderError::ExceedsOpen(vec![ExceedsOpen {
                    index: 0,
                    product_id: 12,
                    open: 1,
                }]),
            ),
            (
                ShipError::InvalidTransition(InvalidTransition {
                    from: OrderStatus::Pending,
                    to: OrderStatus::Fulfilled,
                }),
                ShipOrderError::InvalidTransition(InvalidTransition {
                    from: OrderStatus::Pending,
                    to: OrderStatus::Fulfilled,
                }),
            ),
        ];
        for (refusal, expected) in refusals {
            let mut mocks = Mocks::new();
            mocks
                .orders
                .expect_ship()
                .times(1)
                .returning(move |_| Err(refusal.clone()));
            let got = service(mocks)
                .ship(
                    ADMIN,
                    Uuid::now_v7(),
                    ship_command(Uuid::now_v7()),
                    &audit_context(),
                )
                .await
                .expect_err("refused");
            assert_eq!(got, expected);
        }
    }

    // ---- audit entries ----

    /// The entry an admin's order write hands its store (the store adds the changes).
    fn expected_entry(action: &str, order_id: Uuid) -> ports::AuditEntry {
        ports::AuditEntry {
            action: action.to_owned(),
            actor: Some(ADMIN),
            target: Some(AuditTarget::new("order", order_id)),
            changes: None,
            request_id: Some("req-audit".into()),
            client_ip: Some("203.0.113.9".into()),
        }
    }

    #[tokio::test]
    async fn change_status_passes_its_audit_entry_to_the_store() {
        let id = Uuid::now_v7();
        let expected = expected_entry("order.status_changed", id);
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_change_status()
            .withf(move |c| c.audit.as_ref() == Some(&expected))
            .times(1)
            .returning(|c| Ok(order(c.order_id, 7, c.to, PaymentStatus::Captured)));
        service(mocks)
            .change_status(ADMIN, command(id, OrderStatus::Paid), &audit_context())
            .await
            .expect("paid");
    }

    #[tokio::test]
    async fn ship_passes_its_audit_entry_to_the_store() {
        let id = Uuid::now_v7();
        let expected = expected_entry("order.shipped", id);
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_ship()
            .withf(move |s| s.audit.as_ref() == Some(&expected))
            .times(1)
            .returning(|s| {
                Ok((
                    order(s.order_id, 7, OrderStatus::Paid, PaymentStatus::Captured),
                    shipment(s.order_id, s.id, vec![(12, 1)]),
                ))
            });
        service(mocks)
            .ship(ADMIN, Uuid::now_v7(), ship_command(id), &audit_context())
            .await
            .expect("shipped");
    }

    #[tokio::test]
    async fn the_entry_names_the_acting_admin_even_from_a_context_without_one() {
        let id = Uuid::now_v7();
        let mut mocks = Mocks::new();
        mocks
            .orders
            .expect_change_status()
            .withf(|c| c.audit.as_ref().and_then(|e| e.actor) == Some(ADMIN))
            .times(1)
            .returning(|c| Ok(order(c.order_id, 7, c.to, PaymentStatus::Captured)));
        service(mocks)
            .change_status(
                ADMIN,
                command(id, OrderStatus::Paid),
                &AuditContext::default(),
            )
            .await
            .expect("paid");
    }
}
