//! `/api/admin/orders`: every order, status changes, shipments, refunds, notes, the CSV export.

pub mod change_status;
pub mod export;
pub mod filters;
pub mod list;
pub mod notes;
pub mod refunds;
pub mod shipments;

use actix_web::web;

use crate::handlers::resource;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `resource`: another method on these paths answers a 405 problem.
    cfg.service(resource("/orders").get(list::list_orders))
        .service(resource("/orders/export").get(export::export_orders))
        .service(resource("/orders/{id}/status").patch(change_status::change_status))
        .service(resource("/orders/{id}/shipments").post(shipments::ship_order))
        .service(resource("/orders/{id}/refunds").post(refunds::refund_order))
        .service(resource("/orders/{id}/notes").post(notes::add_note))
        .service(resource("/orders/{id}/shipments/{shipment_id}").get(shipments::get_shipment));
}
