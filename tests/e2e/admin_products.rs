//! `/api/admin/products`: create, read, partial update, stock deltas, `If-Match`, duplicate skus,
//! archive and un-archive, and the list.

use e2e::{Session, TestApp, json_of, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_support::{delete, get_json, patch, problem};

async fn create(app: &TestApp, admin: &Session, body: Value) -> reqwest::Response {
    admin
        .post(app, "/api/admin/products")
        .json(&body)
        .send()
        .await
        .expect("create")
}

fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("ETag")
        .to_owned()
}

#[tokio::test]
async fn create_read_update_and_refusals() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let response = create(
        &app,
        &admin,
        json!({"name": " Desk Lamp ", "description": "Warm light.\nDimmable.", "price": 5400,
               "stock_quantity": 10, "sku": "LMP-1"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let created_etag = etag_of(&response);
    let product = json_of(response).await;
    let id = product["id"].as_i64().expect("id");
    assert_eq!(location, format!("/api/admin/products/{id}"));
    assert_eq!(product["name"], "Desk Lamp");
    assert_eq!(product["description"], "Warm light.\nDimmable.");
    assert_eq!(product["archived"], false);
    assert_eq!(product["stock_quantity"], 10);

    let got = admin.get(&app, &location).send().await.expect("get");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(etag_of(&got), created_etag);
    assert_eq!(json_of(got).await, product);

    // the sku is unique case-insensitively
    let dup = create(
        &app,
        &admin,
        json!({"name": "Other", "price": 1, "stock_quantity": 1, "sku": "lmp-1"}),
    )
    .await;
    assert_eq!(
        problem(dup, StatusCode::CONFLICT).await["code"],
        "sku_taken"
    );

    // bad creations name their fields
    for (body, field) in [
        (
            json!({"name": "", "price": 1, "stock_quantity": 1, "sku": "OK-1"}),
            "name",
        ),
        (
            json!({"name": "A", "price": -1, "stock_quantity": 1, "sku": "OK-1"}),
            "price",
        ),
        (
            json!({"name": "A", "price": 1, "stock_quantity": 2147483648i64, "sku": "OK-1"}),
            "stock_quantity",
        ),
        (
            json!({"name": "A", "price": 1, "stock_quantity": 1, "sku": "no spaces"}),
            "sku",
        ),
        (json!({"name": "A", "price": 1, "stock_quantity": 1}), "sku"),
        (
            json!({"name": "A", "price": 1, "stock_quantity": 1, "sku": "OK-1", "colour": "red"}),
            "colour",
        ),
        (
            json!({"name": "A", "price": "1", "stock_quantity": 1, "sku": "OK-1"}),
            "price",
        ),
    ] {
        let body = problem(
            create(&app, &admin, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }

    // a partial update: only what is sent changes; description null clears it
    let path = format!("/api/admin/products/{id}");
    let response = patch(&admin, &app, &path)
        .header("If-Match", &created_etag)
        .json(&json!({"name": "Desk Lamp II", "description": null, "price": 5900}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);
    let after_rename = etag_of(&response);
    assert_ne!(after_rename, created_etag);
    let updated = json_of(response).await;
    assert_eq!(updated["name"], "Desk Lamp II");
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["price"], 5900);
    assert_eq!(updated["sku"], "LMP-1");
    assert_eq!(updated["stock_quantity"], 10);

    // a stale If-Match: 412, nothing changes (an absolute stock write cannot undo a sale unseen)
    let stale = patch(&admin, &app, &path)
        .header("If-Match", &created_etag)
        .json(&json!({"stock_quantity": 99}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        problem(stale, StatusCode::PRECONDITION_FAILED).await["code"],
        "precondition_failed"
    );
    assert_eq!(app.stored_product(id).await.stock_quantity, 10);

    // deltas add atomically and never go below 0
    let response = patch(&admin, &app, &path)
        .json(&json!({"stock_delta": -4}))
        .send()
        .await
        .expect("patch");
    assert_eq!(json_of(response).await["stock_quantity"], 6);
    let response = patch(&admin, &app, &path)
        .json(&json!({"stock_delta": -7}))
        .send()
        .await
        .expect("patch");
    let body = problem(response, StatusCode::CONFLICT).await;
    assert_eq!(body["code"], "insufficient_stock");
    assert_eq!(body["errors"][0]["available"], 6);
    let response = patch(&admin, &app, &path)
        .json(&json!({"stock_delta": 5}))
        .send()
        .await
        .expect("patch");
    assert_eq!(json_of(response).await["stock_quantity"], 11);
    let response = patch(&admin, &app, &path)
        .json(&json!({"stock_quantity": 3}))
        .send()
        .await
        .expect("patch");
    assert_eq!(json_of(response).await["stock_quantity"], 3);

    // refused updates
    for (body, field) in [
        (
            json!({"stock_quantity": 1, "stock_delta": 1}),
            "stock_delta",
        ),
        (json!({"name": null}), "name"),
        (json!({"price": null}), "price"),
        (json!({"sku": null}), "sku"),
        (json!({"stock_delta": null}), "stock_delta"),
        (json!({"archived": "yes"}), "archived"),
        (json!({"colour": "red"}), "colour"),
        (json!({"stock_delta": 2147483647}), "stock_delta"),
    ] {
        let response = patch(&admin, &app, &path)
            .json(&body)
            .send()
            .await
            .expect("patch");
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let other = create(
        &app,
        &admin,
        json!({"name": "Other", "price": 1, "stock_quantity": 1, "sku": "OTHER-1"}),
    )
    .await;
    assert_eq!(other.status(), StatusCode::CREATED);
    let response = patch(&admin, &app, &path)
        .json(&json!({"sku": "other-1"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(
        problem(response, StatusCode::CONFLICT).await["code"],
        "sku_taken"
    );
    assert_eq!(
        app.stored_product(id).await.stock_quantity,
        3,
        "nothing changed"
    );

    // ids that do not exist or cannot exist
    for path in ["/api/admin/products/999999", "/api/admin/products/abc"] {
        let (status, _) = get_json(&admin, &app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let response = patch(&admin, &app, path)
            .json(&json!({"price": 1}))
            .send()
            .await
            .expect("patch");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let response = delete(&admin, &app, path).send().await.expect("delete");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn archive_and_unarchive() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = app.product("Candle", 1900, 5).await;
    let path = format!("/api/admin/products/{}", product.id);
    let public = format!("/api/products/{}", product.id);
    let anyone = plain_client();

    for _ in 0..2 {
        let response = delete(&admin, &app, &path).send().await.expect("delete");
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "archiving twice is fine"
        );
    }
    let response = anyone.get(app.url(&public)).send().await.expect("get");
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "customers no longer see it"
    );
    let (status, body) = get_json(&admin, &app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["archived"], true);

    let (_, active) = get_json(&admin, &app, "/api/admin/products").await;
    assert!(active["items"].as_array().expect("items").is_empty());
    let (_, all) = get_json(&admin, &app, "/api/admin/products?include_archived=true").await;
    assert_eq!(all["items"][0]["id"], product.id);
    assert_eq!(all["items"][0]["archived"], true);
    let (status, _) = get_json(&admin, &app, "/api/admin/products?include_archived=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let response = patch(&admin, &app, &path)
        .json(&json!({"archived": false}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["archived"], false);
    let response = anyone.get(app.url(&public)).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK, "on sale again");
    let body = json_of(response).await;
    assert!(
        body.get("archived").is_none(),
        "the public view has no `archived`"
    );
}

#[tokio::test]
async fn the_list_pages_by_id_and_searches() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut made = Vec::new();
    for name in ["Blue Mug", "Red Mug", "Teapot", "Mug_Rack", "Spoon"] {
        made.push(app.product(name, 100, 1).await.id);
    }
    let mut seen = Vec::new();
    let mut url = "/api/admin/products?limit=2".to_owned();
    loop {
        let (status, page) = get_json(&admin, &app, &url).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["items"].as_array().expect("items") {
            assert_eq!(item["archived"], false);
            seen.push(item["id"].as_i64().expect("id"));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("/api/admin/products?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let (_, page) = get_json(&admin, &app, "/api/admin/products?q=mug").await;
    assert_eq!(page["items"].as_array().expect("items").len(), 3);
    let (_, page) = get_json(&admin, &app, "/api/admin/products?q=g_r").await;
    assert_eq!(page["items"][0]["name"], "Mug_Rack");
    assert_eq!(
        page["items"].as_array().expect("items").len(),
        1,
        "_ matches itself"
    );
    for bad in ["limit=0", "limit=201", "cursor=forged"] {
        let (status, _) = get_json(&admin, &app, &format!("/api/admin/products?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn image_url_is_set_checked_cleared_and_shown_in_every_product_json() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let response = create(
        &app,
        &admin,
        json!({"name": "Lamp", "price": 5400, "stock_quantity": 10, "sku": "IMG-1",
               "image_url": " /images/lamp.svg "}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let product = json_of(response).await;
    let id = product["id"].as_i64().expect("id");
    assert_eq!(product["image_url"], "/images/lamp.svg");
    let admin_path = format!("/api/admin/products/{id}");
    let public_path = format!("/api/products/{id}");

    // public answers carry it too, one product and the list
    let public = json_of(
        plain_client()
            .get(app.url(&public_path))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(public["image_url"], "/images/lamp.svg");
    assert!(public.get("archived").is_none());
    let (_, list) = get_json(&admin, &app, "/api/products").await;
    assert_eq!(list["items"][0]["image_url"], "/images/lamp.svg");

    // without it (or with "" or null) there is none, and the member is still there as null
    for (sku, extra) in [
        ("IMG-2", None),
        ("IMG-3", Some(json!(""))),
        ("IMG-4", Some(Value::Null)),
    ] {
        let mut body = json!({"name": "Mug", "price": 100, "stock_quantity": 1, "sku": sku});
        if let Some(value) = extra {
            body["image_url"] = value;
        }
        let response = create(&app, &admin, body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{sku}");
        let created = json_of(response).await;
        assert!(created.get("image_url").expect("member").is_null(), "{sku}");
    }

    // refused values name the field, on create and on PATCH, and change nothing
    let longest = format!("https://cdn.example.com/{}", "a".repeat(2048 - 24));
    assert_eq!(longest.len(), 2048);
    for bad in [
        json!("http://cdn.example.com/lamp.png"),
        json!("//cdn.example.com/lamp.png"),
        json!("images/lamp.svg"),
        json!("javascript:alert(1)"),
        json!("https://user:pw@cdn.example.com/a.png"),
        json!("/images/a b.svg"),
        json!(format!("{longest}a")),
        json!(12),
    ] {
        let response = create(
            &app,
            &admin,
            json!({"name": "Bad", "price": 1, "stock_quantity": 1, "sku": "IMG-BAD",
                   "image_url": bad}),
        )
        .await;
        let problem = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["code"], "validation_failed", "{bad}");
        if bad.is_string() {
            assert_eq!(problem["errors"][0]["field"], "image_url", "{bad}");
        }
        let response = patch(&admin, &app, &admin_path)
            .json(&json!({"image_url": bad}))
            .send()
            .await
            .expect("patch");
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "PATCH {bad}"
        );
    }
    let (_, unchanged) = get_json(&admin, &app, &admin_path).await;
    assert_eq!(unchanged["image_url"], "/images/lamp.svg");

    // PATCH sets it (2,048 characters are allowed), absent keeps it, null and "" clear it
    let response = patch(&admin, &app, &admin_path)
        .json(&json!({"image_url": longest}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["image_url"], longest.as_str());
    let response = patch(&admin, &app, &admin_path)
        .json(&json!({"price": 5500}))
        .send()
        .await
        .expect("patch");
    assert_eq!(json_of(response).await["image_url"], longest.as_str());
    let response = patch(&admin, &app, &admin_path)
        .json(&json!({"image_url": null}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(json_of(response).await["image_url"].is_null());
    for value in [json!("https://cdn.example.com/lamp.png"), json!("")] {
        let response = patch(&admin, &app, &admin_path)
            .json(&json!({"image_url": value}))
            .send()
            .await
            .expect("patch");
        assert_eq!(response.status(), StatusCode::OK);
        let patched = json_of(response).await;
        if value == "" {
            assert!(patched["image_url"].is_null());
        } else {
            assert_eq!(patched["image_url"], value);
        }
    }
    let public = json_of(
        plain_client()
            .get(app.url(&public_path))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(public["image_url"].is_null());
}
