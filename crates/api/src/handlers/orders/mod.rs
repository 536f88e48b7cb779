//! `/api/orders`: a signed-in user's orders (every route answers 401 first without a session).
//! Placement is also rate-limited per user (`RATE_LIMIT_ORDERS_PER_MINUTE`).

pub mod cancel_order;
pub mod get_order;
pub mod idempotency;
pub mod list_orders;
pub mod order_history;
pub mod order_json;
pub mod pay_order;
pub mod place_order;

use actix_web::web;

use crate::rate_limit::RateLimiters;

pub fn configure(cfg: &mut web::ServiceConfig, limits: &RateLimiters) {
    cfg.service(
        web::resource("/api/orders")
            .wrap(limits.orders.middleware())
            .route(web::post().to(place_order::place_order))
            .route(web::get().to(list_orders::list_orders)),
    )
    .route("/api/orders/{id}", web::get().to(get_order::get_order))
    .route(
        "/api/orders/{id}/history",
        web::get().to(order_history::order_history),
    )
    .route(
        "/api/orders/{id}/cancel",
        web::post().to(cancel_order::cancel_order),
    )
    .route(
        "/api/orders/{id}/payment",
        web::post().to(pay_order::pay_order),
    );
}
