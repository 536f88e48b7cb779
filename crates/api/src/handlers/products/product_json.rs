//! A product as the API shows it.

use ports::Product;
use serde::Serialize;
use time::OffsetDateTime;

use crate::handlers::timestamps;

/// `{"id", "name", "description", "price", "stock_quantity", "sku", "image_url", "created_at",
/// "updated_at"}`;
/// admin answers also carry `archived`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductJson {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Cents.
    pub price: i64,
    pub stock_quantity: i64,
    pub sku: String,
    /// `null`, an absolute `https://` URL, or a path on this site starting with `/`.
    #[schema(max_length = 2048, example = "/images/desk-lamp.svg")]
    pub image_url: Option<String>,
    /// Only in admin answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl ProductJson {
    /// The public view.
    pub fn public(product: &Product) -> ProductJson {
        ProductJson {
            id: product.id,
            name: product.name.clone(),
            description: product.description.clone(),
            price: product.price,
            stock_quantity: product.stock_quantity,
            sku: product.sku.clone(),
            image_url: product.image_url.clone(),
            archived: None,
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }

    /// The admin view (with `archived`).
    pub fn admin(product: &Product) -> ProductJson {
        ProductJson {
            archived: Some(product.archived),
            ..ProductJson::public(product)
        }
    }
}

/// A page of products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductPage {
    pub items: Vec<ProductJson>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
