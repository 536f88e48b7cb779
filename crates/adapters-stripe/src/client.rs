//! The few Stripe calls the server makes, typed: form-encoded requests, JSON answers.
//!
//! Every call runs under the client's timeout. Errors are sorted the way the gateway needs them:
//! a card error (Stripe's `card_error`, or a 402; a local fake labels declines
//! `invalid_request_error` with the code `card_declined`, counted too), another refusal of the
//! request (4xx), and the failures after which the outcome is unknown (no answer in time, a network
//! error, a 429 or a 5xx, an answer that cannot be read).

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::StripeSettings;

/// The API version the answers are read as.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// A PaymentIntent, as far as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<ApiError>,
}

/// A refund, as far as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct List<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

/// Stripe's error object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// The PaymentIntent a declined confirmation made (Stripe sends it with a card error).
    #[serde(default)]
    pub payment_intent: Option<IntentRef>,
}

/// An object named by its id only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IntentRef {
    pub id: String,
}

impl ApiError {
    /// The most precise reason of a decline: the decline code, else the code.
    pub fn decline_reason(&self) -> String {
        self.decline_code
            .clone()
            .or_else(|| self.code.clone())
            .unwrap_or_else(|| "card_declined".to_owned())
    }
}

#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// No answer within the timeout: the call may or may not have taken effect.
    #[error("stripe did not answer in time")]
    Timeout,
    /// The request did not get an answer (connection refused or reset, DNS...).
    #[error("stripe unreachable: {0}")]
    Network(String),
    /// A 429 or 5xx: the call may or may not have taken effect; try again later.
    #[error("stripe failed with status {0}")]
    Server(u16),
    /// An answer that cannot be read.
    #[error("unreadable stripe answer: {0}")]
    Decode(String),
    /// The card was declined.
    #[error("card declined: {}", .0.decline_reason())]
    Card(ApiError),
    /// Stripe refused the request (another 4xx); nothing was done.
    #[error("stripe refused the request with status {status}: {}", error.code.as_deref().unwrap_or("no code"))]
    Refused { status: u16, error: ApiError },
}

impl StripeError {
    /// Whether the call's outcome is unknown (it may have taken effect).
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(
            self,
            StripeError::Timeout
                | StripeError::Network(_)
                | StripeError::Server(_)
                | StripeError::Decode(_)
        )
    }
}

/// Sorts an error answer (see the module documentation).
pub fn classify(status: u16, body: &[u8]) -> StripeError {
    if status == 429 || status >= 500 {
        return StripeError::Server(status);
    }
    let error = serde_json::from_slice::<ErrorEnvelope>(body)
        .map(|e| e.error)
        .unwrap_or_default();
    let card = status == 402
        || error.kind.as_deref() == Some("card_error")
        || error.code.as_deref() == Some("card_declined");
    if card {
        StripeError::Card(error)
    } else {
        StripeError::Refused { status, error }
    }
}

