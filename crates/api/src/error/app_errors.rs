//! The use cases' errors as HTTP problems: one `From` per operation error.

use actix_web::http::StatusCode;
use app::admin_orders::{AdminChangeStatusError, ShipOrderError};
use app::auth::{ChangePasswordError, Internal, RegisterError, SignInError};
use app::catalogue::{GetProductError, ProductCommandError};
use app::customers::{ChangeCustomerError, GetCustomerError};
use app::orders::{CancelOrderError, GetOrderError, PayOrderError, PlaceOrderError};
use domain::InvalidTransition;

use super::{ApiError, FieldProblem, Problem};

impl From<Internal> for ApiError {
    fn from(error: Internal) -> Self {
        ApiError::Internal(error.0)
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Validation(errors) => errors.into(),
            RegisterError::EmailTaken => Problem::new(
                StatusCode::CONFLICT,
                "email_taken",
                "Email already registered",
            )
            .into(),
            RegisterError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::InvalidCredentials => ApiError::invalid_credentials(),
            SignInError::AccountDisabled => ApiError::account_disabled(),
            SignInError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::Validation(errors) => errors.into(),
            // Signed in, but not with this password: 403, not the sign-in's 401.
            ChangePasswordError::InvalidCredentials => Problem::new(
                StatusCode::FORBIDDEN,
                "invalid_credentials",
                "Invalid password",
            )
            .detail("current_password is not your password")
            .into(),
            ChangePasswordError::NotFound => ApiError::unauthenticated(),
            ChangePasswordError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<GetCustomerError> for ApiError {
    fn from(error: GetCustomerError) -> Self {
        match error {
            GetCustomerError::NotFound => ApiError::not_found(),
            GetCustomerError::Store(e) => e.into(),
        }
    }
}

impl From<ChangeCustomerError> for ApiError {
    fn from(error: ChangeCustomerError) -> Self {
        match error {
            ChangeCustomerError::NotFound => ApiError::not_found(),
            ChangeCustomerError::PreconditionFailed => precondition_failed(),
            ChangeCustomerError::CannotChangeSelf => ApiError::cannot_change_self(),
            ChangeCustomerError::LastAdmin => ApiError::last_admin(),
            ChangeCustomerError::Forbidden => ApiError::forbidden(),
            ChangeCustomerError::Store(e) => e.into(),
        }
    }
}

impl From<GetProductError> for ApiError {
    fn from(error: GetProductError) -> Self {
        match error {
            GetProductError::NotFound => ApiError::not_found(),
            GetProductError::Store(e) => e.into(),
        }
    }
}

impl From<ProductCommandError> for ApiError {
    fn from(error: ProductCommandError) -> Self {
        match error {
            ProductCommandError::NotFound => ApiError::not_found(),
            ProductCommandError::Validation(errors) => errors.into(),
            ProductCommandError::SkuTaken => {
                Problem::new(StatusCode::CONFLICT, "sku_taken", "SKU already in use").into()
            }
            ProductCommandError::InsufficientStock { available } => Problem::new(
                StatusCode::CONFLICT,
                "insufficient_stock",
                "Insufficient stock",
            )
            .errors(vec![
                FieldProblem::new("stock_delta", "would take the stock below 0")
                    .with("available", available),
            ])
            .into(),
            ProductCommandError::StockOverflow => {
                ApiError::invalid_field("stock_delta", "would take the stock above 2147483647")
            }
            ProductCommandError::PreconditionFailed => precondition_failed(),
            ProductCommandError::Store(e) => e.into(),
        }
    }
}

fn precondition_failed() -> ApiError {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "Precondition failed",
    )
    .detail("the resource changed since the ETag in If-Match; fetch it again")
    .into()
}

/// 409 `invalid_transition` with `from` and `to` members.
fn invalid_transition(t: InvalidTransition) -> ApiError {
    Problem::new(
        StatusCode::CONFLICT,
        "invalid_transition",
        "Invalid status transition",
    )
    .detail(t.to_string())
    .member("from", t.from.as_str())
    .member("to", t.to.as_str())
    .into()
}

/// 402 `payment_declined`; the detail names the provider's decline code, and nothing else of the
/// provider's answer (the code is kept to `[A-Za-z0-9_ ]`, 64 characters at most).
fn payment_declined(order_id: uuid::Uuid, reason: &str) -> ApiError {
    let code: String = reason
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
        .take(64)
        .collect();
    let detail = if code.trim().is_empty() {
        "the payment provider declined the charge".to_owned()
    } else {
        format!("the payment provider declined the charge: {}", code.trim())
    };
    Problem::new(
        StatusCode::PAYMENT_REQUIRED,
        "payment_declined",
        "Payment declined",
    )
    .detail(detail)
    .member("order_id", order_id.to_string())
    .into()
}

impl From<PlaceOrderError> for ApiError {
    fn from(error: PlaceOrderError) -> Self {
        match error {
            PlaceOrderError::Validation(errors) => errors.into(),
            PlaceOrderError::UnknownProducts(unknown) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_product",
                "Unknown product",
            )
            .detail("a product does not exist or is no longer sold")
            .errors(
                unknown
                    .iter()
                    .map(|u| {
                        FieldProblem::new(
                            format!("items[{}].product_id", u.first_index),
                            "no such product",
                        )
                        .with("product_id", u.product_id)
                    })
                    .collect(),
            )
            .into(),
            PlaceOrderError::InsufficientStock(shortages) => Problem::new(
                StatusCode::CONFLICT,
                "insufficient_stock",
                "Insufficient stock",
            )
            .detail("nothing was reserved; lower the quantities to what is available")
            .errors(
                shortages
                    .iter()
                    .map(|s| {
                        FieldProblem::new(
                            format!("items[{}].quantity", s.first_index),
                            format!("only {} available", s.available),
                        )
                        .with("product_id", s.product_id)
                        .with("available", s.available)
                    })
                    .collect(),
            )
            .into(),
            PlaceOrderError::PricingOverflow => {
                ApiError::invalid_field("items", "the order's amounts are too large")
            }
            PlaceOrderError::PaymentDeclined {
                order_id, reason, ..
            } => payment_declined(order_id, &reason),
            PlaceOrderError::Store(e) => e.into(),
        }
    }
}

