//! `PATCH /api/admin/products/{id}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use app::catalogue::ProductPatchInput;
use serde::{Deserialize, Deserializer};

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, FieldProblem, ProblemBody};
use crate::handlers::admin::if_match::{etag, if_match};
use crate::handlers::products::product_json::ProductJson;
use crate::state::AppState;

/// A partial update: only the fields sent change. A field sent as `null` is refused (422),
/// except `description` and `image_url`, which `null` (or `""`) clears. Send `stock_quantity` (absolute) or
/// `stock_delta` (added atomically, never below 0), not both.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchRequest {
    /// 1 to 200 characters, one line.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub name: Option<Option<String>>,
    /// Up to 5,000 characters; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 5000)]
    pub description: Option<Option<String>>,
    /// An absolute `https://` URL or a path starting with `/`, at most 2,048 characters;
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = true, max_length = 2048)]
    pub image_url: Option<Option<String>>,
    /// Cents, 0 to 2,147,483,647.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2147483647)]
    pub price: Option<Option<i64>>,
    /// 2 to 64 of `A-Z a-z 0-9 - _`, unique case-insensitively.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{2,64}$")]
    pub sku: Option<Option<String>>,
    /// `true` archives, `false` un-archives.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>)]
    pub archived: Option<Option<bool>>,
    /// The new stock, 0 to 2,147,483,647 (with `If-Match`, so it cannot undo a sale unseen).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2147483647)]
    pub stock_quantity: Option<Option<i64>>,
    /// Added to the stock in one statement under the product's row lock (negative takes away);
    /// 409 `insufficient_stock` below 0.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = -2147483647, maximum = 2147483647)]
    pub stock_delta: Option<Option<i64>>,
}

/// A member that is present: `Some(value)`, or `Some(None)` for `null` (absent stays `None`
/// through `#[serde(default)]`).
pub(crate) fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl ProductPatchRequest {
    /// The use case's input; `null` for a field that cannot be empty → 422 naming it.
    pub fn into_input(self) -> Result<ProductPatchInput, ApiError> {
        let mut nulls = Vec::new();
        let mut required = |field: &str, is_null: bool| {
            if is_null {
                nulls.push(FieldProblem::new(field, "must not be null"));
            }
        };
        required("name", matches!(self.name, Some(None)));
        required("price", matches!(self.price, Some(None)));
        required("sku", matches!(self.sku, Some(None)));
        required("archived", matches!(self.archived, Some(None)));
        required("stock_quantity", matches!(self.stock_quantity, Some(None)));
        required("stock_delta", matches!(self.stock_delta, Some(None)));
        if !nulls.is_empty() {
            return Err(ApiError::validation(nulls));
        }
        Ok(ProductPatchInput {
            name: self.name.flatten(),
            description: self.description,
            image_url: self.image_url,
            price: self.price.flatten(),
            sku: self.sku.flatten(),
            archived: self.archived.flatten(),
            stock_quantity: self.stock_quantity.flatten(),
            stock_delta: self.stock_delta.flatten(),
        })
    }
}

/// Changes the fields sent; with `If-Match`, only if the product is still as the admin saw it.
#[utoipa::path(patch, path = "/api/admin/products/{id}", tag = "admin", operation_id = "admin_update_product",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "The product's `ETag`: refuse (412) if it changed since"),
    ),
    request_body = ProductPatchRequest,
    responses(
        (status = 200, description = "The product after the change", body = ProductJson,
            headers(("ETag" = String, description = "The product's new strong ETag"))),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also an id that is not a number)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`sku_taken`, or `insufficient_stock` (`errors[0]` has `available`)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the product changed since the `If-Match` ETag", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad value, `null` for a field that cannot be empty, both `stock_quantity` and `stock_delta`, an unknown field", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn update_product(
    admin: AdminUser,
    meta: RequestMeta,
    id: web::Path<i64>,
    req: HttpRequest,
    body: ApiJson<ProductPatchRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.into_inner().into_input()?;
    let expected_version = if_match(&req)
        .expected_version(|| async { Ok(state.catalogue.get_product(id, true).await?.version) })
        .await?;
    let product = state
        .catalogue
        .update_product(
            id,
            &input,
            expected_version,
            &meta.audit(Some(admin.0.actor())),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(product.version)))
        .json(ProductJson::admin(&product)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ProductPatchInput, ApiError> {
        serde_json::from_str::<ProductPatchRequest>(json)
            .map_err(|e| ApiError::invalid_field("body", e.to_string()))?
            .into_input()
    }

    #[test]
    fn absent_null_and_values_are_told_apart() {
        let input = parse(r#"{"description": null, "stock_delta": -2}"#).expect("valid");
        assert_eq!(
            input,
            ProductPatchInput {
                description: Some(None),
                stock_delta: Some(-2),
                ..Default::default()
            }
        );
        assert_eq!(parse("{}").expect("empty"), ProductPatchInput::default());
        let input =
            parse(r#"{"name": "Mug", "description": "x", "archived": false}"#).expect("valid");
        assert_eq!(input.name.as_deref(), Some("Mug"));
        assert_eq!(input.description, Some(Some("x".into())));
        assert_eq!(input.archived, Some(false));
        let input = parse(r#"{"image_url": null}"#).expect("valid");
        assert_eq!(input.image_url, Some(None));
        let input = parse(r#"{"image_url": "/images/a.svg"}"#).expect("valid");
        assert_eq!(input.image_url, Some(Some("/images/a.svg".into())));
        assert_eq!(parse("{}").expect("empty").image_url, None);
    }

    #[test]
    fn null_for_a_field_that_cannot_be_empty_is_named() {
        match parse(r#"{"name": null, "price": null, "description": null}"#) {
            Err(ApiError::Problem(p)) => assert_eq!(
                p.errors
                    .iter()
                    .map(|e| e.field.as_str())
                    .collect::<Vec<_>>(),
                ["name", "price"]
            ),
            other => panic!("expected 422, got {other:?}"),
        }
        assert!(parse(r#"{"colour": "red"}"#).is_err());
    }
}
