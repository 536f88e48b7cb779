//! `/api/orders`: a signed-in user's orders (every route answers 401 first without a session).
//! Placement is also rate-limited per user (`RATE_LIMIT_ORDERS_PER_MINUTE`); a quote is not.

pub mod cancel_order;
pub mod get_order;
pub mod idempotency;
pub mod list_orders;
pub mod order_history;
pub mod order_json;
pub mod pay_order;
pub mod place_order;
pub mod quote_order;

use actix_web::web;

use crate::rate_limit::RateLimiters;

pub fn configure(cfg: &mut web::ServiceConfig, limits: &RateLimiters) {
    cfg.service(
        crate::handlers::resource("/api/orders")
            .wrap(limits.orders.middleware())
            .route(web::post().to(place_order::place_order))
            .route(web::get().to(list_orders::list_orders)),
    )
    // Before `/api/orders/{id}`, which it would otherwise match.
    .service(crate::handlers::resource("/api/orders/quote").post(quote_order::quote_order))
    .service(crate::handlers::resource("/api/orders/{id}").get(get_order::get_order))
    .service(
        crate::handlers::resource("/api/orders/{id}/history").get(order_history::order_history),
    )
    .service(crate::handlers::resource("/api/orders/{id}/cancel").post(cancel_order::cancel_order))
    .service(crate::handlers::resource("/api/orders/{id}/payment").post(pay_order::pay_order));
}
