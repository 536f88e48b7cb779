//! The `Stripe-Signature` check, as Stripe does it: `t=<unix seconds>,v1=<hex>[,v1=...]`, each
//! `v1` an HMAC-SHA256 keyed with the whole webhook secret over `{t}.{raw body}`; accepted when
//! any `v1` matches (compared in constant time) and `t` is at most [`TOLERANCE_SECS`] old.

use hmac::{KeyInit as _, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How old a signature may be.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (the webhook answers 400 `invalid_signature` for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature is older than the tolerance (or from the future)")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `header` over `body` with `secret`, at unix time `now`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &SecretString,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // A little clock skew the other way is tolerated as Stripe's libraries do (none); a time
    // in the future past the tolerance is refused too.
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|hex| {
        let Some(expected) = decode_hex(hex) else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant time.
        mac.verify_slice(&expected).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `body` at `timestamp` (tests, and tools that replay events).
pub fn sign(body: &[u8], secret: &SecretString, timestamp: i64) -> String {
    let mut hex = String::with_capacity(64);
    if let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) {
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        for byte in mac.finalize().into_bytes() {
            hex.push_str(&format!("{byte:02x}"));
        }
    }
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_secret")
    }

    #[test]
    fn a_signature_made_with_the_secret_is_accepted() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
        let header = sign(body, &secret(), NOW);
        assert_eq!(verify(Some(&header), body, &secret(), NOW), Ok(()));
        assert_eq!(verify(Some(&header), body, &secret(), NOW + 300), Ok(()));
    }

    #[test]
    fn the_reference_value_matches() {
        // HMAC-SHA256 keyed "whsec_test_secret" over "1800000000.{}", computed independently with
        // Python's hmac module.
        assert_eq!(
            sign(b"{}", &secret(), NOW),
            "t=1800000000,v1=c54fd4ffd4dd216571ba5d99b08a3cf927757e386c311b181f85788c2178e368"
        );
    }

    #[test]
    fn any_v1_may_match() {
        let body = b"{}";
        let good = sign(body, &secret(), NOW);
        let good_v1 = good.split("v1=").nth(1).unwrap();
        let header = format!("t={NOW},v1={},v0=abc,v1={good_v1}", "00".repeat(32));
        assert_eq!(verify(Some(&header), body, &secret(), NOW), Ok(()));
    }

    #[test]
    fn forged_stale_and_malformed_signatures_are_refused() {
        let body = b"{\"id\":\"evt_1\"}";
        let header = sign(body, &secret(), NOW);
        let other = SecretString::from("whsec_other");
        assert_eq!(
            verify(Some(&header), body, &other, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"{\"id\":\"evt_2\"}", &secret(), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, &secret(), NOW + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), body, &secret(), NOW - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(None, body, &secret(), NOW),
            Err(SignatureError::Missing)
        );
        for header in ["", "t=abc,v1=00", &format!("t={NOW}"), "v1=00", "garbage"] {
            assert_eq!(
                verify(Some(header), body, &secret(), NOW),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        let odd = format!("t={NOW},v1=abc");
        assert_eq!(
            verify(Some(&odd), body, &secret(), NOW),
            Err(SignatureError::Mismatch)
        );
        // Extreme timestamps are stale, not an arithmetic overflow.
        for t in [i64::MIN, i64::MAX] {
            assert_eq!(
                verify(Some(&format!("t={t},v1=00")), body, &secret(), NOW),
                Err(SignatureError::Stale)
            );
        }
        // The v0 scheme alone is not accepted.
        let v0 = header.replace("v1=", "v0=");
        assert_eq!(
            verify(Some(&v0), body, &secret(), NOW),
            Err(SignatureError::Malformed)
        );
    }
}
