use domain::product::{AMOUNT_MAX, NewProduct, ProductPatch, StockChange};
use ports::{ProductQuery, ProductRepository, ProductWriteError};

use crate::support::{Ctx, ctx};

fn query(limit: u32) -> ProductQuery {
    ProductQuery {
        q: None,
        include_archived: false,
        after_id: None,
        limit,
    }
}

#[tokio::test]
async fn create_and_get() {
    let c = ctx().await;
    let p = c
        .products
        .create(
            &NewProduct {
                name: "Widget".into(),
                description: Some("A widget.\nThe best.".into()),
                price: 1999,
                stock_quantity: 10,
                sku: "WID-1".into(),
                image_url: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(p.name, "Widget");
    assert_eq!(p.description.as_deref(), Some("A widget.\nThe best."));
    assert_eq!((p.price, p.stock_quantity, p.version), (1999, 10, 1));
    assert!(!p.archived);
    assert_eq!(c.products.get(p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(c.products.get(p.id + 1).await.unwrap(), None);
}

#[tokio::test]
async fn list_pages_by_id_and_hides_archived() {
    let c = ctx().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(c.product(&format!("SKU-{i}"), 100, 1).await.id);
    }
    c.products
        .update(
            ids[1],
            &ProductPatch {
                archived: Some(true),
                ..Default::default()
            },
            None,
            None,
        )
        .await
        .unwrap();

    let first = c.products.list(&query(2)).await.unwrap();
    assert_eq!(
        first.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    let second = c
        .products
        .list(&ProductQuery {
            after_id: Some(ids[2]),
            ..query(2)
        })
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[3], ids[4]]
    );
    let empty = c
        .products
        .list(&ProductQuery {
            after_id: Some(ids[4]),
            ..query(2)
        })
        .await
        .unwrap();
    assert!(empty.is_empty());

    let all = c
        .products
        .list(&ProductQuery {
            include_archived: true,
            ..query(10)
        })
        .await
        .unwrap();
    assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), ids);
    assert!(all[1].archived);
}

