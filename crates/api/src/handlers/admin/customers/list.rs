//! `GET /api/admin/customers`.

use actix_web::{HttpResponse, web};
use app::customers::CustomerFilter;
use domain::{Role, UserStatus};
use serde::Deserialize;

use super::{CustomerJson, CustomerPage};
use crate::auth::AdminUser;
use crate::error::{ApiError, FieldProblem, ProblemBody};
use crate::handlers::products::list_products::parse_q;
use crate::paging::parse_limit;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCustomersQuery {
    /// Case-insensitive substring of the email (`%` and `_` match themselves); at most 200
    /// characters.
    pub q: Option<String>,
    /// `CUSTOMER` or `ADMIN`.
    #[param(value_type = Option<String>, example = "ADMIN")]
    pub role: Option<String>,
    /// `active` or `disabled`.
    #[param(value_type = Option<String>, example = "disabled")]
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The filters of `query`; every bad one named in one 422. An empty value counts as not given.
fn filter(query: ListCustomersQuery) -> Result<CustomerFilter, ApiError> {
    let mut errors = Vec::new();
    let given = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let role = given(query.role).and_then(|v| {
        let role = Role::parse(&v.to_ascii_uppercase());
        if role.is_none() {
            errors.push(FieldProblem::new("role", "must be CUSTOMER or ADMIN"));
        }
        role
    });
    let status = given(query.status).and_then(|v| {
        let status = UserStatus::parse(&v.to_ascii_lowercase());
        if status.is_none() {
            errors.push(FieldProblem::new("status", "must be active or disabled"));
        }
        status
    });
    let q = match parse_q(query.q) {
        Ok(q) => q,
        Err(ApiError::Problem(problem)) => {
            errors.extend(problem.errors);
            None
        }
        Err(other) => return Err(other),
    };
    if errors.is_empty() {
        Ok(CustomerFilter { q, role, status })
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Users matching every filter given, newest first (`created_at`, then id, descending; keyset
/// pages), each with their order figures summed when read: `order_count` (every order),
/// `total_spent` (captured minus refunded, in cents), `last_order_at`.
#[utoipa::path(get, path = "/api/admin/customers", tag = "admin", operation_id = "admin_list_customers",
    params(ListCustomersQuery),
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of users, newest first", body = CustomerPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `q`, `role`, `status`, `limit` or `cursor`, named in `errors`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn list_customers(
    _admin: AdminUser,
    query: web::Query<ListCustomersQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = parse_limit(query.limit.as_deref())?;
    let after = state.cursors.parse_customer(query.cursor.as_deref())?;
    let filter = filter(query)?;
    let page = state.customers.list(filter, after, limit).await?;
    Ok(HttpResponse::Ok().json(CustomerPage {
        items: page.items.iter().map(CustomerJson::from).collect(),
        next_cursor: page.next.map(|c| state.cursors.customer(&c)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: Option<&str>, role: Option<&str>, status: Option<&str>) -> ListCustomersQuery {
        ListCustomersQuery {
            q: q.map(str::to_owned),
            role: role.map(str::to_owned),
            status: status.map(str::to_owned),
            limit: None,
            cursor: None,
        }
    }

    fn fields(result: Result<CustomerFilter, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Problem(p)) => p.errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn filters_are_parsed_and_bad_ones_named_together() {
        assert_eq!(
            filter(query(Some("ada"), Some("ADMIN"), Some("disabled"))).expect("valid"),
            CustomerFilter {
                q: Some("ada".into()),
                role: Some(Role::Admin),
                status: Some(UserStatus::Disabled),
            }
        );
        assert_eq!(
            filter(query(None, Some("customer"), Some(" Active "))).expect("any case"),
            CustomerFilter {
                q: None,
                role: Some(Role::Customer),
                status: Some(UserStatus::Active),
            }
        );
        assert_eq!(
            filter(query(None, Some(""), Some(""))).expect("empty is absent"),
            CustomerFilter::default()
        );
        assert_eq!(
            fields(filter(query(
                Some(&"x".repeat(201)),
                Some("ROOT"),
                Some("banned")
            ))),
            ["role", "status", "q"]
        );
        assert_eq!(fields(filter(query(Some("a\nb"), None, None))), ["q"]);
    }
}
