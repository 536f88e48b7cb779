//! Every error answer is RFC 9457 problem JSON (`application/problem+json`) with a stable `code`.
//!
//! This is the one place where errors become HTTP: [`ApiError`] is what handlers, extractors and
//! middlewares return, and the `From` impls in [`app_errors`] map the use cases' errors. A 5xx's
//! detail is logged here and never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::ValidationErrors;
use serde::Serialize;
use serde_json::{Map, Value};

mod app_errors;
pub mod extractors;

pub use extractors::ApiJson;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One entry of a problem's `errors`: a field path and what is wrong with it, plus any members a
/// code documents (`product_id` and `available` for `insufficient_stock`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Path of the field in the request: `items[0].quantity`, `shipping_address.country`, `limit`.
    pub field: String,
    pub message: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member (`product_id`, `available`).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> FieldProblem {
        self.extra.insert(name.to_owned(), value.into());
        self
    }
}

/// A 4xx answer: RFC 9457 members plus `code`, optional `errors` and extension members.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldProblem>,
    /// Members documented for some codes (`order_id`, `from`, `to`).
    pub extensions: Map<String, Value>,
}

/// The JSON of a problem, as documented in the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// A URI naming the problem type: `urn:oms:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable, machine-readable: `validation_failed`, `not_found`, `insufficient_stock`, ...
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Present on validation failures: one entry per field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// `order_id` (402), `from` and `to` (409 `invalid_transition`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Problem {
        Problem {
            status,
            code,
            title,
            detail: None,
            errors: Vec::new(),
            extensions: Map::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn errors(mut self, errors: Vec<FieldProblem>) -> Problem {
        self.errors = errors;
        self
    }

    pub fn member(mut self, name: &str, value: impl Into<Value>) -> Problem {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    pub fn body(&self) -> ProblemBody {
        ProblemBody {
            kind: format!("urn:oms:problem:{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            extensions: self.extensions.clone(),
        }
    }

    /// The HTTP answer.
    pub fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        match serde_json::to_string(&self.body()) {
            Ok(json) => response.body(json),
            Err(_) => response.finish(),
        }
    }
}

/// What handlers, extractors and middlewares fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A 4xx answer (or a documented 5xx such as 503 with a safe detail).
    #[error("{}: {}", .0.code, .0.detail.as_deref().unwrap_or(.0.title))]
    Problem(Box<Problem>),
    /// Something that should not happen; the message is logged, the client sees a generic 500.
    #[error("internal error: {0}")]
    Internal(String),
    /// The database cannot be reached now; logged, the client sees 503.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        ApiError::Problem(Box::new(problem))
    }
}

