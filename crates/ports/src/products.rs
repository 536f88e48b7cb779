//! The catalogue.

use async_trait::async_trait;
use domain::product::{NewProduct, ProductPatch};
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit::AuditEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub price: i64,
    pub stock_quantity: i64,
    pub sku: String,
    /// `null`, an absolute `https://` URL or a path starting with `/`.
    pub image_url: Option<String>,
    pub archived: bool,
    /// Goes up by one on every change: the `ETag`.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A page of the catalogue, by id ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductQuery {
    /// Case-insensitive substring of name or sku; `%` and `_` match themselves.
    pub q: Option<String>,
    pub include_archived: bool,
    /// Only ids greater than this (the keyset cursor).
    pub after_id: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductWriteError {
    #[error("product not found")]
    NotFound,
    /// Another product has this sku (compared case-insensitively).
    #[error("sku taken")]
    SkuTaken,
    /// A `stock_delta` would take stock below 0.
    #[error("insufficient stock: {available} available")]
    InsufficientStock { available: i64 },
    /// A `stock_delta` would take stock above the maximum.
    #[error("stock would exceed the maximum")]
    StockOverflow,
    /// `expected_version` was given and the product has another version now.
    #[error("the product changed meanwhile")]
    VersionMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProductRepository: Send + Sync {
    async fn list(&self, query: &ProductQuery) -> Result<Vec<Product>, StoreError>;

    /// The product, archived or not.
    async fn get(&self, id: i64) -> Result<Option<Product>, StoreError>;

    /// Returns `SkuTaken` when the sku exists.
    ///
    /// `audit`: the entry of this write (its action, actor and request), stored in the same
    /// transaction with its target set to the new product and its changes to every stored field
    /// (`name`, `description`, `price`, `stock_quantity`, `sku`, `image_url`, `archived`) as `[null, value]`.
    async fn create(
        &self,
        product: &NewProduct,
        audit: Option<AuditEntry>,
    ) -> Result<Product, ProductWriteError>;

    /// Applies `patch` under the same row lock that order placement takes, so a stock delta never
    /// races an order. With `expected_version`, refuses with `VersionMismatch` if it changed.
    ///
    /// `audit`: the entry of this write, stored in the same transaction with its target set to
    /// the product and its changes to the stored fields that differ between the row read under
    /// the lock and the row written (`[old, new]`; a stock delta shows as `stock_quantity`). A
    /// write that changes no field stores no entry; a refused one stores nothing.
    async fn update(
        &self,
        id: i64,
        patch: &ProductPatch,
        expected_version: Option<i64>,
        audit: Option<AuditEntry>,
    ) -> Result<Product, ProductWriteError>;
}
