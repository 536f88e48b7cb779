//! `/api/products`: the public catalogue.

pub mod get_product;
pub mod list_products;
pub mod product_json;

use actix_web::web;

use crate::handlers::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/products").get(list_products::list_products))
        .service(resource("/api/products/{id}").get(get_product::get_product));
}
