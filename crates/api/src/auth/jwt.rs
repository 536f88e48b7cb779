//! Session tokens: JWT, HS256 only, claims `sub` (user id as a string), `role`, `exp`, `iat`,
//! `jti`, every one required, and `gen`: the user's token generation when the token was issued
//! (absent in tokens issued before it existed: read as 0). A token signed with another algorithm
//! (`none` included), another key, past its `exp` or missing a required claim is refused; a token
//! whose `gen` is below the user's current generation is revoked (see [`super::revocations`]).

use std::time::Duration;

use domain::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The claims as carried in the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The user's token generation at issue (`gen`; 0 when absent).
    #[serde(rename = "gen", default)]
    pub generation: i64,
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    pub role: Role,
    /// The token's id: what logout revokes and what the CSRF token is bound to.
    pub jti: String,
    /// The user's token generation when it was issued.
    pub generation: i64,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A freshly signed token.
pub struct IssuedToken {
    pub token: SecretString,
    pub session: Session,
}

/// Signs and verifies session tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// Signing failed (never expected with an HMAC key).
#[derive(Debug, thiserror::Error)]
#[error("could not sign a session token: {0}")]
pub struct SignError(String);

impl JwtKeys {
    pub fn new(secret: &SecretString, ttl: Duration) -> JwtKeys {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 0;
        validation.validate_exp = true;
        JwtKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        }
    }

    /// How long a token lives (`JWT_TTL`).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new token for `user_id` (of token generation `generation`) with a fresh `jti`, valid
    /// from `now` for the TTL.
    pub fn issue(
        &self,
        user_id: i64,
        role: Role,
        generation: i64,
        now: OffsetDateTime,
    ) -> Result<IssuedToken, SignError> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.as_str().to_owned(),
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
            generation,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| SignError(e.to_string()))?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            session: Session {
                user_id,
                role,
                jti: claims.jti,
                generation,
                issued_at: now,
                expires_at,
            },
        })
    }

    /// The session of a valid token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Session> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        if data.header.alg != Algorithm::HS256 {
            return None;
        }
        let claims = data.claims;
        let user_id: i64 = claims.sub.parse().ok().filter(|id| *id > 0)?;
        let role = Role::parse(&claims.role)?;
        if claims.jti.is_empty() || claims.jti.len() > 128 {
            return None;
        }
        Some(Session {
            user_id,
            role,
            jti: claims.jti,
            generation: claims.generation,
            issued_at: OffsetDateTime::from_unix_timestamp(claims.iat).ok()?,
            expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(
            &SecretString::from(secret.to_owned()),
            Duration::from_secs(3600),
        )
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn issued_tokens_verify() {
        let keys = keys(SECRET);
        let issued = keys
            .issue(42, Role::Admin, 3, OffsetDateTime::now_utc())
            .expect("issue");
        let session = keys
            .verify(issued.token.expose_secret())
            .expect("valid token");
        assert_eq!(session, issued.session);
        assert_eq!(session.user_id, 42);
        assert_eq!(session.role, Role::Admin);
        assert_eq!(session.generation, 3);
        let other = keys
            .issue(42, Role::Admin, 3, OffsetDateTime::now_utc())
            .expect("issue");
        assert_ne!(
            other.session.jti, session.jti,
            "every token has its own jti"
        );
    }

    #[test]
    fn forged_tokens_are_refused() {
        let keys = keys(SECRET);
        let good =
            json!({"sub": "1", "role": "ADMIN", "exp": now() + 600, "iat": now(), "jti": "j"});
        assert!(
            keys.verify(&sign(good.clone(), Algorithm::HS256, SECRET))
                .is_some()
        );

        // another secret, another algorithm
        let other_secret = "another-secret-another-secret-xx";
        assert!(
            keys.verify(&sign(good.clone(), Algorithm::HS256, other_secret))
                .is_none()
        );
        assert!(
            keys.verify(&sign(good.clone(), Algorithm::HS512, SECRET))
                .is_none()
        );

        // alg: none
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(good.to_string());
        assert!(keys.verify(&format!("{header}.{payload}.")).is_none());

        // tampered payload
        let token = sign(good.clone(), Algorithm::HS256, SECRET);
        let mut parts: Vec<&str> = token.split('.').collect();
        let admin = URL_SAFE_NO_PAD.encode(
            json!({"sub": "2", "role": "ADMIN", "exp": now() + 600, "iat": now(), "jti": "j"})
                .to_string(),
        );
        parts[1] = &admin;
        assert!(keys.verify(&parts.join(".")).is_none());

        // expired
        let expired =
            json!({"sub": "1", "role": "ADMIN", "exp": now() - 1, "iat": now() - 60, "jti": "j"});
        assert!(
            keys.verify(&sign(expired, Algorithm::HS256, SECRET))
                .is_none()
        );

        // each claim missing, or of the wrong kind
        for claim in ["sub", "role", "exp", "iat", "jti"] {
            let mut claims = good.clone();
            claims.as_object_mut().expect("object").remove(claim);
            assert!(
                keys.verify(&sign(claims, Algorithm::HS256, SECRET))
                    .is_none(),
                "missing {claim}"
            );
        }
        for (claim, value) in [
            ("sub", json!("abc")),
            ("sub", json!(1)),
            ("role", json!("ROOT")),
        ] {
            let mut claims = good.clone();
            claims[claim] = value;
            assert!(
                keys.verify(&sign(claims, Algorithm::HS256, SECRET))
                    .is_none()
            );
        }
        assert!(keys.verify("not-a-token").is_none());
        assert!(keys.verify("").is_none());
    }

    #[test]
    fn gen_is_carried_and_defaults_to_zero() {
        let keys = keys(SECRET);
        let issued = keys
            .issue(7, Role::Customer, 5, OffsetDateTime::now_utc())
            .expect("issue");
        let token = issued.token.expose_secret();
        let payload = token.split('.').nth(1).expect("payload");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64"))
                .expect("json");
        assert_eq!(claims["gen"], 5);
        // A token issued before `gen` existed still verifies, as generation 0.
        let older =
            json!({"sub": "1", "role": "ADMIN", "exp": now() + 600, "iat": now(), "jti": "j"});
        let session = keys
            .verify(&sign(older, Algorithm::HS256, SECRET))
            .expect("valid");
        assert_eq!(session.generation, 0);
        // Of the wrong kind, it is refused like any malformed claim.
        let bad = json!({"sub": "1", "role": "ADMIN", "exp": now() + 600, "iat": now(),
            "jti": "j", "gen": "x"});
        assert!(keys.verify(&sign(bad, Algorithm::HS256, SECRET)).is_none());
    }
}