#[tokio::test]
async fn q_matches_name_or_sku_with_wildcards_literal() {
    let c = ctx().await;
    let names = [
        ("50% off", "AAA-1"),
        ("50 off", "AAA-2"),
        ("a_b", "AAA-3"),
        ("axb", "AAA-4"),
        ("back\\slash", "AAA-5"),
        ("Plain", "zz_special"),
    ];
    for (name, sku) in names {
        c.products
            .create(
                &NewProduct {
                    name: name.into(),
                    description: None,
                    price: 1,
                    stock_quantity: 1,
                    sku: sku.into(),
                    image_url: None,
                },
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(find(&c, "%").await, ["50% off"]);
    assert_eq!(find(&c, "_").await, ["Plain", "a_b"]);
    assert_eq!(find(&c, "\\").await, ["back\\slash"]);
    assert_eq!(find(&c, "50").await, ["50 off", "50% off"]);
    // Case-insensitive on name and on sku.
    assert_eq!(find(&c, "PLAIN").await, ["Plain"]);
    assert_eq!(find(&c, "ZZ_SPEC").await, ["Plain"]);
    assert_eq!(find(&c, "aaa-4").await, ["axb"]);
    assert!(find(&c, "nothing").await.is_empty());
}

#[tokio::test]
async fn sku_is_unique_case_insensitively() {
    let c = ctx().await;
    c.product("ABC-1", 1, 1).await;
    let other = c.product("ABC-2", 1, 1).await;
    let err = c
        .products
        .create(
            &NewProduct {
                name: "x".into(),
                description: None,
                price: 1,
                stock_quantity: 1,
                sku: "abc-1".into(),
                image_url: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::SkuTaken);
    let err = c
        .products
        .update(
            other.id,
            &ProductPatch {
                sku: Some("Abc-1".into()),
                ..Default::default()
            },
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::SkuTaken);
    // Changing the case of its own sku is fine.
    let renamed = c
        .products
        .update(
            other.id,
            &ProductPatch {
                sku: Some("abc-2".into()),
                ..Default::default()
            },
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(renamed.sku, "abc-2");
}

#[tokio::test]
async fn update_applies_the_patch_and_bumps_the_version() {
    let c = ctx().await;
    let p = c
        .products
        .create(
            &NewProduct {
                name: "Widget".into(),
                description: Some("old".into()),
                price: 100,
                stock_quantity: 10,
                sku: "W-1".into(),
                image_url: None,
            },
            None,
        )
        .await
        .unwrap();
    let updated = c
        .products
        .update(
            p.id,
            &ProductPatch {
                name: Some("Gadget".into()),
                description: Some(None),
                price: Some(250),
                stock: Some(StockChange::Delta(-4)),
                ..Default::default()
            },
            Some(p.version),
            None,
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Gadget");
    assert_eq!(updated.description, None);
    assert_eq!((updated.price, updated.stock_quantity), (250, 6));
    assert_eq!(updated.sku, "W-1");
    assert_eq!(updated.version, p.version + 1);
    assert!(updated.updated_at >= p.updated_at);

    // An empty patch keeps everything but still counts as a change.
    let same = c
        .products
        .update(p.id, &ProductPatch::default(), None, None)
        .await
        .unwrap();
    assert_eq!(
        (same.name.as_str(), same.price, same.stock_quantity),
        ("Gadget", 250, 6)
    );
    assert_eq!(same.version, updated.version + 1);

    // A stale version is refused and changes nothing.
    let err = c
        .products
        .update(
            p.id,
            &ProductPatch {
                stock: Some(StockChange::Set(0)),
                ..Default::default()
            },
            Some(p.version),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::VersionMismatch);
    assert_eq!(c.stock(p.id).await, 6);

    let set = c
        .products
        .update(
            p.id,
            &ProductPatch {
                stock: Some(StockChange::Set(42)),
                ..Default::default()
            },
            Some(same.version),
            None,
        )
        .await
        .unwrap();
    assert_eq!(set.stock_quantity, 42);
}

#[tokio::test]
async fn stock_delta_bounds() {
    let c = ctx().await;
    let p = c.product("D-1", 1, 5).await;
    let delta = |d: i64| ProductPatch {
        stock: Some(StockChange::Delta(d)),
        ..Default::default()
    };
    let err = c
        .products
        .update(p.id, &delta(-6), None, None)
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::InsufficientStock { available: 5 });
    assert_eq!(c.stock(p.id).await, 5);
    assert_eq!(
        c.products
            .update(p.id, &delta(-5), None, None)
            .await
            .unwrap()
            .stock_quantity,
        0
    );
    assert_eq!(
        c.products
            .update(p.id, &delta(AMOUNT_MAX), None, None)
            .await
            .unwrap()
            .stock_quantity,
        AMOUNT_MAX
    );
    let err = c
        .products
        .update(p.id, &delta(1), None, None)
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::StockOverflow);
    let err = c
        .products
        .update(p.id + 99, &delta(1), None, None)
        .await
        .unwrap_err();
    assert_eq!(err, ProductWriteError::NotFound);
}

#[tokio::test]
async fn concurrent_deltas_are_all_applied() {
    let c = ctx().await;
    let p = c.product("C-1", 1, 0).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let products = c.products.clone();
        tasks.push(tokio::spawn(async move {
            products
                .update(
                    p.id,
                    &ProductPatch {
                        stock: Some(StockChange::Delta(3)),
                        ..Default::default()
                    },
                    None,
                    None,
                )
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(c.stock(p.id).await, 120);
    assert_eq!(c.products.get(p.id).await.unwrap().unwrap().version, 41);
}

async fn find(c: &Ctx, q: &str) -> Vec<String> {
    let mut found: Vec<String> = c
        .products
        .list(&ProductQuery {
            q: Some(q.to_owned()),
            ..query(50)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    found.sort();
    found
}
