//! `/api/auth`: register, login, logout, me, token, password. Register, login and token are
//! rate-limited per client address (`RATE_LIMIT_AUTH_PER_MINUTE`), and so is a password change
//! (it verifies a password too: without it a stolen session could guess the current password, or
//! spend the server's CPU on argon2, at the general API rate), besides the general limit.

pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod register;
pub mod session;
pub mod token;

use actix_web::web;

use crate::rate_limit::RateLimiters;

pub fn configure(cfg: &mut web::ServiceConfig, limits: &RateLimiters) {
    cfg.service(
        web::scope("/api/auth")
            .service(
                crate::handlers::resource("/register")
                    .wrap(limits.auth.middleware())
                    .route(web::post().to(register::register)),
            )
            .service(
                crate::handlers::resource("/login")
                    .wrap(limits.auth.middleware())
                    .route(web::post().to(login::login)),
            )
            .service(
                crate::handlers::resource("/token")
                    .wrap(limits.auth.middleware())
                    .route(web::post().to(token::token)),
            )
            .service(crate::handlers::resource("/logout").post(logout::logout))
            .service(crate::handlers::resource("/me").get(me::me))
            .service(
                crate::handlers::resource("/password")
                    .wrap(limits.auth.middleware())
                    .route(web::post().to(password::change_password)),
            ),
    );
}
