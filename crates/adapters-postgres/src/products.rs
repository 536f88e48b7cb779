//! [`ProductRepository`] over `products`.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::product::{AMOUNT_MAX, NewProduct, ProductPatch, StockChange};
use ports::audit::target;
use ports::{
    AuditEntry, AuditTarget, Changes, Product, ProductQuery, ProductRepository, ProductWriteError,
    StoreError,
};
use serde_json::Value;

use crate::errors::{TxError, store_error, violates_unique};
use crate::pool::PgPool;
use crate::rows::ProductRow;
use crate::schema::products;

/// The unique index on `lower(sku)`.
pub const SKU_UNIQUE_INDEX: &str = "products_sku_lower_key";

#[derive(Clone)]
pub struct PgProductRepository {
    pool: PgPool,
}

impl PgProductRepository {
    pub fn new(pool: PgPool) -> PgProductRepository {
        PgProductRepository { pool }
    }
}

/// `%text%` for `ILIKE … ESCAPE '\'`, with `\`, `%` and `_` in `text` matching themselves.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn sku_error(e: diesel::result::Error) -> ProductWriteError {
    if violates_unique(&e, SKU_UNIQUE_INDEX) {
        ProductWriteError::SkuTaken
    } else {
        ProductWriteError::Store(store_error(e))
    }
}

/// The stock after `change` on `current`, within 0..=AMOUNT_MAX.
fn new_stock(current: i64, change: Option<StockChange>) -> Result<i64, ProductWriteError> {
    match change {
        None => Ok(current),
        Some(StockChange::Set(quantity)) => Ok(quantity),
        Some(StockChange::Delta(delta)) => match current.checked_add(delta) {
            Some(stock) if stock < 0 => {
                Err(ProductWriteError::InsufficientStock { available: current })
            }
            Some(stock) if stock <= AMOUNT_MAX => Ok(stock),
            _ => Err(ProductWriteError::StockOverflow),
        },
    }
}

