//! `/api/admin`: every route needs the `ADMIN` role. The guard runs for the whole scope, so an
//! unknown admin path too answers 401 (nobody signed in) or 403 `forbidden` (a customer) before
//! it answers 404. The admin order routes mount from [`orders`], the product routes from
//! [`products`], the customer routes from [`customers`], the audit log from [`audit`], the event
//! feed from [`events`], the webhook endpoints from [`webhooks`], the statistics from [`stats`].

pub mod audit;
pub mod customers;
pub mod events;
pub mod if_match;
pub mod orders;
pub mod products;
pub mod query;
pub mod stats;
pub mod webhooks;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::auth::require_admin;

/// The admin routes' part of the OpenAPI document (merged into `crate::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        orders::list::list_orders,
        orders::export::export_orders,
        orders::change_status::change_status,
        orders::shipments::ship_order,
        orders::shipments::get_shipment,
        orders::refunds::refund_order,
        orders::notes::add_note,
        audit::list_audit,
        events::event_feed,
        products::list::list_products,
        products::get::get_product,
        products::create::create_product,
        products::update::update_product,
        products::archive::archive_product,
        stats::sales,
        stats::summary,
    ),
    components(schemas(
        orders::change_status::ChangeStatusRequest,
        orders::change_status::TrackingRequest,
        orders::shipments::ShipRequest,
        orders::shipments::ShipLineRequest,
        orders::refunds::RefundRequestJson,
        orders::refunds::RefundLineRequest,
        crate::handlers::orders::order_json::ShipmentJson,
        crate::handlers::orders::order_json::ShipmentItemJson,
        crate::handlers::orders::order_json::RefundJson,
        crate::handlers::orders::order_json::RefundItemJson,
        products::create::CreateProductRequest,
        products::update::ProductPatchRequest,
        orders::notes::NoteRequest,
        orders::notes::NoteJson,
        audit::AuditPage,
        audit::AuditEntryJson,
        audit::AuditTargetJson,
        audit::AuditTargetId,
        events::EventFeedPage,
        stats::SalesJson,
        stats::SalesBucketJson,
        stats::SummaryJson,
        stats::OrdersByStatusJson,
        stats::TodayJson,
    )),
    tags((name = "admin", description = "Every order, the catalogue, the audit log and the event feed, for admins (role `ADMIN`)"))
)]
pub struct AdminApiDoc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/admin")
            .wrap(from_fn(require_admin))
            .configure(orders::configure)
            .configure(products::configure)
            .service(crate::handlers::resource("/audit").get(audit::list_audit))
            .service(crate::handlers::resource("/events").get(events::event_feed))
            .service(crate::handlers::resource("/stats/sales").get(stats::sales))
            .service(crate::handlers::resource("/stats/summary").get(stats::summary))
            .configure(customers::configure)
            .configure(webhooks::configure)
            .default_service(web::to(super::not_found)),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_admin_route_is_documented_with_its_refusals() {
        let doc = serde_json::to_value(crate::openapi::document()).expect("json");
        let routes = [
            (
                "/api/admin/orders",
                "get",
                &["401", "403", "422", "429"][..],
            ),
            (
                "/api/admin/orders/export",
                "get",
                &["401", "403", "422", "429"],
            ),
            (
                "/api/admin/orders/{id}/status",
                "patch",
                &[
                    "400", "401", "403", "404", "409", "412", "413", "415", "422", "429",
                ],
            ),
            (
                "/api/admin/orders/{id}/shipments",
                "post",
                &[
                    "400", "401", "403", "404", "409", "412", "413", "415", "422", "429",
                ],
            ),
            (
                "/api/admin/orders/{id}/refunds",
                "post",
                &[
                    "400", "401", "403", "404", "409", "412", "413", "415", "422", "429",
                ],
            ),
            (
                "/api/admin/orders/{id}/shipments/{shipment_id}",
                "get",
                &["401", "403", "404", "429"],
            ),
            ("/api/admin/products", "get", &["401", "403", "422", "429"]),
            (
                "/api/admin/products",
                "post",
                &["400", "401", "403", "409", "413", "415", "422", "429"],
            ),
            (
                "/api/admin/products/{id}",
                "get",
                &["401", "403", "404", "429"],
            ),
            (
                "/api/admin/products/{id}",
                "patch",
                &[
                    "400", "401", "403", "404", "409", "412", "413", "415", "422", "429",
                ],
            ),
            (
                "/api/admin/products/{id}",
                "delete",
                &["401", "403", "404", "429"],
            ),
            (
                "/api/admin/orders/{id}/notes",
                "post",
                &["400", "401", "403", "404", "413", "415", "422", "429"],
            ),
            ("/api/admin/audit", "get", &["401", "403", "422", "429"]),
            ("/api/admin/events", "get", &["401", "403", "422", "429"]),
            (
                "/api/admin/stats/sales",
                "get",
                &["401", "403", "422", "429"],
            ),
            ("/api/admin/stats/summary", "get", &["401", "403", "429"]),
        ];
        for (path, method, statuses) in routes {
            let responses = &doc["paths"][path][method]["responses"];
            assert!(responses.is_object(), "{method} {path} is not documented");
            for status in statuses {
                assert!(
                    responses.get(*status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
        assert!(doc["components"]["schemas"]["ProductPatchRequest"].is_object());
        // A target id is a number (products, users) or a string (orders).
        let target_id = &doc["components"]["schemas"]["AuditTargetId"]["oneOf"];
        assert_eq!(target_id[0]["type"], "integer");
        assert_eq!(target_id[1]["type"], "string");
        // The feed's `type` may repeat; its page is of real-time events.
        let params = doc["paths"]["/api/admin/events"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let kind = params
            .iter()
            .find(|p| p["name"] == "type")
            .expect("type parameter");
        assert_eq!(kind["explode"], true);
        assert_eq!(kind["schema"]["type"], "array", "{kind}");
        let page = &doc["components"]["schemas"]["EventFeedPage"]["properties"];
        assert_eq!(
            page["items"]["items"]["$ref"],
            "#/components/schemas/EventDoc"
        );
        assert_eq!(page["next_since"]["type"], "integer");
        // A note's history entry has no statuses.
        let history = &doc["components"]["schemas"]["HistoryEntryJson"]["properties"];
        assert_eq!(history["to_status"]["type"][1], "null");
    }
}
