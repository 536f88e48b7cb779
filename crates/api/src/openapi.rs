//! The OpenAPI 3.1 document, generated from the handlers' annotations (so it cannot drift from
//! the code), served at `GET /api/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldProblem, ProblemBody};
use crate::handlers::auth::password::ChangePasswordRequest;
use crate::handlers::auth::session::{Credentials, SessionJson, UserJson};
use crate::handlers::auth::token::TokenJson;
use crate::handlers::health::Health;
use crate::handlers::orders::order_json::{
    ActorJson, AddressJson, AddressRequest, HistoryEntryJson, HistoryJson, LineRequest,
    OrderItemJson, OrderJson, OrderPage, PaymentActionJson, PaymentRequest, PlaceOrderRequest,
    TrackingJson,
};
use crate::handlers::orders::pay_order::PayRequest;
use crate::handlers::orders::quote_order::{QuoteJson, QuoteLineJson};
use crate::handlers::products::product_json::{ProductJson, ProductPage};
use crate::handlers::{auth, health, orders, products};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Order management system",
        description = "Products, orders, payments and real-time order events. Every error is RFC 9457 \
problem JSON with a stable `code`. Cookie-authenticated writes need `X-CSRF-Token`.",
    ),
    paths(
        health::healthz,
        health::readyz,
        auth::register::register,
        auth::login::login,
        auth::logout::logout,
        auth::me::me,
        auth::token::token,
        auth::password::change_password,
        products::list_products::list_products,
        products::get_product::get_product,
        orders::place_order::place_order,
        orders::quote_order::quote_order,
        orders::list_orders::list_orders,
        orders::get_order::get_order,
        orders::order_history::order_history,
        orders::cancel_order::cancel_order,
        orders::pay_order::pay_order,
    ),
    components(schemas(
        ProblemBody, FieldProblem, Health, Credentials, SessionJson, UserJson, TokenJson,
        ChangePasswordRequest,
        ProductJson, ProductPage, OrderJson, OrderPage, OrderItemJson, AddressJson, TrackingJson,
        HistoryJson, HistoryEntryJson, ActorJson, PlaceOrderRequest, LineRequest, AddressRequest,
        PaymentRequest, PayRequest, PaymentActionJson, QuoteJson, QuoteLineJson,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "products", description = "The catalogue"),
        (name = "orders", description = "A signed-in user's orders"),
        (name = "operations", description = "Health"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("oms_session"))),
        );
    }
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::handlers::admin::AdminApiDoc::openapi());
    doc.merge(crate::handlers::admin::customers::CustomersApiDoc::openapi());
    doc.merge(crate::handlers::admin::webhooks::WebhooksApiDoc::openapi());
    doc.merge(crate::handlers::realtime::RealtimeApiDoc::openapi());
    doc.merge(crate::handlers::payments::PaymentsApiDoc::openapi());
    doc
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_lists_4xx() {
        let doc = serde_json::to_value(document()).expect("json");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/orders",
            "/api/orders/{id}",
            "/api/orders/quote",
            "/api/auth/login",
            "/api/products",
            "/api/ws",
            "/api/events",
            "/api/payments/stripe/webhook",
        ] {
            assert!(paths.contains_key(path), "{path}");
        }
        let mut ids = std::collections::HashSet::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                if let Some(id) = operation.get("operationId").and_then(|v| v.as_str()) {
                    assert!(
                        ids.insert(id.to_owned()),
                        "{method} {path}: operationId {id} twice"
                    );
                }
            }
        }
        let place = &doc["paths"]["/api/orders"]["post"]["responses"];
        for status in [
            "201", "202", "400", "401", "402", "403", "409", "413", "415", "422", "429",
        ] {
            assert!(
                place.get(status).is_some(),
                "POST /api/orders lacks {status}"
            );
        }
        let quote = &doc["paths"]["/api/orders/quote"]["post"]["responses"];
        for status in [
            "200", "400", "401", "403", "409", "413", "415", "422", "429",
        ] {
            assert!(
                quote.get(status).is_some(),
                "POST /api/orders/quote lacks {status}"
            );
        }
    }
}
