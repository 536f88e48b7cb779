//! The audit context of a request: its id and client address (as the rate limits see it), for
//! the audit entries its use case writes.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ports::{Actor, AuditContext};

use crate::error::ApiError;
use crate::rate_limit::ClientAddress;
use crate::request_id::RequestId;

/// The request id and client address of the current request. Never fails.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

impl RequestMeta {
    pub fn of(req: &HttpRequest) -> RequestMeta {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
        let client_ip = match req.app_data::<web::Data<ClientAddress>>() {
            Some(addresses) => addresses.of(req),
            None => req.peer_addr().map(|a| a.ip()),
        };
        RequestMeta {
            request_id,
            client_ip: client_ip.map(|ip| ip.to_string()),
        }
    }

    /// The audit context of this request acting as `actor`.
    pub fn audit(&self, actor: Option<Actor>) -> AuditContext {
        AuditContext {
            actor,
            request_id: self.request_id.clone(),
            client_ip: self.client_ip.clone(),
        }
    }
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<RequestMeta, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(RequestMeta::of(req)))
    }
}
