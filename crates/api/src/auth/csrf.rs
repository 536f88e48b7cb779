//! CSRF tokens bound to the session: `base64url(HMAC-SHA256(secret, "csrf:" + jti))`. The token
//! changes with every session and cannot be made without the server's secret, so a token planted
//! by an attacker (cookie tossing from a sibling subdomain) does not match the victim's session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Makes and checks CSRF tokens.
pub struct CsrfKey {
    secret: SecretString,
}

impl CsrfKey {
    pub fn new(secret: &SecretString) -> CsrfKey {
        CsrfKey {
            secret: secret.clone(),
        }
    }

    fn mac(&self, jti: &str) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(self.secret.expose_secret().as_bytes()).ok()?;
        mac.update(b"csrf:");
        mac.update(jti.as_bytes());
        Some(mac)
    }

    /// The CSRF token of the session `jti`.
    pub fn token_for(&self, jti: &str) -> String {
        self.mac(jti)
            .map(|mac| URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Whether `token` is the CSRF token of session `jti` (constant-time).
    pub fn verify(&self, jti: &str, token: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        self.mac(jti)
            .is_some_and(|mac| mac.verify_slice(&bytes).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_session_and_the_secret() {
        let key = CsrfKey::new(&SecretString::from("a".repeat(32)));
        let token = key.token_for("session-1");
        assert_eq!(token, key.token_for("session-1"), "stable within a session");
        assert!(key.verify("session-1", &token));
        assert!(!key.verify("session-2", &token));
        assert_ne!(token, key.token_for("session-2"));
        let other = CsrfKey::new(&SecretString::from("b".repeat(32)));
        assert!(!other.verify("session-1", &token));
        assert!(!key.verify("session-1", ""));
        assert!(!key.verify("session-1", "!!not base64!!"));
        assert!(!key.verify("session-1", &token[..token.len() - 2]));
    }
}
