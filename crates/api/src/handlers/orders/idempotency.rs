//! `Idempotency-Key` on order placement and payment.
//!
//! The same key from the same user with the same body (equal as parsed JSON: the hash is SHA-256
//! of the document re-serialised with sorted keys) answers exactly as the first time: status,
//! body, `Location`. Every answer from 201 to 422 is kept except 401, 403, 413 and 429 (and no
//! 5xx): those may be retried. Another body with the key → 422 `idempotency_key_reused`; while
//! the first request runs → 409 `idempotency_in_progress`.
//!
//! A request that never answered because its instance died holds its key only for the lease
//! (`IDEMPOTENCY_LEASE`): the retry after it takes the key over and the work is told so
//! ([`Claim::resumed`]), with the resource the first request reserved (the order it was creating
//! or paying), so that it finishes that work instead of starting it again.
//!
//! The work runs in its own task, so a client that hangs up does not abandon a charge half-way
//! or leave its key claimed.

use std::future::Future;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use ports::{Claim, IdempotencyBegin, IdempotencyStore, StoredResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, PROBLEM_JSON, Problem};

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The request's `Idempotency-Key`: 1 to 255 characters of ASCII 0x21–0x7E, else 422.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if !(1..=255).contains(&bytes.len()) || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(ApiError::invalid_field(
            IDEMPOTENCY_HEADER,
            "must be 1 to 255 characters of ASCII 0x21-0x7E",
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// SHA-256 (hex) of `document` serialised with object keys sorted at every level.
pub fn canonical_hash(document: &Value) -> String {
    let mut text = String::new();
    canonical(document, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Whether an answer with this status is kept for replay (placement answers 201 to 422; payment
/// also 200).
pub fn is_kept(status: u16) -> bool {
    (200..=422).contains(&status) && !matches!(status, 401 | 403 | 413 | 429)
}

/// A problem as a storable answer; other failures (5xx) stay errors.
fn as_stored(result: Result<StoredResponse, ApiError>) -> Result<StoredResponse, ApiError> {
    match result {
        Ok(response) => Ok(response),
        Err(ApiError::Problem(problem)) => Ok(stored_problem(&problem)),
        Err(other) => Err(other),
    }
}

fn stored_problem(problem: &Problem) -> StoredResponse {
    StoredResponse {
        status: problem.status.as_u16(),
        body: serde_json::to_string(&problem.body()).unwrap_or_default(),
        location: None,
    }
}

/// The HTTP answer of a stored (or fresh) response.
pub fn respond(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    let content_type = if stored.status >= 400 {
        PROBLEM_JSON
    } else {
        "application/json"
    };
    response.insert_header((header::CONTENT_TYPE, content_type));
    if let Some(location) = stored
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.insert_header((header::LOCATION, location));
    }
    response.body(stored.body.clone())
}

/// Runs `work` once per `(user, scope, key)` as described in the module documentation; without
/// a key, just runs it. `resource` is what the request works on if it is the first with its key
/// (a fresh order id for a placement); `work` gets the claim with the resource to use.
pub async fn run<W, F>(
    store: Arc<dyn IdempotencyStore>,
    user_id: i64,
    scope: String,
    key: Option<String>,
    request_hash: String,
    resource: uuid::Uuid,
    work: W,
) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(Claim) -> F + Send + 'static,
    F: Future<Output = Result<StoredResponse, ApiError>> + Send + 'static,
{
    // The task keeps the request's span, so its log lines name the request.
    let span = tracing::Span::current();
    let task = tokio::spawn(tracing::Instrument::instrument(
        async move {
            let Some(key) = key else {
                return as_stored(
                    work(Claim {
                        id: uuid::Uuid::nil(),
                        resource,
                        resumed: false,
                    })
                    .await,
                );
            };
            let claim = match store
                .begin(user_id, &scope, &key, &request_hash, resource)
                .await?
            {
                IdempotencyBegin::Started(claim) => claim,
                IdempotencyBegin::Replay(stored) => return Ok(stored),
                IdempotencyBegin::InProgress => {
                    return Ok(stored_problem(
                        &Problem::new(
                            StatusCode::CONFLICT,
                            "idempotency_in_progress",
                            "A request with this Idempotency-Key is still running",
                        )
                        .detail("retry once the first request has finished"),
                    ));
                }
                IdempotencyBegin::Mismatch => {
                    return Ok(stored_problem(
                        &Problem::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "idempotency_key_reused",
                            "Idempotency-Key reused with another request",
                        )
                        .detail("this key was first used with a different body"),
                    ));
                }
            };
            if claim.resumed {
                tracing::info!(resource = %claim.resource,
                    "idempotency key taken over after its lease: finishing its work");
            }
            let outcome = as_stored(work(claim).await);
            match &outcome {
                Ok(stored) if is_kept(stored.status) => {
                    match store
                        .complete(user_id, &scope, &key, claim.id, stored)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(
                            "this request outlived its idempotency lease: a retry took the key over"
                        ),
                        Err(error) => {
                            tracing::error!(%error, "could not keep the idempotent answer; releasing the key");
                            release(&*store, user_id, &scope, &key, claim.id).await;
                        }
                    }
                }
                _ => release(&*store, user_id, &scope, &key, claim.id).await,
            }
            outcome
        },
        span,
    ));
    let stored = task
        .await
        .map_err(|e| ApiError::Internal(format!("idempotent task failed: {e}")))??;
    Ok(respond(&stored))
}

async fn release(
    store: &dyn IdempotencyStore,
    user_id: i64,
    scope: &str,
    key: &str,
    claim: uuid::Uuid,
) {
    if let Err(error) = store.release(user_id, scope, key, claim).await {
        tracing::error!(%error, "could not release an idempotency key");
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_documents_hash_equal_whatever_the_key_order() {
        let a = json!({"items": [{"product_id": 1, "quantity": 2}], "shipping_address": {"name": "A", "city": "B"}});
        let b: Value = serde_json::from_str(
            r#"{"shipping_address":{"city":"B","name":"A"},"items":[{"quantity":2,"product_id":1}]}"#,
        )
        .expect("json");
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
        let c = json!({"items": [{"product_id": 1, "quantity": 3}], "shipping_address": {"name": "A", "city": "B"}});
        assert_ne!(canonical_hash(&a), canonical_hash(&c));
        assert_eq!(canonical_hash(&a).len(), 64);
    }

    #[test]
    fn kept_statuses() {
        for kept in [200, 201, 202, 400, 402, 404, 409, 415, 422] {
            assert!(is_kept(kept), "{kept}");
        }
        for not_kept in [401, 403, 413, 429, 500, 503] {
            assert!(!is_kept(not_kept), "{not_kept}");
        }
    }

    #[test]
    fn keys() {
        let with = |v: &str| {
            TestRequest::post()
                .insert_header((IDEMPOTENCY_HEADER, v))
                .to_http_request()
        };
        assert_eq!(
            key_of(&with("abc-123")).expect("ok"),
            Some("abc-123".into())
        );
        assert!(key_of(&with(&"k".repeat(255))).is_ok());
        assert!(key_of(&with(&"k".repeat(256))).is_err());
        assert!(key_of(&with("has space")).is_err());
        assert_eq!(
            key_of(&TestRequest::post().to_http_request()).expect("none"),
            None
        );
    }
}