impl From<PayOrderError> for ApiError {
    fn from(error: PayOrderError) -> Self {
        match error {
            PayOrderError::NotFound => ApiError::not_found(),
            PayOrderError::Validation(errors) => errors.into(),
            PayOrderError::InvalidTransition(t) => invalid_transition(t),
            PayOrderError::PaymentDeclined { order, reason } => payment_declined(order.id, &reason),
            PayOrderError::Store(e) => e.into(),
        }
    }
}

impl From<CancelOrderError> for ApiError {
    fn from(error: CancelOrderError) -> Self {
        match error {
            CancelOrderError::NotFound => ApiError::not_found(),
            CancelOrderError::InvalidTransition(t) => invalid_transition(t),
            CancelOrderError::Store(e) => e.into(),
        }
    }
}

impl From<GetOrderError> for ApiError {
    fn from(error: GetOrderError) -> Self {
        match error {
            GetOrderError::NotFound => ApiError::not_found(),
            GetOrderError::Store(e) => e.into(),
        }
    }
}

impl From<AdminChangeStatusError> for ApiError {
    fn from(error: AdminChangeStatusError) -> Self {
        match error {
            AdminChangeStatusError::NotFound => ApiError::not_found(),
            AdminChangeStatusError::InvalidTransition(t) => invalid_transition(t),
            AdminChangeStatusError::PreconditionFailed => precondition_failed(),
            AdminChangeStatusError::Validation(errors) => errors.into(),
            AdminChangeStatusError::Store(e) => e.into(),
        }
    }
}

impl From<ShipOrderError> for ApiError {
    fn from(error: ShipOrderError) -> Self {
        match error {
            ShipOrderError::NotFound => ApiError::not_found(),
            ShipOrderError::InvalidTransition(t) => invalid_transition(t),
            ShipOrderError::ExceedsOpen(lines) => exceeds_open(
                "nothing shipped; ship at most each line's open units",
                lines
                    .iter()
                    .map(|l| {
                        FieldProblem::new(l.field(), format!("only {} open", l.open))
                            .with("product_id", l.product_id)
                            .with("open", l.open)
                    })
                    .collect(),
            ),
            ShipOrderError::NothingToShip => {
                exceeds_open("no open unit is left to ship", Vec::new())
            }
            ShipOrderError::PreconditionFailed => precondition_failed(),
            ShipOrderError::Validation(errors) => errors.into(),
            ShipOrderError::Store(e) => e.into(),
        }
    }
}

fn exceeds_open(detail: &str, errors: Vec<FieldProblem>) -> ApiError {
    Problem::new(
        StatusCode::CONFLICT,
        "exceeds_open_quantity",
        "More units than are open",
    )
    .detail(detail)
    .errors(errors)
    .into()
}

