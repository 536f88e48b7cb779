//! The catalogue: browsing products, and the admin's product management.

use domain::ValidationErrors;
use domain::product::{validate_new_product, validate_product_patch};
use ports::audit::{action, target};
use ports::{AuditContext, AuditTarget, Product, ProductQuery, ProductWriteError, StoreError};

pub use domain::product::{NewProductInput, ProductPatchInput};

use crate::Deps;
use crate::paging::{self, Page};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetProductError {
    /// No such product, or it is archived and archived products were not asked for.
    #[error("product not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why creating, updating or archiving a product failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductCommandError {
    #[error("product not found")]
    NotFound,
    /// Fields `name`, `description`, `price`, `stock_quantity`, `stock_delta`, `sku`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// Another product has this sku (case-insensitively).
    #[error("sku taken")]
    SkuTaken,
    /// A `stock_delta` would take stock below 0.
    #[error("insufficient stock: {available} available")]
    InsufficientStock { available: i64 },
    /// A `stock_delta` would take stock above 2,147,483,647 (the API answers 422).
    #[error("stock would exceed the maximum")]
    StockOverflow,
    /// `If-Match` named another version than the product's.
    #[error("the product changed meanwhile")]
    PreconditionFailed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProductWriteError> for ProductCommandError {
    fn from(error: ProductWriteError) -> Self {
        match error {
            ProductWriteError::NotFound => ProductCommandError::NotFound,
            ProductWriteError::SkuTaken => ProductCommandError::SkuTaken,
            ProductWriteError::InsufficientStock { available } => {
                ProductCommandError::InsufficientStock { available }
            }
            ProductWriteError::StockOverflow => ProductCommandError::StockOverflow,
            ProductWriteError::VersionMismatch => ProductCommandError::PreconditionFailed,
            ProductWriteError::Store(e) => ProductCommandError::Store(e),
        }
    }
}

/// Products, for everyone (active ones) and for admins (archived ones too, and changes).
#[derive(Clone)]
pub struct CatalogueService {
    pub deps: Deps,
}

impl CatalogueService {
    pub fn new(deps: Deps) -> CatalogueService {
        CatalogueService { deps }
    }

    /// Products by id ascending after `after`; `q` matches name or sku (case-insensitively);
    /// `next` is the id of the last product when more exist.
    #[tracing::instrument(skip(self))]
    pub async fn list_products(
        &self,
        q: Option<String>,
        include_archived: bool,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<Product, i64>, StoreError> {
        let query = ProductQuery {
            q: q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
            include_archived,
            after_id: after,
            limit: paging::rows_to_fetch(limit),
        };
        let rows = self.deps.products.list(&query).await?;
        Ok(Page::from_rows(rows, limit, |p| p.id))
    }

    /// One product; an archived one only with `include_archived` (an admin), else `NotFound`.
    #[tracing::instrument(skip(self))]
    pub async fn get_product(
        &self,
        id: i64,
        include_archived: bool,
    ) -> Result<Product, GetProductError> {
        match self.deps.products.get(id).await? {
            Some(product) if include_archived || !product.archived => Ok(product),
            _ => Err(GetProductError::NotFound),
        }
    }

    /// Creates a product; its `product.created` entry (every stored field) is stored with it.
    #[tracing::instrument(skip_all)]
    pub async fn create_product(
        &self,
        input: &NewProductInput,
        audit: &AuditContext,
    ) -> Result<Product, ProductCommandError> {
        let product = validate_new_product(input)?;
        // The store names the new product as the target.
        let entry = audit.entry(action::PRODUCT_CREATED, None);
        let created = self.deps.products.create(&product, Some(entry)).await?;
        tracing::info!(product_id = created.id, "product created");
        Ok(created)
    }

    /// Applies a partial update; with `expected_version` (`If-Match`) only if the product still
    /// has that version. Its `product.updated` entry (the fields that changed) is stored with it.
    #[tracing::instrument(skip(self, input, audit))]
    pub async fn update_product(
        &self,
        id: i64,
        input: &ProductPatchInput,
        expected_version: Option<i64>,
        audit: &AuditContext,
    ) -> Result<Product, ProductCommandError> {
        let patch = validate_product_patch(input)?;
        let entry = audit.entry(action::PRODUCT_UPDATED, Some(product_target(id)));
        Ok(self
            .deps
            .products
            .update(id, &patch, expected_version, Some(entry))
            .await?)
    }

    /// Archives the product (orders keep pointing at it). Archiving twice is fine (the second
    /// time changes nothing, so it records no `product.archived` entry).
    #[tracing::instrument(skip(self, audit))]
    pub async fn archive_product(
        &self,
        id: i64,
        audit: &AuditContext,
    ) -> Result<(), ProductCommandError> {
        let patch = domain::product::ProductPatch {
            archived: Some(true),
            ..Default::default()
        };
        let entry = audit.entry(action::PRODUCT_ARCHIVED, Some(product_target(id)));
        self.deps
            .products
            .update(id, &patch, None, Some(entry))
            .await?;
        Ok(())
    }
}

fn product_target(id: i64) -> AuditTarget {
    AuditTarget::new(target::PRODUCT, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{ADMIN, Mocks, audit_context, product};
    use domain::product::{ProductPatch, StockChange};
    use mockall::predicate::{always, eq};
    use ports::AuditEntry;

    fn service(mocks: Mocks) -> CatalogueService {
        CatalogueService::new(mocks.into_deps())
    }

    #[tokio::test]
    async fn list_asks_for_one_more_row_and_gives_a_cursor_when_it_comes() {
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_list()
            .withf(|q| {
                q.limit == 3
                    && q.after_id == Some(10)
                    && q.q.as_deref() == Some("wid")
                    && !q.include_archived
            })
            .times(1)
            .returning(|_| Ok(vec![product(11), product(12), product(13)]));
        let page = service(mocks)
            .list_products(Some(" wid ".into()), false, Some(10), 2)
            .await
            .expect("page");
        assert_eq!(
            page.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            [11, 12]
        );
        assert_eq!(page.next, Some(12));
    }

    #[tokio::test]
    async fn last_page_has_no_cursor_and_empty_q_means_none() {
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_list()
            .withf(|q| q.limit == 51 && q.q.is_none() && q.include_archived)
            .returning(|_| Ok(vec![product(1)]));
        let page = service(mocks)
            .list_products(Some("  ".into()), true, None, 50)
            .await
            .expect("page");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn get_product_hides_archived_ones_unless_asked() {
        let mut mocks = Mocks::new();
        mocks.products.expect_get().with(eq(1)).returning(|id| {
            Ok(Some(Product {
                archived: true,
                ..product(id)
            }))
        });
        mocks
            .products
            .expect_get()
            .with(eq(2))
            .returning(|_| Ok(None));
        let catalogue = service(mocks);
        assert_eq!(
            catalogue.get_product(1, false).await,
            Err(GetProductError::NotFound)
        );
        assert!(
            catalogue
                .get_product(1, true)
                .await
                .expect("admin")
                .archived
        );
        assert_eq!(
            catalogue.get_product(2, true).await,
            Err(GetProductError::NotFound)
        );
    }

    fn new_input() -> NewProductInput {
        NewProductInput {
            name: " Widget ".into(),
            description: None,
            price: 1999,
            stock_quantity: 3,
            sku: "WID-1".into(),
            image_url: None,
        }
    }

    #[tokio::test]
    async fn create_product_validates_then_creates() {
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_create()
            .withf(|p, _| p.name == "Widget" && p.sku == "WID-1")
            .times(1)
            .returning(|_, _| Ok(product(5)));
        assert_eq!(
            service(mocks)
                .create_product(&new_input(), &audit_context())
                .await
                .expect("created")
                .id,
            5
        );
    }

    #[tokio::test]
    async fn create_product_failures() {
        let bad = NewProductInput {
            price: -1,
            sku: "x".into(),
            ..new_input()
        };
        match service(Mocks::new())
            .create_product(&bad, &audit_context())
            .await
        {
            Err(ProductCommandError::Validation(e)) => assert_eq!(
                e.0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                ["price", "sku"]
            ),
            other => panic!("expected validation, got {other:?}"),
        }
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_create()
            .returning(|_, _| Err(ProductWriteError::SkuTaken));
        assert_eq!(
            service(mocks)
                .create_product(&new_input(), &audit_context())
                .await,
            Err(ProductCommandError::SkuTaken)
        );
    }

    #[tokio::test]
    async fn update_product_passes_the_patch_and_version() {
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_update()
            .with(
                eq(5),
                eq(ProductPatch {
                    stock: Some(StockChange::Delta(-2)),
                    ..Default::default()
                }),
                eq(Some(4)),
                always(),
            )
            .times(1)
            .returning(|id, _, _, _| Ok(product(id)));
        let input = ProductPatchInput {
            stock_delta: Some(-2),
            ..Default::default()
        };
        assert!(
            service(mocks)
                .update_product(5, &input, Some(4), &audit_context())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn update_product_maps_each_store_refusal() {
        let cases = [
            (ProductWriteError::NotFound, ProductCommandError::NotFound),
            (ProductWriteError::SkuTaken, ProductCommandError::SkuTaken),
            (
                ProductWriteError::InsufficientStock { available: 1 },
                ProductCommandError::InsufficientStock { available: 1 },
            ),
            (
                ProductWriteError::StockOverflow,
                ProductCommandError::StockOverflow,
            ),
            (
                ProductWriteError::VersionMismatch,
                ProductCommandError::PreconditionFailed,
            ),
            (
                ProductWriteError::Store(StoreError::Unavailable("down".into())),
                ProductCommandError::Store(StoreError::Unavailable("down".into())),
            ),
        ];
        for (refusal, expected) in cases {
            let mut mocks = Mocks::new();
            mocks
                .products
                .expect_update()
                .returning(move |_, _, _, _| Err(refusal.clone()));
            let input = ProductPatchInput {
                stock_delta: Some(-9),
                ..Default::default()
            };
            assert_eq!(
                service(mocks)
                    .update_product(5, &input, None, &audit_context())
                    .await,
                Err(expected)
            );
        }
    }

    #[tokio::test]
    async fn update_product_both_stock_fields_is_a_validation_error() {
        let input = ProductPatchInput {
            stock_quantity: Some(1),
            stock_delta: Some(1),
            ..Default::default()
        };
        match service(Mocks::new())
            .update_product(5, &input, None, &audit_context())
            .await
        {
            Err(ProductCommandError::Validation(e)) => assert_eq!(e.0[0].field, "stock_delta"),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn archive_sets_archived_and_reports_not_found() {
        let mut mocks = Mocks::new();
        mocks
            .products
            .expect_update()
            .with(
                eq(5),
                eq(ProductPatch {
                    archived: Some(true),
                    ..Default::default()
                }),
                eq(None),
                always(),
            )
            .times(2)
            .returning(|id, _, _, _| {
                Ok(Product {
                    archived: true,
                    ..product(id)
                })
            });
        mocks
            .products
            .expect_update()
            .with(eq(6), always(), always(), always())
            .returning(|_, _, _, _| Err(ProductWriteError::NotFound));
        let catalogue = service(mocks);
        let ctx = audit_context();
        assert_eq!(catalogue.archive_product(5, &ctx).await, Ok(()));
        assert_eq!(catalogue.archive_product(5, &ctx).await, Ok(()));
        assert_eq!(
            catalogue.archive_product(6, &ctx).await,
            Err(ProductCommandError::NotFound)
        );
    }

    /// The entry every product write hands its store: this request's actor, id and address,
    /// the action, and the target where the use case knows it (the store adds the changes).
    fn expected_entry(action: &str, target: Option<i64>) -> AuditEntry {
        AuditEntry {
            action: action.to_owned(),
            actor: Some(ADMIN),
            target: target.map(|id| AuditTarget::new("product", id)),
            changes: None,
            request_id: Some("req-audit".into()),
            client_ip: Some("203.0.113.9".into()),
        }
    }

    #[tokio::test]
    async fn create_product_passes_its_audit_entry_to_the_store() {
        let mut mocks = Mocks::new();
        let expected = expected_entry("product.created", None);
        mocks
            .products
            .expect_create()
            .withf(move |_, audit| audit.as_ref() == Some(&expected))
            .times(1)
            .returning(|_, _| Ok(product(5)));
        service(mocks)
            .create_product(&new_input(), &audit_context())
            .await
            .expect("created");
    }

    #[tokio::test]
    async fn update_product_passes_its_audit_entry_to_the_store() {
        let mut mocks = Mocks::new();
        let expected = expected_entry("product.updated", Some(5));
        mocks
            .products
            .expect_update()
            .withf(move |id, _, _, audit| *id == 5 && audit.as_ref() == Some(&expected))
            .times(1)
            .returning(|id, _, _, _| Ok(product(id)));
        let input = ProductPatchInput {
            price: Some(1200),
            ..Default::default()
        };
        service(mocks)
            .update_product(5, &input, None, &audit_context())
            .await
            .expect("updated");
    }

    #[tokio::test]
    async fn archive_product_passes_its_audit_entry_to_the_store() {
        let mut mocks = Mocks::new();
        let expected = expected_entry("product.archived", Some(5));
        mocks
            .products
            .expect_update()
            .withf(move |id, _, _, audit| *id == 5 && audit.as_ref() == Some(&expected))
            .times(1)
            .returning(|id, _, _, _| Ok(product(id)));
        service(mocks)
            .archive_product(5, &audit_context())
            .await
            .expect("archived");
    }

    #[tokio::test]
    async fn an_invalid_product_write_reaches_no_store_and_records_nothing() {
        // No expectation on the products or the audit log: any call would panic.
        let bad = ProductPatchInput {
            price: Some(-1),
            ..Default::default()
        };
        assert!(matches!(
            service(Mocks::new())
                .update_product(5, &bad, None, &audit_context())
                .await,
            Err(ProductCommandError::Validation(_))
        ));
    }
}