/// The stored fields an audit entry compares (not the version or timestamps).
fn audited_fields(row: &ProductRow) -> [(&'static str, Value); 7] {
    [
        ("name", Value::from(row.name.as_str())),
        (
            "description",
            row.description.as_deref().map_or(Value::Null, Value::from),
        ),
        ("price", Value::from(row.price)),
        ("stock_quantity", Value::from(row.stock_quantity)),
        ("sku", Value::from(row.sku.as_str())),
        (
            "image_url",
            row.image_url.as_deref().map_or(Value::Null, Value::from),
        ),
        ("archived", Value::from(row.archived)),
    ]
}

/// A new product's changes: every stored field, `[null, value]`.
fn created_changes(row: &ProductRow) -> Changes {
    Changes(
        audited_fields(row)
            .into_iter()
            .map(|(field, value)| (field.to_owned(), [Value::Null, value]))
            .collect(),
    )
}

/// An update's changes: the stored fields that differ, `[old, new]`.
fn updated_changes(old: &ProductRow, new: &ProductRow) -> Changes {
    let mut changes = Changes::new();
    for ((field, old), (_, new)) in audited_fields(old).into_iter().zip(audited_fields(new)) {
        changes.field(field, old, new);
    }
    changes
}

/// `entry` about product `row` with `changes`.
fn product_entry(mut entry: AuditEntry, row: &ProductRow, changes: Changes) -> AuditEntry {
    entry.target = Some(AuditTarget::new(target::PRODUCT, row.id));
    entry.changes = changes.into_option();
    entry
}

#[async_trait]
impl ProductRepository for PgProductRepository {
    /// By id ascending; `q` matches name or sku case-insensitively with `%`, `_`, `\` literal.
    /// (A sequential scan for `q`: fine for a catalogue; `pg_trgm` would index it if needed.)
    async fn list(&self, query: &ProductQuery) -> Result<Vec<Product>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let mut select = products::table
            .select(ProductRow::as_select())
            .order(products::id.asc())
            .limit(i64::from(query.limit))
            .into_boxed();
        if !query.include_archived {
            select = select.filter(products::archived.eq(false));
        }
        if let Some(after) = query.after_id {
            select = select.filter(products::id.gt(after));
        }
        if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
            let pattern = like_pattern(q);
            select = select.filter(
                products::name
                    .ilike(pattern.clone())
                    .escape('\\')
                    .or(products::sku.ilike(pattern).escape('\\')),
            );
        }
        let rows = select.load(&mut conn).await.map_err(store_error)?;
        Ok(rows.into_iter().map(Product::from).collect())
    }

    async fn get(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: Option<ProductRow> = products::table
            .find(id)
            .select(ProductRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        Ok(row.map(Product::from))
    }

    /// One `INSERT`, and the audit entry with it in one transaction.
    async fn create(
        &self,
        product: &NewProduct,
        audit: Option<AuditEntry>,
    ) -> Result<Product, ProductWriteError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let result = conn
            .transaction(
                async |conn| -> Result<ProductRow, TxError<ProductWriteError>> {
                    let row: ProductRow = diesel::insert_into(products::table)
                        .values((
                            products::name.eq(&product.name),
                            products::description.eq(product.description.as_deref()),
                            products::price.eq(product.price),
                            products::stock_quantity.eq(product.stock_quantity),
                            products::sku.eq(&product.sku),
                            products::image_url.eq(product.image_url.as_deref()),
                        ))
                        .returning(ProductRow::as_returning())
                        .get_result(conn)
                        .await
                        .map_err(|e| TxError::Op(sku_error(e)))?;
                    if let Some(entry) = audit {
                        let changes = created_changes(&row);
                        crate::audit::insert(conn, &product_entry(entry, &row, changes)).await?;
                    }
                    Ok(row)
                },
            )
            .await;
        result.map(Product::from).map_err(TxError::into_op)
    }

    /// `SELECT … FOR UPDATE` (the lock order placement takes too), checks, then one `UPDATE` of
    /// every column with the version bumped: a delta is applied to the stock read under the lock.
    /// The audit entry's changes compare the locked row with the written one, in the same
    /// transaction.
    async fn update(
        &self,
        id: i64,
        patch: &ProductPatch,
        expected_version: Option<i64>,
        audit: Option<AuditEntry>,
    ) -> Result<Product, ProductWriteError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let result = conn
            .transaction(
                async |conn| -> Result<ProductRow, TxError<ProductWriteError>> {
                    let current: Option<ProductRow> = products::table
                        .find(id)
                        .select(ProductRow::as_select())
                        .for_update()
                        .first(conn)
                        .await
                        .optional()?;
                    let current = current.ok_or(TxError::Op(ProductWriteError::NotFound))?;
                    if expected_version.is_some_and(|v| v != current.version) {
                        return Err(TxError::Op(ProductWriteError::VersionMismatch));
                    }
                    let stock =
                        new_stock(current.stock_quantity, patch.stock).map_err(TxError::Op)?;
                    let description = match &patch.description {
                        Some(d) => d.clone(),
                        None => current.description.clone(),
                    };
                    let image_url = match &patch.image_url {
                        Some(u) => u.clone(),
                        None => current.image_url.clone(),
                    };
                    let updated: ProductRow = diesel::update(products::table.find(id))
                        .set((
                            products::name.eq(patch.name.as_ref().unwrap_or(&current.name)),
                            products::description.eq(description),
                            products::image_url.eq(image_url),
                            products::price.eq(patch.price.unwrap_or(current.price)),
                            products::sku.eq(patch.sku.as_ref().unwrap_or(&current.sku)),
                            products::archived.eq(patch.archived.unwrap_or(current.archived)),
                            products::stock_quantity.eq(stock),
                            products::version.eq(current.version + 1),
                            products::updated_at.eq(diesel::dsl::now),
                        ))
                        .returning(ProductRow::as_returning())
                        .get_result(conn)
                        .await
                        .map_err(|e| match sku_error(e) {
                            ProductWriteError::SkuTaken => TxError::Op(ProductWriteError::SkuTaken),
                            ProductWriteError::Store(s) => TxError::Op(ProductWriteError::Store(s)),
                            other => TxError::Op(other),
                        })?;
                    // Compared under the row lock: exactly what this write changed.
                    let changes = updated_changes(&current, &updated);
                    if let Some(entry) = audit.filter(|_| !changes.is_empty()) {
                        crate::audit::insert(conn, &product_entry(entry, &updated, changes))
                            .await?;
                    }
                    Ok(updated)
                },
            )
            .await;
        result.map(Product::from).map_err(TxError::into_op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern(""), "%%");
    }

    #[test]
    fn stock_changes() {
        assert_eq!(new_stock(5, None), Ok(5));
        assert_eq!(new_stock(5, Some(StockChange::Set(0))), Ok(0));
        assert_eq!(new_stock(5, Some(StockChange::Delta(-5))), Ok(0));
        assert_eq!(
            new_stock(5, Some(StockChange::Delta(-6))),
            Err(ProductWriteError::InsufficientStock { available: 5 })
        );
        assert_eq!(
            new_stock(AMOUNT_MAX, Some(StockChange::Delta(0))),
            Ok(AMOUNT_MAX)
        );
        assert_eq!(
            new_stock(AMOUNT_MAX, Some(StockChange::Delta(1))),
            Err(ProductWriteError::StockOverflow)
        );
    }
}
