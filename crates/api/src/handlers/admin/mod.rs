//! `/api/admin`: every route needs the `ADMIN` role. The guard runs for the whole scope, so an
//! unknown admin path too answers 401 (nobody signed in) or 403 `forbidden` (a customer) before
//! it answers 404. The admin product and order routes mount in [`configure`].

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::auth::require_admin;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/admin")
            .wrap(from_fn(require_admin))
            .default_service(web::to(super::not_found)),
    );
}
