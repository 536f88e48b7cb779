//! `POST /api/orders/quote`.

use actix_web::{HttpResponse, web};
use app::orders::{AddressInput, LineInput};
use ports::Quote;
use serde::Serialize;

use super::order_json::PlaceOrderRequest;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiJson, ProblemBody};
use crate::state::AppState;

/// One priced line.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuoteLineJson {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    /// Lines of the same product sent more than once are merged.
    pub quantity: i64,
    /// Cents, the product's price now.
    pub unit_price: i64,
    /// `unit_price × quantity`, in cents.
    pub line_total: i64,
    /// The product's stock now (at least `quantity`, or the answer is 409).
    pub available: i64,
}

/// What the order would cost if it were placed now (nothing is reserved).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuoteJson {
    /// In the order the products were first sent.
    pub items: Vec<QuoteLineJson>,
    pub subtotal: i64,
    pub shipping_amount: i64,
    pub tax_amount: i64,
    pub total_amount: i64,
    /// The shop's currency (`CURRENCY`).
    #[schema(example = "USD")]
    pub currency: String,
}

impl QuoteJson {
    pub fn new(quote: Quote, currency: String) -> QuoteJson {
        QuoteJson {
            items: quote
                .lines
                .into_iter()
                .map(|line| QuoteLineJson {
                    product_id: line.product_id,
                    sku: line.sku,
                    name: line.name,
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                    line_total: line.line_total,
                    available: line.available,
                })
                .collect(),
            subtotal: quote.subtotal,
            shipping_amount: quote.shipping_amount,
            tax_amount: quote.tax_amount,
            total_amount: quote.total_amount,
            currency,
        }
    }
}

/// Prices a placement's body exactly as `POST /api/orders` would price it now, from the
/// products' current prices and stock, and reserves and writes nothing (`payment`, if sent, is
/// ignored: nothing is charged). Not limited per user like placement (the per-address limit
/// applies); a cookie session sends `X-CSRF-Token` as for any `POST`.
#[utoipa::path(post, path = "/api/orders/quote", tag = "orders", request_body = PlaceOrderRequest,
    operation_id = "quote_order",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The priced lines and amounts", body = QuoteJson),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`insufficient_stock` (each short line in `errors` with `product_id` and `available`), as placement answers", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `unknown_product`, as placement answers", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = user.id))]
pub async fn quote_order(
    user: AuthUser,
    state: web::Data<AppState>,
    body: ApiJson<PlaceOrderRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let items: Vec<LineInput> = request
        .items
        .iter()
        .map(|line| LineInput {
            product_id: line.product_id,
            quantity: line.quantity,
        })
        .collect();
    let address = request.shipping_address;
    let address = AddressInput {
        name: address.name,
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postal_code: address.postal_code,
        country: address.country,
    };
    let quote = state.orders.quote(user.actor(), &items, &address).await?;
    let currency = state.orders.settings.currency.clone();
    Ok(HttpResponse::Ok().json(QuoteJson::new(quote, currency)))
}
