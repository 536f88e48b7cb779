//! `PATCH /api/admin/customers/{id}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::{AccountChange, Role, UserStatus};
use ports::UserGeneration;
use serde::Deserialize;

use super::CustomerJson;
use crate::audit::RequestMeta;
use crate::auth::{AdminUser, AuthState};
use crate::error::{ApiError, ApiJson, FieldProblem, ProblemBody};
use crate::handlers::admin::if_match::{etag, if_match};
use crate::handlers::admin::products::update::present;
use crate::state::AppState;

/// The fields to change; an absent one stays as it is, `null` is refused (422).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatchRequest {
    /// `active` or `disabled`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "disabled")]
    pub status: Option<Option<String>>,
    /// `CUSTOMER` or `ADMIN`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "CUSTOMER")]
    pub role: Option<Option<String>>,
}

impl CustomerPatchRequest {
    /// The change; a `null` or unknown value → 422 naming each field.
    pub fn into_change(self) -> Result<AccountChange, ApiError> {
        let mut errors = Vec::new();
        let status = match self.status {
            None => None,
            Some(value) => {
                let status = value.as_deref().and_then(UserStatus::parse);
                if status.is_none() {
                    errors.push(FieldProblem::new("status", "must be active or disabled"));
                }
                status
            }
        };
        let role = match self.role {
            None => None,
            Some(value) => {
                let role = value.as_deref().and_then(Role::parse);
                if role.is_none() {
                    errors.push(FieldProblem::new("role", "must be CUSTOMER or ADMIN"));
                }
                role
            }
        };
        if errors.is_empty() {
            Ok(AccountChange { status, role })
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// Changes a user's `status` and/or `role`. A change revokes every token the user holds at once,
/// on every instance (their real-time connections close with 1008; they sign in again, and a
/// disabled user is refused with 403 `account_disabled`), and writes one `customer.updated` audit
/// entry with the fields that changed, in the same transaction. Sending the values the user
/// already has changes nothing: no new version, no revocation, no audit entry. An admin may not
/// send `status` or `role` for their own account, whatever the value (409 `cannot_change_self`,
/// which wins over every other refusal but 404 and 422); the last active admin is never disabled
/// or demoted (409 `last_admin`; changes are serialised, so of two admins demoting each other at
/// the same moment one is refused).
#[utoipa::path(patch, path = "/api/admin/customers/{id}", tag = "admin", operation_id = "admin_update_customer",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = i64, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The user's `ETag`: refuse (412) if they changed since"),
    ),
    request_body = CustomerPatchRequest,
    responses(
        (status = 200, description = "The user after the change (or as they were, for a change of nothing)", body = CustomerJson,
            headers(("ETag" = String, description = "The user's strong ETag"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin, or no longer one) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a number)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`cannot_change_self`: `status` or `role` sent for your own account; `last_admin`: the change would leave no active admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the user changed since the `If-Match` ETag", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `status` or `role`, `null`, an unknown field", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update_customer(
    admin: AdminUser,
    id: web::Path<i64>,
    req: HttpRequest,
    meta: RequestMeta,
    body: ApiJson<CustomerPatchRequest>,
    state: web::Data<AppState>,
    auth: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let change = body.into_inner().into_change()?;
    let ctx = meta.audit(Some(admin.0.actor()));
    // The self rule wins over a precondition: checked before If-Match is looked at.
    domain::check_not_self(admin.0.id, id, change).map_err(|_| ApiError::cannot_change_self())?;
    let expected_version = if_match(&req)
        .expected_version(|| async { Ok(state.customers.get(id).await?.version) })
        .await?;
    let update = state
        .customers
        .update(&ctx, id, change, expected_version)
        .await?;
    if let Some(generation) = update.revoked_below {
        // This instance refuses the old tokens now; the others when the notice reaches them.
        auth.revoked.revoke_user(UserGeneration {
            user_id: id,
            min_generation: generation,
        });
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(update.customer.version)))
        .json(CustomerJson::from(&update.customer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<AccountChange, ApiError> {
        serde_json::from_str::<CustomerPatchRequest>(json)
            .map_err(|e| ApiError::invalid_field("body", e.to_string()))?
            .into_change()
    }

    fn fields(result: Result<AccountChange, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Problem(p)) => p.errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn fields_absent_null_and_bad() {
        assert_eq!(parse("{}").expect("empty"), AccountChange::default());
        assert_eq!(
            parse(r#"{"status": "disabled", "role": "ADMIN"}"#).expect("both"),
            AccountChange {
                status: Some(UserStatus::Disabled),
                role: Some(Role::Admin)
            }
        );
        assert_eq!(
            fields(parse(r#"{"status": null, "role": "root"}"#)),
            ["status", "role"]
        );
        assert_eq!(fields(parse(r#"{"status": "Disabled"}"#)), ["status"]);
        assert_eq!(fields(parse(r#"{"email": "x@example.com"}"#)), ["body"]);
        assert_eq!(fields(parse(r#"{"status": 1}"#)), ["body"]);
    }
}