/// A Stripe API client.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    key: SecretString,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl StripeClient {
    pub fn new(settings: &StripeSettings) -> Result<StripeClient, StripeError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout.max(Duration::from_millis(1)))
            .connect_timeout(settings.timeout.max(Duration::from_millis(1)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("oms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeError::Network(e.to_string()))?;
        Ok(StripeClient {
            http,
            base: settings.api_base.trim_end_matches('/').to_owned(),
            key: settings.secret_key.clone(),
        })
    }

    /// `POST /v1/payment_intents`: creates and confirms a card PaymentIntent for `order_id`'s
    /// attempt `attempt` with `payment_method`, keyed by `idempotency_key`.
    pub async fn create_intent(
        &self,
        intent: &NewIntent<'_>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let form = [
            ("amount", intent.amount.to_string()),
            ("currency", intent.currency.to_ascii_lowercase()),
            ("payment_method", intent.payment_method.to_owned()),
            ("payment_method_types[]", "card".to_owned()),
            ("confirm", "true".to_owned()),
            ("metadata[order_id]", intent.order_id.to_string()),
            ("metadata[attempt]", intent.attempt.to_string()),
        ];
        self.post("/v1/payment_intents", &form, Some(idempotency_key))
            .await
    }

    /// `GET /v1/payment_intents/{id}`.
    pub async fn retrieve_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{}", path_segment(id)), &[])
            .await
    }

    /// Pages through `GET /v1/payment_intents` (newest first at Stripe) for the intent whose
    /// metadata names `order_id` and `attempt`, looking at most at `max_pages` pages of 100.
    pub async fn find_intent(
        &self,
        order_id: &str,
        attempt: u32,
        max_pages: usize,
    ) -> Result<Option<PaymentIntent>, StripeError> {
        let attempt = attempt.to_string();
        let mut after: Option<String> = None;
        for _ in 0..max_pages {
            let mut query = vec![("limit", "100".to_owned())];
            if let Some(after) = &after {
                query.push(("starting_after", after.clone()));
            }
            let page: List<PaymentIntent> = self.get("/v1/payment_intents", &query).await?;
            if let Some(found) = page.data.iter().find(|intent| {
                intent.metadata.get("order_id").map(String::as_str) == Some(order_id)
                    && intent.metadata.get("attempt") == Some(&attempt)
            }) {
                return Ok(Some(found.clone()));
            }
            match page.data.last() {
                Some(last) if page.has_more => after = Some(last.id.clone()),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// `POST /v1/refunds`: refunds `amount` (all of it when `None`) of `payment_intent`, with our
    /// refund id in the metadata, keyed by `idempotency_key`.
    pub async fn create_refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
        refund_id: Option<&str>,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let mut form = vec![("payment_intent", payment_intent.to_owned())];
        if let Some(amount) = amount {
            form.push(("amount", amount.to_string()));
        }
        if let Some(refund_id) = refund_id {
            form.push(("metadata[refund_id]", refund_id.to_owned()));
        }
        self.post("/v1/refunds", &form, Some(idempotency_key)).await
    }

    /// `GET /v1/refunds/{id}`.
    pub async fn retrieve_refund(&self, id: &str) -> Result<Refund, StripeError> {
        self.get(&format!("/v1/refunds/{}", path_segment(id)), &[])
            .await
    }

    /// `GET /v1/refunds?payment_intent=...`: the PaymentIntent's refunds (the first 100).
    pub async fn list_refunds(&self, payment_intent: &str) -> Result<Vec<Refund>, StripeError> {
        let query = [
            ("payment_intent", payment_intent.to_owned()),
            ("limit", "100".to_owned()),
        ];
        let page: List<Refund> = self.get("/v1/refunds", &query).await?;
        Ok(page.data)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", STRIPE_VERSION)
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        read(request.send().await).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, StripeError> {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose_secret())
            .header("Stripe-Version", STRIPE_VERSION)
            .query(query);
        read(request.send().await).await
    }
}

/// A PaymentIntent to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent<'a> {
    pub order_id: uuid::Uuid,
    pub attempt: u32,
    pub payment_method: &'a str,
    /// In the currency's minor unit.
    pub amount: i64,
    pub currency: &'a str,
}

/// An id as one path segment: Stripe's ids are `[A-Za-z0-9_]`; anything else is dropped, so an
/// id from a webhook body can never reach another path.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn read<T: DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, StripeError> {
    let response = sent.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if status == StatusCode::OK {
        serde_json::from_slice(&body).map_err(|e| StripeError::Decode(e.to_string()))
    } else {
        Err(classify(status.as_u16(), &body))
    }
}

fn transport(error: reqwest::Error) -> StripeError {
    if error.is_timeout() {
        StripeError::Timeout
    } else {
        // Without the URL: it holds nothing secret, but the message stays short.
        StripeError::Network(error.without_url().to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn errors_are_sorted() {
        let card = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#;
        match classify(402, card) {
            StripeError::Card(error) => assert_eq!(error.decline_reason(), "insufficient_funds"),
            other => panic!("{other:?}"),
        }
        let with_intent = br#"{"error":{"type":"card_error","code":"card_declined","payment_intent":{"id":"pi_9","status":"requires_payment_method"}}}"#;
        match classify(402, with_intent) {
            StripeError::Card(error) => {
                assert_eq!(error.payment_intent.map(|i| i.id).as_deref(), Some("pi_9"));
            }
            other => panic!("{other:?}"),
        }
        // A local fake's decline: invalid_request_error with the code card_declined.
        let fake = br#"{"error":{"type":"invalid_request_error","code":"card_declined","message":"Your card was declined."}}"#;
        match classify(402, fake) {
            StripeError::Card(error) => assert_eq!(error.decline_reason(), "card_declined"),
            other => panic!("{other:?}"),
        }
        match classify(400, fake) {
            StripeError::Card(_) => {}
            other => panic!("{other:?}"),
        }
        let missing = br#"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#;
        assert!(matches!(
            classify(404, missing),
            StripeError::Refused { status: 404, .. }
        ));
        assert_eq!(classify(500, b"oops"), StripeError::Server(500));
        assert_eq!(classify(429, b"{}"), StripeError::Server(429));
        assert!(matches!(
            classify(400, b"not json"),
            StripeError::Refused { status: 400, .. }
        ));
        assert!(StripeError::Server(503).is_unknown_outcome());
        assert!(StripeError::Timeout.is_unknown_outcome());
        assert!(!classify(402, card).is_unknown_outcome());
    }

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(path_segment("pi_123abc"), "pi_123abc");
        assert_eq!(path_segment("../v1/refunds?x=1"), "v1refundsx1");
    }

    #[test]
    fn the_key_is_not_debug_printed() {
        let client = StripeClient::new(&StripeSettings {
            secret_key: SecretString::from("sk_test_verysecret"),
            webhook_secret: SecretString::from("whsec_verysecret"),
            api_base: "http://127.0.0.1:1".into(),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let printed = format!("{client:?}");
        assert!(!printed.contains("verysecret"), "{printed}");
    }
}
