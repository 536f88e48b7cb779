//! `POST /api/admin/products`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use app::catalogue::NewProductInput;
use serde::Deserialize;

use crate::audit::RequestMeta;
use crate::auth::AdminUser;
use crate::error::extractors::ApiJson;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::if_match::etag;
use crate::handlers::products::product_json::ProductJson;
use crate::state::AppState;

/// A new product.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// 1 to 200 characters, one line.
    #[schema(min_length = 1, max_length = 200, example = "Desk Lamp")]
    pub name: String,
    /// Up to 5,000 characters, line breaks allowed; `null`, absent or `""`: none.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Cents, 0 to 2,147,483,647.
    #[schema(minimum = 0, maximum = 2147483647, example = 5400)]
    pub price: i64,
    /// 0 to 2,147,483,647.
    #[schema(minimum = 0, maximum = 2147483647, example = 10)]
    pub stock_quantity: i64,
    /// 2 to 64 of `A-Z a-z 0-9 - _`, unique case-insensitively.
    #[schema(pattern = "^[A-Za-z0-9_-]{2,64}$", example = "LMP-LED-DSK")]
    pub sku: String,
    /// An absolute `https://` URL (with a host, no user info) or a path on this site starting
    /// with `/` (not `//`), at most 2,048 characters, no spaces; `null`, absent or `""`: none.
    #[serde(default)]
    #[schema(max_length = 2048, example = "/images/desk-lamp.svg")]
    pub image_url: Option<String>,
}

/// Creates a product.
#[utoipa::path(post, path = "/api/admin/products", tag = "admin", operation_id = "admin_create_product",
    security(("session_cookie" = []), ("bearer" = [])),
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "The product, with `archived`", body = ProductJson,
            headers(
                ("Location" = String, description = "`/api/admin/products/{id}`"),
                ("ETag" = String, description = "The product's strong ETag"),
            )),
        (status = 400, description = "`malformed_json`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden` (not an admin) or `csrf_failed`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`sku_taken`: another product has this sku (case-insensitively)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, each bad field named", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn create_product(
    admin: AdminUser,
    meta: RequestMeta,
    body: ApiJson<CreateProductRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let input = NewProductInput {
        name: body.name,
        description: body.description,
        price: body.price,
        stock_quantity: body.stock_quantity,
        sku: body.sku,
        image_url: body.image_url,
    };
    let audit = meta.audit(Some(admin.0.actor()));
    let product = state.catalogue.create_product(&input, &audit).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, super::location(product.id)))
        .insert_header((header::ETAG, etag(product.version)))
        .json(ProductJson::admin(&product)))
}
