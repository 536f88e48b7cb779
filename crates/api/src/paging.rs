//! List parameters: `limit` (default 50, 1 to 200, else 422) and opaque cursors.
//!
//! A cursor is `base64url(position "." tag)` where the tag is an HMAC of the position under the
//! server's secret: a client cannot forge one (a forged, edited or undecodable cursor is 422), and
//! the position format can change without breaking a contract. Cursors of one list are refused by
//! another (the kind is part of the signed text).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use ports::{CustomerCursor, EndpointCursor, OrderCursor};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = app::paging::DEFAULT_LIMIT;
pub const MAX_LIMIT: u32 = app::paging::MAX_LIMIT;

/// Bytes of HMAC kept in a cursor.
const TAG_LEN: usize = 12;

/// Parses `limit`: absent → 50; else 1 to 200.
pub fn parse_limit(value: Option<&str>) -> Result<u32, ApiError> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// Signs and reads cursors.
pub struct CursorKey {
    secret: SecretString,
}

fn bad_cursor() -> ApiError {
    ApiError::invalid_field("cursor", "is not a cursor this list gave out")
}

impl CursorKey {
    pub fn new(secret: &SecretString) -> CursorKey {
        CursorKey {
            secret: secret.clone(),
        }
    }

    fn tag(&self, kind: &str, position: &str) -> Option<Vec<u8>> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes()).ok()?;
        mac.update(b"cursor:");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(position.as_bytes());
        Some(mac.finalize().into_bytes()[..TAG_LEN].to_vec())
    }

    fn seal(&self, kind: &str, position: &str) -> String {
        let mut bytes = position.as_bytes().to_vec();
        bytes.push(b'.');
        bytes.extend(self.tag(kind, position).unwrap_or_default());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn open(&self, kind: &str, cursor: &str) -> Result<String, ApiError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .map_err(|_| bad_cursor())?;
        if bytes.len() <= TAG_LEN + 1 {
            return Err(bad_cursor());
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let position = body
            .strip_suffix(b".")
            .and_then(|p| std::str::from_utf8(p).ok())
            .ok_or_else(bad_cursor)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .map_err(|_| bad_cursor())?;
        mac.update(b"cursor:");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(position.as_bytes());
        mac.verify_truncated_left(tag).map_err(|_| bad_cursor())?;
        Ok(position.to_owned())
    }

    pub fn product(&self, after_id: i64) -> String {
        self.seal("products", &after_id.to_string())
    }

    pub fn parse_product(&self, cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
        cursor
            .map(|c| {
                self.open("products", c)?
                    .parse::<i64>()
                    .map_err(|_| bad_cursor())
            })
            .transpose()
    }

    /// The audit log's cursor: the last id of the page (the next page has lower ids).
    pub fn audit(&self, before_id: i64) -> String {
        self.seal("audit", &before_id.to_string())
    }

    pub fn parse_audit(&self, cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
        cursor
            .map(|c| {
                self.open("audit", c)?
                    .parse::<i64>()
                    .map_err(|_| bad_cursor())
            })
            .transpose()
    }

    /// The cursor of the admin customer list.
    pub fn customer(&self, cursor: &CustomerCursor) -> String {
        let position = format!("{}/{}", cursor.created_at.unix_timestamp_nanos(), cursor.id);
        self.seal("customers", &position)
    }

    pub fn parse_customer(&self, cursor: Option<&str>) -> Result<Option<CustomerCursor>, ApiError> {
        cursor
            .map(|c| {
                let position = self.open("customers", c)?;
                let (nanos, id) = position.split_once('/').ok_or_else(bad_cursor)?;
                let nanos: i128 = nanos.parse().map_err(|_| bad_cursor())?;
                Ok(CustomerCursor {
                    created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos)
                        .map_err(|_| bad_cursor())?,
                    id: id.parse().map_err(|_| bad_cursor())?,
                })
            })
            .transpose()
    }

    /// The cursor of the webhook endpoint list.
    pub fn webhook(&self, cursor: &EndpointCursor) -> String {
        let position = format!("{}/{}", cursor.created_at.unix_timestamp_nanos(), cursor.id);
        self.seal("webhooks", &position)
    }

    pub fn parse_webhook(&self, cursor: Option<&str>) -> Result<Option<EndpointCursor>, ApiError> {
        cursor
            .map(|c| {
                let position = self.open("webhooks", c)?;
                let (nanos, id) = position.split_once('/').ok_or_else(bad_cursor)?;
                let nanos: i128 = nanos.parse().map_err(|_| bad_cursor())?;
                Ok(EndpointCursor {
                    created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos)
                        .map_err(|_| bad_cursor())?,
                    id: Uuid::parse_str(id).map_err(|_| bad_cursor())?,
                })
            })
            .transpose()
    }

    /// The cursor of a webhook endpoint's deliveries: the event id of the page's last one.
    pub fn webhook_delivery(&self, before_event_id: i64) -> String {
        self.seal("webhook_deliveries", &before_event_id.to_string())
    }

    pub fn parse_webhook_delivery(&self, cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
        cursor
            .map(|c| {
                self.open("webhook_deliveries", c)?
                    .parse::<i64>()
                    .map_err(|_| bad_cursor())
            })
            .transpose()
    }

    pub fn order(&self, kind: &str, cursor: &OrderCursor) -> String {
        let position = format!("{}/{}", cursor.created_at.unix_timestamp_nanos(), cursor.id);
        self.seal(kind, &position)
    }

    pub fn parse_order(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Option<OrderCursor>, ApiError> {
        cursor
            .map(|c| {
                let position = self.open(kind, c)?;
                let (nanos, id) = position.split_once('/').ok_or_else(bad_cursor)?;
                let nanos: i128 = nanos.parse().map_err(|_| bad_cursor())?;
                Ok(OrderCursor {
                    created_at: OffsetDateTime::from_unix_timestamp_nanos(nanos)
                        .map_err(|_| bad_cursor())?,
                    id: Uuid::parse_str(id).map_err(|_| bad_cursor())?,
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new(&SecretString::from("k".repeat(32)))
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).expect("default"), 50);
        assert_eq!(parse_limit(Some("1")).expect("min"), 1);
        assert_eq!(parse_limit(Some("200")).expect("max"), 200);
        for bad in ["0", "201", "-1", "abc", "", "1.5", "99999999999"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_cannot_be_forged() {
        let key = key();
        let cursor = key.product(41);
        assert_eq!(key.parse_product(Some(&cursor)).expect("valid"), Some(41));
        assert_eq!(key.parse_product(None).expect("none"), None);
        // forged: a plain id, base64 of our format without the right tag, another list's cursor
        for forged in [
            "41".to_owned(),
            URL_SAFE_NO_PAD.encode(b"42.000000000000"),
            key.order(
                "orders",
                &OrderCursor {
                    created_at: OffsetDateTime::UNIX_EPOCH,
                    id: Uuid::nil(),
                },
            ),
            "!!!".to_owned(),
            String::new(),
        ] {
            assert!(key.parse_product(Some(&forged)).is_err(), "{forged:?}");
        }
        let other = CursorKey::new(&SecretString::from("z".repeat(32)));
        assert!(other.parse_product(Some(&cursor)).is_err());
        // The audit log's cursors and the products' are not interchangeable.
        let audit = key.audit(41);
        assert_eq!(key.parse_audit(Some(&audit)).expect("valid"), Some(41));
        assert!(key.parse_product(Some(&audit)).is_err());
        assert!(key.parse_audit(Some(&cursor)).is_err());
        assert!(
            key.parse_audit(Some(&URL_SAFE_NO_PAD.encode(b"41.000000000000")))
                .is_err()
        );

        let position = OrderCursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000)
                .expect("time"),
            id: Uuid::now_v7(),
        };
        let cursor = key.order("orders", &position);
        assert_eq!(
            key.parse_order("orders", Some(&cursor)).expect("valid"),
            Some(position)
        );
        assert!(key.parse_order("admin_orders", Some(&cursor)).is_err());
    }

    #[test]
    fn customer_cursors_round_trip_and_are_refused_elsewhere() {
        let key = key();
        let position = CustomerCursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000)
                .expect("time"),
            id: 42,
        };
        let cursor = key.customer(&position);
        assert_eq!(
            key.parse_customer(Some(&cursor)).expect("valid"),
            Some(position)
        );
        assert_eq!(key.parse_customer(None).expect("none"), None);
        assert!(key.parse_product(Some(&cursor)).is_err());
        assert!(key.parse_order("admin_orders", Some(&cursor)).is_err());
        for forged in [key.product(42), "42".to_owned(), String::new()] {
            assert!(key.parse_customer(Some(&forged)).is_err(), "{forged:?}");
        }
    }

    #[test]
    fn webhook_cursors_round_trip_and_are_refused_elsewhere() {
        let key = key();
        let position = EndpointCursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000)
                .expect("time"),
            id: Uuid::now_v7(),
        };
        let cursor = key.webhook(&position);
        assert_eq!(
            key.parse_webhook(Some(&cursor)).expect("valid"),
            Some(position)
        );
        assert!(key.parse_customer(Some(&cursor)).is_err());
        let deliveries = key.webhook_delivery(41);
        assert_eq!(
            key.parse_webhook_delivery(Some(&deliveries))
                .expect("valid"),
            Some(41)
        );
        assert!(key.parse_audit(Some(&deliveries)).is_err());
        assert!(key.parse_webhook_delivery(Some(&key.audit(41))).is_err());
        assert!(key.parse_webhook(Some(&deliveries)).is_err());
    }
}
