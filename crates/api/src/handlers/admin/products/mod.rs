//! `/api/admin/products`: the catalogue as admins manage it (archived products included).

pub mod archive;
pub mod create;
pub mod get;
pub mod list;
pub mod update;

use actix_web::web;

use crate::handlers::resource;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/products")
            .get(list::list_products)
            .post(create::create_product),
    )
    .service(
        resource("/products/{id}")
            .get(get::get_product)
            .patch(update::update_product)
            .delete(archive::archive_product),
    );
}

/// `Location` of an admin product.
pub fn location(id: i64) -> String {
    format!("/api/admin/products/{id}")
}
