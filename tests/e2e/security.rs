//! Security: visibility, RBAC, token forgery, CSRF, brute force, logout on every instance.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{
    JWT_SECRET, PASSWORD, eventually, json_of, order_body, plain_client, spawn_app, spawn_app_with,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn sign(claims: &Value, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn another_customers_order_is_not_found_and_orders_need_a_session() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let placed = alice
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    let id = json_of(placed).await["id"].as_str().unwrap().to_owned();

    for path in [
        format!("/api/orders/{id}"),
        format!("/api/orders/{id}/history"),
    ] {
        let response = bob.get(&app, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json_of(response).await["code"], "not_found");
    }
    let cancel = bob
        .post(&app, &format!("/api/orders/{id}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::NOT_FOUND);
    let bobs = json_of(bob.get(&app, "/api/orders").send().await.unwrap()).await;
    assert!(bobs["items"].as_array().unwrap().is_empty());

    // an admin may read it
    let admin = app.admin().await;
    let response = admin
        .get(&app, &format!("/api/orders/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(response).await["allowed_transitions"],
        json!(["PAID", "CANCELLED"])
    );

    // nobody: 401 on every orders route, before any lookup (even of ids that cannot exist)
    let anonymous = plain_client();
    for (method, path) in [
        ("GET", "/api/orders".to_owned()),
        ("POST", "/api/orders".to_owned()),
        ("GET", format!("/api/orders/{id}")),
        ("GET", "/api/orders/not-a-uuid".to_owned()),
        ("GET", format!("/api/orders/{id}/history")),
        ("POST", format!("/api/orders/{id}/cancel")),
        ("POST", format!("/api/orders/{id}/payment")),
    ] {
        let response = anonymous
            .request(method.parse().unwrap(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(json_of(response).await["code"], "unauthenticated");
    }
}

#[tokio::test]
async fn the_admin_scope_is_401_for_nobody_403_for_customers() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let admin = app.admin().await;
    for path in [
        "/api/admin/orders",
        "/api/admin/products",
        "/api/admin/anything/else",
    ] {
        let nobody = plain_client().get(app.url(path)).send().await.unwrap();
        assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(json_of(nobody).await["code"], "unauthenticated");
        let response = customer.get(&app, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(json_of(response).await["code"], "forbidden");
        let bearer = plain_client()
            .post(app.url(path))
            .bearer_auth(app.bearer(&customer.email).await)
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), StatusCode::FORBIDDEN);
    }
    let response = admin
        .get(&app, "/api/admin/anything/else")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "an admin gets past the guard"
    );
}

#[tokio::test]
async fn forged_tampered_expired_and_foreign_tokens_are_401() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let good = app.bearer(&customer.email).await;
    let me = |token: String| {
        let url = app.url("/api/auth/me");
        async move {
            plain_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(good.clone()).await, StatusCode::OK);

    let claims = json!({"sub": customer.user_id.to_string(), "role": "ADMIN",
        "exp": now() + 600, "iat": now(), "jti": "forged"});
    // tampered: an admin role pasted into a valid token
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(me(tampered).await, StatusCode::UNAUTHORIZED);
    // alg none
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(me(none).await, StatusCode::UNAUTHORIZED);
    // another secret, another algorithm
    assert_eq!(
        me(sign(
            &claims,
            "some-other-secret-some-other-secret!!",
            Algorithm::HS256
        ))
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(sign(&claims, JWT_SECRET, Algorithm::HS384)).await,
        StatusCode::UNAUTHORIZED
    );
    // expired
    let expired = json!({"sub": customer.user_id.to_string(), "role": "CUSTOMER",
        "exp": now() - 10, "iat": now() - 100, "jti": "old"});
    assert_eq!(
        me(sign(&expired, JWT_SECRET, Algorithm::HS256)).await,
        StatusCode::UNAUTHORIZED
    );
    // a missing claim
    let no_jti = json!({"sub": customer.user_id.to_string(), "role": "CUSTOMER",
        "exp": now() + 600, "iat": now()});
    assert_eq!(
        me(sign(&no_jti, JWT_SECRET, Algorithm::HS256)).await,
        StatusCode::UNAUTHORIZED
    );
    // the right secret and every claim: accepted (the forgery checks above are meaningful)
    let valid = json!({"sub": customer.user_id.to_string(), "role": "CUSTOMER",
        "exp": now() + 600, "iat": now(), "jti": "handmade"});
    assert_eq!(
        me(sign(&valid, JWT_SECRET, Algorithm::HS256)).await,
        StatusCode::OK
    );
    // the same forgeries as a cookie
    let cookie = plain_client()
        .get(app.url("/api/auth/me"))
        .header(
            "Cookie",
            format!(
                "oms_session={}",
                sign(&claims, "x".repeat(40).as_str(), Algorithm::HS256)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_writes_need_the_sessions_csrf_token_and_bearer_writes_do_not() {
    let app = spawn_app().await;
    let product = app.product("Widget", 1000, 10).await;
    let alice = app.customer().await;
    let bob = app.customer().await;

    let missing = alice
        .client
        .post(app.url("/api/orders"))
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(missing).await["code"], "csrf_failed");

    let wrong = alice
        .client
        .post(app.url("/api/orders"))
        .header("X-CSRF-Token", "not-the-token")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    // another session's (valid) token does not belong to this session
    let foreign = alice
        .client
        .post(app.url("/api/orders"))
        .header("X-CSRF-Token", &bob.csrf)
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

    let logout = alice
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        logout.status(),
        StatusCode::FORBIDDEN,
        "logout is a write too"
    );

    assert_eq!(app.order_count().await, 0, "nothing written");
    assert_eq!(app.stored_product(product.id).await.stock_quantity, 10);

    let ok = alice
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);

    let token = app.bearer(&alice.email).await;
    let bearer = plain_client()
        .post(app.url("/api/orders"))
        .bearer_auth(&token)
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::CREATED);
    assert_eq!(app.order_count().await, 2);
}

#[tokio::test]
async fn guessing_the_current_password_is_rate_limited_like_a_sign_in() {
    let app = spawn_app_with(|s| s.rate_limits.auth_per_minute = 5).await;
    let customer = app.customer().await; // one of the five
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = customer
            .post(&app, "/api/auth/password")
            .json(&json!({"current_password": "a wrong guess", "new_password": "whatever 1234"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses,
        [
            [StatusCode::FORBIDDEN; 4].as_slice(),
            [StatusCode::TOO_MANY_REQUESTS; 2].as_slice()
        ]
        .concat(),
        "four wrong guesses answered, then 429"
    );
}

#[tokio::test]
async fn login_brute_force_is_rate_limited() {
    let app = spawn_app_with(|s| s.rate_limits.auth_per_minute = 5).await;
    let customer = app.customer().await; // one of the five
    let client = plain_client();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response = client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": customer.email, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry_after >= 1);
            assert_eq!(json_of(response).await["code"], "rate_limited");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        4,
        "{statuses:?}"
    );
    assert!(
        statuses[4..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS)
    );
    // even the right password waits now
    let right = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": customer.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    // other routes are not limited by the auth limit
    let products = client.get(app.url("/api/products")).send().await.unwrap();
    assert_eq!(products.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_email_and_wrong_password_answer_the_same() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let attempt = |email: String, password: &'static str| {
        let url = app.url("/api/auth/login");
        async move {
            let response = plain_client()
                .post(url)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            (response.status(), json_of(response).await)
        }
    };
    let (s1, b1) = attempt(customer.email.clone(), "wrong-password").await;
    let (s2, b2) = attempt("nobody@example.com".into(), "wrong-password").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(b1["code"], "invalid_credentials");
}

#[tokio::test]
async fn after_logout_the_token_is_refused_by_every_instance() {
    let first = spawn_app().await;
    let second = first.second_instance().await;
    let customer = first.customer().await;
    let token = first.bearer(&customer.email).await;
    let status_on = |base: String, token: String| async move {
        plain_client()
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        status_on(second.base.clone(), token.clone()).await,
        StatusCode::OK
    );

    let out = plain_client()
        .post(first.url("/api/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_on(first.base.clone(), token.clone()).await,
        StatusCode::UNAUTHORIZED
    );

    // the second instance hears it over LISTEN/NOTIFY
    eventually(
        "the second instance to refuse the token",
        Duration::from_secs(10),
        async || {
            let status = status_on(second.base.clone(), token.clone()).await;
            (status == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
    // an instance started later loads it at start-up
    let third = first.second_instance().await;
    assert_eq!(
        status_on(third.base.clone(), token.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    // other sessions of the same user are unaffected
    let other = first.bearer(&customer.email).await;
    assert_eq!(status_on(second.base.clone(), other).await, StatusCode::OK);
}

#[tokio::test]
async fn no_answer_ever_carries_a_password_hash() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let token = app.bearer(&customer.email).await;
    // every body goes through json_of, which fails on a hash
    for path in ["/api/auth/me", "/api/orders", "/api/products"] {
        json_of(customer.get(&app, path).send().await.unwrap()).await;
        json_of(
            plain_client()
                .get(app.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
    }
    let login = plain_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": customer.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body = json_of(login).await;
    assert!(body["user"].get("password").is_none());
    let openapi = plain_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    json_of(openapi).await;
}

#[tokio::test]
async fn order_placement_is_limited_per_user() {
    let app = spawn_app_with(|s| s.rate_limits.orders_per_minute = 2).await;
    let product = app.product("Widget", 100, 100).await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = alice
            .post(&app, "/api/orders")
            .json(&order_body(product.id, 1))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(json_of(response).await["code"], "rate_limited");
        }
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(
        app.order_count().await,
        2,
        "the refused request wrote nothing"
    );
    // reading is not placing, and another user has their own allowance
    let list = alice.get(&app, "/api/orders").send().await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let bobs = bob
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn other_routes_are_limited_per_address_with_a_burst_of_twice_the_rate() {
    let app = spawn_app_with(|s| s.rate_limits.api_per_second = 1).await;
    let client = plain_client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            client
                .get(app.url("/api/products"))
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(
        &statuses[..2],
        [StatusCode::OK, StatusCode::OK],
        "a burst of 2"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let limited = client.get(app.url("/api/products")).send().await.unwrap();
    if limited.status() == StatusCode::TOO_MANY_REQUESTS {
        assert!(limited.headers().contains_key("retry-after"));
        assert!(limited.headers().contains_key("x-request-id"));
        assert_eq!(json_of(limited).await["code"], "rate_limited");
    }
    for _ in 0..5 {
        let health = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "health checks are never limited"
        );
    }
}
