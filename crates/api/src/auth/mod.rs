//! Authentication: session tokens, cookies, CSRF, passwords, revocations, and the extractors
//! handlers use ([`AuthUser`], [`AdminUser`]).

pub mod cookies;
pub mod csrf;
pub mod extractor;
pub mod jwt;
pub mod password;
pub mod revocations;

use std::sync::Arc;

use ports::AuditLog;

pub use extractor::{AdminUser, AuthUser, Credential, require_admin};
pub use jwt::{JwtKeys, Session};
pub use revocations::RevokedTokens;

use crate::config::AuthSettings;
use csrf::CsrfKey;

/// Everything request authentication needs; shared by every worker through `web::Data`.
pub struct AuthState {
    pub keys: JwtKeys,
    pub csrf: CsrfKey,
    pub revoked: Arc<RevokedTokens>,
    pub cookie_secure: bool,
    /// Where a refused CSRF check is audited (`auth.csrf_failed`); none in unit tests.
    pub audit: Option<Arc<dyn AuditLog>>,
}

impl AuthState {
    pub fn new(settings: &AuthSettings, revoked: Arc<RevokedTokens>) -> AuthState {
        AuthState {
            keys: JwtKeys::new(&settings.jwt_secret, settings.jwt_ttl),
            csrf: CsrfKey::new(&settings.jwt_secret),
            revoked,
            cookie_secure: settings.cookie_secure,
            audit: None,
        }
    }

    /// The same, auditing refused CSRF checks to `audit`.
    pub fn with_audit(mut self, audit: Arc<dyn AuditLog>) -> AuthState {
        self.audit = Some(audit);
        self
    }
}