impl From<ports::StoreError> for ApiError {
    fn from(error: ports::StoreError) -> Self {
        match error {
            ports::StoreError::Unavailable(m) => ApiError::Unavailable(m),
            ports::StoreError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl ApiError {
    pub fn problem(status: StatusCode, code: &'static str, title: &'static str) -> ApiError {
        Problem::new(status, code, title).into()
    }

    pub fn not_found() -> ApiError {
        ApiError::problem(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    pub fn unauthenticated() -> ApiError {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        )
        .detail("sign in, or send a valid session cookie or Bearer token")
        .into()
    }

    pub fn forbidden() -> ApiError {
        ApiError::problem(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
    }

    pub fn csrf_failed() -> ApiError {
        Problem::new(StatusCode::FORBIDDEN, "csrf_failed", "CSRF check failed")
            .detail("send the oms_csrf cookie's value in the X-CSRF-Token header")
            .into()
    }

    pub fn invalid_credentials() -> ApiError {
        ApiError::problem(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid email or password",
        )
    }

    /// The right password of a disabled account (login, token).
    pub fn account_disabled() -> ApiError {
        Problem::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "Account disabled",
        )
        .detail("this account is disabled; ask an administrator")
        .into()
    }

    /// An admin sent their own `status` or `role`.
    pub fn cannot_change_self() -> ApiError {
        Problem::new(
            StatusCode::CONFLICT,
            "cannot_change_self",
            "Cannot change your own status or role",
        )
        .detail("ask another admin to change your status or role")
        .into()
    }

    /// The change would leave no active admin.
    pub fn last_admin() -> ApiError {
        Problem::new(StatusCode::CONFLICT, "last_admin", "The last active admin")
            .detail("the last active admin cannot be disabled or demoted; make another admin first")
            .into()
    }

    /// 422 `webhook_url_not_allowed`: a webhook URL's host is, or resolves to, an address that
    /// is not public (loopback, private, link-local, shared, multicast, unspecified, ...).
    pub fn webhook_url_not_allowed(reason: impl Into<String>) -> ApiError {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "webhook_url_not_allowed",
            "Webhook URL not allowed",
        )
        .detail(reason)
        .into()
    }

    pub fn malformed_json(detail: impl Into<String>) -> ApiError {
        Problem::new(StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON")
            .detail(detail)
            .into()
    }

    pub fn unsupported_media_type() -> ApiError {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
        )
        .detail("send the body as application/json")
        .into()
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
        )
        .detail(format!("the body must be at most {limit} bytes"))
        .into()
    }

    /// 422 `validation_failed` with one entry per field.
    pub fn validation(errors: Vec<FieldProblem>) -> ApiError {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Validation failed",
        )
        .errors(errors)
        .into()
    }

    /// 422 `validation_failed` for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldProblem::new(field, message)])
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
    }

    pub fn rate_limited() -> ApiError {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
        )
        .detail("slow down; retry after the number of seconds in Retry-After")
        .into()
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::validation(
            errors
                .0
                .into_iter()
                .map(|e| FieldProblem::new(e.field, e.message))
                .collect(),
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Problem(problem) => problem.status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Problem(problem) => problem.response(),
            ApiError::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                internal_problem().response()
            }
            ApiError::Unavailable(message) => {
                tracing::error!(error = %message, "service unavailable");
                let mut response = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "Service unavailable",
                )
                .detail("a dependency is unavailable; retry shortly")
                .response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}

/// The generic 500 answer: nothing about what went wrong.
pub fn internal_problem() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal server error",
    )
    .detail("the error was logged")
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, String, Value) {
        let response = error.error_response();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = to_bytes(response.into_body()).await.expect("body");
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).expect("json"),
        )
    }

    #[actix_web::test]
    async fn problems_are_rfc9457_with_a_code() {
        let (status, content_type, body) = body_of(ApiError::not_found()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, PROBLEM_JSON);
        assert_eq!(body["type"], "urn:oms:problem:not_found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["title"], "Not found");
        assert!(body.get("errors").is_none());
    }

    #[actix_web::test]
    async fn validation_lists_fields_and_extensions_are_members() {
        let mut errors = ValidationErrors::new();
        errors.add("items[0].quantity", "must be between 1 and 1000");
        let (status, _, body) = body_of(errors.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "items[0].quantity");

        let problem = Problem::new(StatusCode::CONFLICT, "invalid_transition", "Invalid")
            .member("from", "PAID")
            .member("to", "PENDING");
        let (_, _, body) = body_of(problem.into()).await;
        assert_eq!(body["from"], "PAID");
        assert_eq!(body["to"], "PENDING");
    }

    #[actix_web::test]
    async fn internal_details_never_reach_the_client() {
        let secret = "SELECT * FROM users WHERE password_hash = 'x'";
        let (status, _, body) = body_of(ApiError::Internal(secret.into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("SELECT"));
        let (status, _, body) = body_of(ApiError::Unavailable(secret.into())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.to_string().contains("SELECT"));
    }

    #[actix_web::test]
    async fn unauthenticated_names_the_scheme() {
        let response = ApiError::unauthenticated().error_response();
        assert_eq!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .expect("header"),
            "Bearer"
        );
    }
}
