//! `/api/admin/products`: the catalogue as admins manage it (archived products included).

pub mod archive;
pub mod create;
pub mod get;
pub mod list;
pub mod update;

use actix_web::web;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products")
            .route(web::get().to(list::list_products))
            .route(web::post().to(create::create_product)),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(get::get_product))
            .route(web::patch().to(update::update_product))
            .route(web::delete().to(archive::archive_product)),
    );
}

/// `Location` of an admin product.
pub fn location(id: i64) -> String {
    format!("/api/admin/products/{id}")
}
