//! Request extraction that fails as problems: the JSON body ([`ApiJson`]: 415, 413, 400, 422 with
//! field paths), and the handlers for actix's own path, query and JSON extractors.

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiError, FieldProblem};

/// The largest JSON body accepted, in bytes (64 KiB).
pub const JSON_LIMIT: usize = 64 * 1024;

/// A JSON request body: `application/json` (or `+json`), at most [`JSON_LIMIT`] bytes, parsed
/// into `T` (whose unknown fields are refused by `#[serde(deny_unknown_fields)]`).
///
/// - another content type → 415 `unsupported_media_type`;
/// - too long → 413 `payload_too_large`;
/// - not JSON → 400 `malformed_json`;
/// - JSON of the wrong shape → 422 `validation_failed`, the field named by its path.
#[derive(Debug)]
pub struct ApiJson<T> {
    pub value: T,
    /// The parsed document, for canonical hashing (`Idempotency-Key`).
    pub document: Value,
}

impl<T> ApiJson<T> {
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|len| len > JSON_LIMIT as u64) {
                return Err(ApiError::payload_too_large(JSON_LIMIT));
            }
            if !json {
                return Err(ApiError::unsupported_media_type());
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|_| ApiError::malformed_json("the request body could not be read"))?;
                if body.len() + chunk.len() > JSON_LIMIT {
                    return Err(ApiError::payload_too_large(JSON_LIMIT));
                }
                body.extend_from_slice(&chunk);
            }
            let (value, document) = parse_json(&body.freeze())?;
            Ok(ApiJson { value, document })
        })
    }
}

/// Whether the request says its body is JSON.
fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as JSON (400 when it is not), then as `T`, an object (422 naming the field when
/// the shape is wrong).
pub fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<(T, Value), ApiError> {
    let document: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::malformed_json(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !document.is_object() {
        return Err(ApiError::invalid_field("body", "must be a JSON object"));
    }
    let value = serde_path_to_error::deserialize(&document)
        .map_err(|e| ApiError::validation(vec![shape_error(&e)]))?;
    Ok((value, document))
}

/// Names the field of a shape error: `items[0].quantity`; an unknown or missing member is named
/// by its own path (`items[0].colour`).
fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldProblem {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let member = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (path.as_str(), member) {
        (".", Some(member)) => member.to_owned(),
        (".", None) => "body".to_owned(),
        (path, Some(member)) if !path.ends_with(member) => format!("{path}.{member}"),
        (path, _) => path.to_owned(),
    };
    FieldProblem::new(field, clean_message(&message))
}

/// serde's message without the position (`at line 1 column 5`, meaningless once the field is
/// named) and without the value sent (`invalid type: integer `12345678`` could be a password,
/// and the message ends up in logs): `invalid type: expected a string`.
fn clean_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    for kind in ["invalid type", "invalid value", "invalid length"] {
        if message.starts_with(kind) {
            return match message.rfind(", expected ") {
                Some(at) => format!("{kind}: {}", &message[at + 2..]),
                None => kind.to_owned(),
            };
        }
    }
    message.to_owned()
}

/// A path segment that does not parse (`/api/orders/not-a-uuid`, `/api/products/abc`) names
/// nothing that can exist: 404 `not_found`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_error: PathError, _req| ApiError::not_found().into())
}

/// A query string that does not parse as a whole → 422 (each handler checks its own parameters
/// and names them).
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error: QueryPayloadError, _req| {
        ApiError::invalid_field("query", error.to_string()).into()
    })
}

/// For any handler that uses actix's own `web::Json`: the same answers as [`ApiJson`].
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|error: JsonPayloadError, _req| {
            match error {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::payload_too_large(JSON_LIMIT)
                }
                JsonPayloadError::ContentType => ApiError::unsupported_media_type(),
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    ApiError::invalid_field("body", clean_message(&e.to_string()))
                }
                _ => ApiError::malformed_json("the body is not valid JSON"),
            }
            .into()
        })
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        #[allow(dead_code)]
        product_id: i64,
        #[allow(dead_code)]
        quantity: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        items: Vec<Line>,
    }

    fn field_of(json: &str) -> String {
        match parse_json::<Body>(&Bytes::copy_from_slice(json.as_bytes())) {
            Err(ApiError::Problem(p)) => {
                assert_eq!(p.code, "validation_failed", "{json}");
                p.errors[0].field.clone()
            }
            other => panic!("expected a validation problem for {json}, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(
            field_of(r#"{"items":[{"product_id":1,"quantity":"2"}]}"#),
            "items[0].quantity"
        );
        assert_eq!(
            field_of(r#"{"items":[{"product_id":1,"quantity":1e30}]}"#),
            "items[0].quantity"
        );
        assert_eq!(
            field_of(r#"{"items":[{"product_id":1,"quantity":1,"colour":"red"}]}"#),
            "items[0].colour"
        );
        assert_eq!(field_of(r#"{"items":[],"extra":1}"#), "extra");
        assert_eq!(field_of(r#"{}"#), "items");
        assert_eq!(field_of(r#"[1]"#), "body");
        assert_eq!(
            field_of(r#"{"items":[{"product_id":1}]}"#),
            "items[0].quantity"
        );
    }

    #[test]
    fn messages_never_echo_the_value_sent() {
        let json = r#"{"items":[{"product_id":1,"quantity":"hunter2-secret"}]}"#;
        match parse_json::<Body>(&Bytes::copy_from_slice(json.as_bytes())) {
            Err(ApiError::Problem(p)) => {
                let message = &p.errors[0].message;
                assert!(!message.contains("hunter2"), "{message}");
                assert!(message.starts_with("invalid type: expected"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        for bad in ["", "{", "{\"items\": [}", "nope"] {
            match parse_json::<Body>(&Bytes::copy_from_slice(bad.as_bytes())) {
                Err(ApiError::Problem(p)) => assert_eq!(p.code, "malformed_json", "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[actix_web::test]
    async fn content_type_and_size_are_checked() {
        let code = |result: Result<ApiJson<Value>, ApiError>| match result {
            Err(ApiError::Problem(p)) => p.code,
            Ok(_) => "ok",
            Err(_) => "other",
        };
        let (req, mut payload) = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload("{}")
            .to_http_parts();
        assert_eq!(
            code(ApiJson::<Value>::from_request(&req, &mut payload).await),
            "unsupported_media_type"
        );
        let (req, mut payload) = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
            .set_payload("{}")
            .to_http_parts();
        assert_eq!(
            code(ApiJson::<Value>::from_request(&req, &mut payload).await),
            "ok"
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(JSON_LIMIT));
        let (req, mut payload) = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(big)
            .to_http_parts();
        assert_eq!(
            code(ApiJson::<Value>::from_request(&req, &mut payload).await),
            "payload_too_large"
        );
    }
}
