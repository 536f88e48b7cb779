//! `/api/admin/orders`: every order, status changes, the CSV export.

pub mod change_status;
pub mod export;
pub mod filters;
pub mod list;

use actix_web::web;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/orders", web::get().to(list::list_orders))
        .route("/orders/export", web::get().to(export::export_orders))
        .route(
            "/orders/{id}/status",
            web::patch().to(change_status::change_status),
        );
}
