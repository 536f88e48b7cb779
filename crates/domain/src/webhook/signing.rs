//! Endpoint secrets and the Standard Webhooks signature
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>):
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`,
//! the key being the base64-decoded part of the secret after `whsec_`. While a rotated secret is
//! still valid, both sign: the signatures are space-separated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The bytes of randomness in a new secret (as Svix and the Standard Webhooks libraries make them).
pub const SECRET_BYTES: usize = 24;

/// A secret that is not `whsec_` + base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is whsec_ followed by base64")]
pub struct SecretError;

/// An endpoint's signing secret. Its `Debug` shows nothing of it; [`WebhookSecret::expose`] gives
/// the `whsec_…` text, for the store and the two answers that show it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl WebhookSecret {
    pub const PREFIX: &'static str = "whsec_";

    /// A secret made of `random` (the caller draws it from a CSPRNG).
    pub fn from_random(random: [u8; SECRET_BYTES]) -> WebhookSecret {
        WebhookSecret {
            key: random.to_vec(),
        }
    }

    /// Reads `whsec_<base64>` (as stored).
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text.strip_prefix(Self::PREFIX).ok_or(SecretError)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError)?;
        if key.is_empty() {
            return Err(SecretError);
        }
        Ok(WebhookSecret { key })
    }

    /// The secret as text: `whsec_` + base64 of the key.
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return String::from("v1,");
        };
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries' tests.
    #[test]
    fn signs_as_the_reference_implementation() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_round_trips_and_hides_in_debug() {
        let secret = WebhookSecret::from_random([7; SECRET_BYTES]);
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(text.len(), "whsec_".len() + 32);
        assert_eq!(WebhookSecret::parse(&text).unwrap(), secret);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn refuses_what_is_not_a_secret() {
        for text in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
        ] {
            assert_eq!(WebhookSecret::parse(text), Err(SecretError), "{text}");
        }
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let one = WebhookSecret::from_random([1; SECRET_BYTES]);
        let two = WebhookSecret::from_random([2; SECRET_BYTES]);
        let header = signature_header(&[one.clone(), two.clone()], "id", 5, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [one.sign("id", 5, "{}"), two.sign("id", 5, "{}")]);
    }
}
