//! `X-Request-Id`: the caller's, when it is 1 to 128 visible ASCII characters, else a new one.
//! Echoed on every response and recorded on the request's root span, so it is in every log line
//! of the request.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether a caller's id is usable: 1 to 128 visible ASCII characters (0x21–0x7E).
pub fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn id_for(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The outermost middleware: sets the id before the request is logged and echoes it on the
/// answer, errors included.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = id_for(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Middlewares inside answer their refusals as responses (not `Err`), so the header is on
    // those too.
    let mut response = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptable_ids() {
        assert!(is_acceptable("abc-123"));
        assert!(is_acceptable(&"x".repeat(128)));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable(&"x".repeat(129)));
        assert!(!is_acceptable("has space"));
        assert!(!is_acceptable("tab\there"));
        assert!(!is_acceptable("é"));
    }
}
