//! `/api/admin/customers`: users with their order figures, and an admin's change of a user's
//! status or role.

pub mod get;
pub mod list;
pub mod update;

use actix_web::web;
use domain::{Role, UserStatus};
use ports::Customer;
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::handlers::{resource, timestamps};

/// The customer routes' part of the OpenAPI document (merged into `crate::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list::list_customers, get::get_customer, update::update_customer),
    components(schemas(CustomerJson, CustomerPage, update::CustomerPatchRequest))
)]
pub struct CustomersApiDoc;

/// Mounts the routes inside the guarded `/api/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/customers").get(list::list_customers))
        .service(
            resource("/customers/{id}")
                .get(get::get_customer)
                .patch(update::update_customer),
        );
}

/// A user as admins see them: `{"id", "email", "role", "status", "order_count", "total_spent",
/// "last_order_at", "created_at", "updated_at"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerJson {
    pub id: i64,
    pub email: String,
    #[schema(value_type = String, example = "CUSTOMER")]
    pub role: Role,
    /// `active` or `disabled`.
    #[schema(value_type = String, example = "active")]
    pub status: UserStatus,
    /// Every order of the user, whatever its status.
    pub order_count: i64,
    /// Cents: the total of the orders whose payment was captured, minus what was refunded.
    pub total_spent: i64,
    /// When the newest order was placed; `null` without orders.
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_order_at: Option<OffsetDateTime>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

fn optional_timestamp<S: Serializer>(
    value: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(t) => timestamps::serialize(t, s),
        None => s.serialize_none(),
    }
}

impl From<&Customer> for CustomerJson {
    fn from(c: &Customer) -> CustomerJson {
        CustomerJson {
            id: c.id,
            email: c.email.clone(),
            role: c.role,
            status: c.status,
            order_count: c.order_count,
            total_spent: c.total_spent,
            last_order_at: c.last_order_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A page of customers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn every_customer_route_is_documented_with_its_refusals() {
        let doc = serde_json::to_value(crate::openapi::document()).expect("json");
        let routes = [
            (
                "/api/admin/customers",
                "get",
                &["200", "401", "403", "422", "429"][..],
            ),
            (
                "/api/admin/customers/{id}",
                "get",
                &["200", "401", "403", "404", "429"],
            ),
            (
                "/api/admin/customers/{id}",
                "patch",
                &[
                    "200", "400", "401", "403", "404", "409", "412", "413", "415", "422", "429",
                ],
            ),
            (
                "/api/auth/password",
                "post",
                &["204", "400", "401", "403", "413", "415", "422", "429"],
            ),
        ];
        for (path, method, statuses) in routes {
            let responses = &doc["paths"][path][method]["responses"];
            assert!(responses.is_object(), "{method} {path} is not documented");
            for status in statuses {
                assert!(
                    responses.get(*status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
        let patch = doc["paths"]["/api/admin/customers/{id}"]["patch"].to_string();
        for code in ["cannot_change_self", "last_admin", "precondition_failed"] {
            assert!(patch.contains(code), "PATCH does not document {code}");
        }
        for schema in [
            "CustomerJson",
            "CustomerPatchRequest",
            "ChangePasswordRequest",
        ] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
        let tags = doc["tags"].as_array().expect("tags");
        let admin_tags = tags.iter().filter(|t| t["name"] == "admin").count();
        assert_eq!(admin_tags, 1, "{tags:?}");
        for route in ["/api/auth/login", "/api/auth/token"] {
            let refused = doc["paths"][route]["post"]["responses"]["403"].to_string();
            assert!(refused.contains("account_disabled"), "{route}");
        }
    }

    #[test]
    fn the_json_has_exactly_the_contracts_fields() {
        let customer = Customer {
            id: 4,
            email: "ada@example.com".into(),
            role: Role::Customer,
            status: UserStatus::Disabled,
            order_count: 2,
            total_spent: 1500,
            last_order_at: Some(datetime!(2026-11-25 10:00:00.123456 UTC)),
            version: 3,
            created_at: datetime!(2026-11-01 09:00 UTC),
            updated_at: datetime!(2026-11-26 09:00 UTC),
        };
        let json = serde_json::to_value(CustomerJson::from(&customer)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "id": 4, "email": "ada@example.com", "role": "CUSTOMER", "status": "disabled",
                "order_count": 2, "total_spent": 1500,
                "last_order_at": "2026-11-25T10:00:00.123456Z",
                "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-26T09:00:00Z"
            })
        );
        let none = Customer {
            last_order_at: None,
            ..customer
        };
        let json = serde_json::to_value(CustomerJson::from(&none)).expect("json");
        assert!(json["last_order_at"].is_null());
    }
}
