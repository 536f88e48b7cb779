//! `/api/products`: the public catalogue.

pub mod get_product;
pub mod list_products;
pub mod product_json;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/products", web::get().to(list_products::list_products))
        .route(
            "/api/products/{id}",
            web::get().to(get_product::get_product),
        );
}