impl From<app::refunds::RefundOrderError> for ApiError {
    fn from(error: app::refunds::RefundOrderError) -> Self {
        use app::refunds::RefundOrderError as E;
        match error {
            E::NotFound => ApiError::not_found(),
            E::NotRefundable => Problem::new(
                StatusCode::CONFLICT,
                "not_refundable",
                "The order's payment is not refundable",
            )
            .detail("only a captured or partially refunded payment is refunded")
            .into(),
            E::ExceedsRefundable(lines) => exceeds_refundable(
                lines
                    .iter()
                    .map(|l| {
                        FieldProblem::new(l.field(), format!("only {} refundable", l.refundable))
                            .with("product_id", l.product_id)
                            .with("refundable", l.refundable)
                    })
                    .collect(),
            ),
            E::ShippingRefunded => exceeds_refundable(vec![
                FieldProblem::new("shipping", "the shipping was refunded already")
                    .with("refundable", 0),
            ]),
            E::ExceedsCaptured { remaining } => Problem::new(
                StatusCode::CONFLICT,
                "exceeds_captured_amount",
                "More than remains captured",
            )
            .detail(format!("at most {remaining} remains captured"))
            .member("remaining", remaining)
            .into(),
            E::Failed { refund_id } => Problem::new(
                StatusCode::CONFLICT,
                "refund_failed",
                "The payment provider refused the refund",
            )
            .detail("nothing was refunded; the refund is recorded as failed")
            .member("refund_id", refund_id.to_string())
            .into(),
            E::PreconditionFailed => precondition_failed(),
            E::Validation(errors) => errors.into(),
            E::Store(e) => e.into(),
        }
    }
}

fn exceeds_refundable(errors: Vec<FieldProblem>) -> ApiError {
    Problem::new(
        StatusCode::CONFLICT,
        "exceeds_refundable_quantity",
        "More units than are refundable",
    )
    .detail("nothing was refunded")
    .errors(errors)
    .into()
}

impl From<app::notes::AddNoteError> for ApiError {
    fn from(error: app::notes::AddNoteError) -> Self {
        use app::notes::AddNoteError as E;
        match error {
            E::Forbidden => ApiError::forbidden(),
            E::NotFound => ApiError::not_found(),
            E::Validation(errors) => errors.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<app::event_feed::EventFeedError> for ApiError {
    fn from(error: app::event_feed::EventFeedError) -> Self {
        match error {
            app::event_feed::EventFeedError::Forbidden => ApiError::forbidden(),
            app::event_feed::EventFeedError::Store(e) => e.into(),
        }
    }
}

impl From<app::audit::ListAuditError> for ApiError {
    fn from(error: app::audit::ListAuditError) -> Self {
        match error {
            app::audit::ListAuditError::Forbidden => ApiError::forbidden(),
            app::audit::ListAuditError::Store(e) => e.into(),
        }
    }
}

impl From<app::webhooks::endpoints::CreateWebhookError> for ApiError {
    fn from(error: app::webhooks::endpoints::CreateWebhookError) -> Self {
        use app::webhooks::endpoints::CreateWebhookError as E;
        match error {
            E::Invalid(errors) => errors.into(),
            E::UrlNotAllowed { reason } => ApiError::webhook_url_not_allowed(reason),
            E::Store(e) => e.into(),
        }
    }
}

impl From<app::webhooks::endpoints::UpdateWebhookError> for ApiError {
    fn from(error: app::webhooks::endpoints::UpdateWebhookError) -> Self {
        use app::webhooks::endpoints::UpdateWebhookError as E;
        match error {
            E::NotFound => ApiError::not_found(),
            E::Invalid(errors) => errors.into(),
            E::UrlNotAllowed { reason } => ApiError::webhook_url_not_allowed(reason),
            E::Store(e) => e.into(),
        }
    }
}

/// The webhook operations that fail only with "no such endpoint (or delivery)" or the store.
macro_rules! not_found_or_store {
    ($($error:ident),+) => {$(
        impl From<app::webhooks::endpoints::$error> for ApiError {
            fn from(error: app::webhooks::endpoints::$error) -> Self {
                match error {
                    app::webhooks::endpoints::$error::NotFound => ApiError::not_found(),
                    app::webhooks::endpoints::$error::Store(e) => e.into(),
                }
            }
        }
    )+};
}

not_found_or_store!(
    GetWebhookError,
    DeleteWebhookError,
    RotateSecretError,
    SendTestError,
    ListDeliveriesError,
    RetryDeliveryError
);

impl From<app::stats::StatsQueryError> for ApiError {
    fn from(error: app::stats::StatsQueryError) -> Self {
        match error {
            app::stats::StatsQueryError::Validation(errors) => errors.into(),
            app::stats::StatsQueryError::Store(e) => e.into(),
        }
    }
}
