//! Admin customers and account security: the list and detail, disabling and demoting (every token
//! of the user refused on every instance within a second, their real-time connections closed
//! 1008), `account_disabled`, `cannot_change_self`, `last_admin` under two admins racing, `If-Match`,
//! password changes, and the audit entries of security events.

use std::time::Duration;

use adapters_postgres::CUSTOMER_LOCK_KEY;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::{PASSWORD, Session, TestApp, count, eventually, json_of, plain_client, spawn_app};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, ETAG, IF_MATCH, SET_COOKIE};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::admin_support::{get_json, patch, problem};
use crate::realtime::{Ws, ws_connect};

/// How long a revocation may take to reach another instance.
const WITHIN: Duration = Duration::from_secs(1);

/// A cookie session held by hand (its cookies sent as a header), so that a test can keep using
/// the old cookies after the server replaced them.
#[derive(Debug, Clone)]
struct CookieSession {
    token: String,
    csrf: String,
}

impl CookieSession {
    fn header(&self) -> String {
        format!("oms_session={}; oms_csrf={}", self.token, self.csrf)
    }
}

/// The value of cookie `name` among the response's `Set-Cookie` headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (n, value) = pair.split_once('=')?;
            (n.trim() == name).then(|| value.trim().to_owned())
        })
}

async fn login_raw(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    plain_client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Signs in on `app` and keeps the cookies by hand.
async fn cookie_session(app: &TestApp, email: &str) -> CookieSession {
    let response = login_raw(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = set_cookie(&response, "oms_session").expect("oms_session");
    let csrf = set_cookie(&response, "oms_csrf").expect("oms_csrf");
    assert_eq!(json_of(response).await["csrf_token"], csrf.as_str());
    CookieSession { token, csrf }
}

/// `GET /api/auth/me` with the cookies, and with the Bearer token: the two statuses.
async fn me_status(app: &TestApp, cookies: &CookieSession, bearer: &str) -> (u16, u16) {
    let by_cookie = plain_client()
        .get(app.url("/api/auth/me"))
        .header(COOKIE, cookies.header())
        .send()
        .await
        .unwrap()
        .status();
    let by_bearer = plain_client()
        .get(app.url("/api/auth/me"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status();
    (by_cookie.as_u16(), by_bearer.as_u16())
}

/// `PATCH /api/admin/customers/{id}` as `admin` with `body`.
pub(crate) async fn change(
    app: &TestApp,
    admin: &Session,
    id: i64,
    body: Value,
) -> reqwest::Response {
    patch(admin, app, &format!("/api/admin/customers/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Waits for the socket to be closed by the server; returns the close code.
pub(crate) async fn close_code(ws: &mut Ws) -> CloseCode {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the socket closes in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Whether the SSE response's body ends in time.
async fn sse_ends(response: reqwest::Response) -> bool {
    let mut body = response.bytes_stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn open_sse(app: &TestApp, bearer: &str) -> reqwest::Response {
    let response = plain_client()
        .get(app.url("/api/events"))
        .bearer_auth(bearer)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
}

#[tokio::test]
async fn disabling_a_user_ends_every_session_on_every_instance_and_login_is_account_disabled() {
    let first = spawn_app().await;
    let second = first.second_instance().await;
    let admin = first.admin().await;
    let customer = first.customer().await;
    let cookies = cookie_session(&second, &customer.email).await;
    let bearer = second.bearer(&customer.email).await;
    let mut ws = ws_connect(&second, &bearer, None).await;
    let sse = open_sse(&second, &bearer).await;
    assert_eq!(me_status(&second, &cookies, &bearer).await, (200, 200));

    let response = change(
        &first,
        &admin,
        customer.user_id,
        json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["status"], "disabled");
    assert_eq!(body["role"], "CUSTOMER");

    // The instance that made the change refuses them at once; the other within a second.
    assert_eq!(me_status(&first, &cookies, &bearer).await, (401, 401));
    eventually(
        "the second instance to refuse both sessions",
        WITHIN,
        async || (me_status(&second, &cookies, &bearer).await == (401, 401)).then_some(()),
    )
    .await;
    assert_eq!(close_code(&mut ws).await, CloseCode::Policy);
    assert!(sse_ends(sse).await, "the SSE stream ends");
    // An instance started later loads the revocation.
    let third = first.second_instance().await;
    assert_eq!(me_status(&third, &cookies, &bearer).await, (401, 401));

    // The right password: 403 account_disabled (login and token); a wrong one stays 401.
    for app in [&first, &second] {
        let refused = problem(
            login_raw(app, &customer.email, PASSWORD).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(refused["code"], "account_disabled");
        let token = plain_client()
            .post(app.url("/api/auth/token"))
            .json(&json!({"email": customer.email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(token, StatusCode::FORBIDDEN).await["code"],
            "account_disabled"
        );
        let wrong = problem(
            login_raw(app, &customer.email, "not the password").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(wrong["code"], "invalid_credentials");
    }

    // Enabled again: a new sign-in works; the old tokens stay revoked.
    let response = change(
        &first,
        &admin,
        customer.user_id,
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = cookie_session(&second, &customer.email).await;
    let fresh_bearer = second.bearer(&customer.email).await;
    assert_eq!(me_status(&second, &fresh, &fresh_bearer).await, (200, 200));
    assert_eq!(me_status(&second, &cookies, &bearer).await, (401, 401));
}

#[tokio::test]
async fn a_demoted_admin_loses_the_admin_api_at_once() {
    let first = spawn_app().await;
    let second = first.second_instance().await;
    let boss = first.admin().await;
    let demoted = first.admin().await;
    let cookies = cookie_session(&second, &demoted.email).await;
    let bearer = second.bearer(&demoted.email).await;
    let mut ws = ws_connect(&second, &bearer, None).await;
    let admin_status = |app: &TestApp, auth: Auth| {
        let request = plain_client().get(app.url("/api/admin/customers"));
        let request = match auth {
            Auth::Cookies(c) => request.header(COOKIE, c.header()),
            Auth::Bearer(b) => request.bearer_auth(b),
        };
        async move { request.send().await.unwrap().status() }
    };
    for app in [&first, &second] {
        assert_eq!(
            admin_status(app, Auth::Cookies(cookies.clone())).await,
            StatusCode::OK
        );
        assert_eq!(
            admin_status(app, Auth::Bearer(bearer.clone())).await,
            StatusCode::OK
        );
    }

    let response = change(&first, &boss, demoted.user_id, json!({"role": "CUSTOMER"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["role"], "CUSTOMER");
    // At once on the instance that demoted them: the old tokens are 401.
    assert_eq!(
        admin_status(&first, Auth::Cookies(cookies.clone())).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        admin_status(&first, Auth::Bearer(bearer.clone())).await,
        StatusCode::UNAUTHORIZED
    );
    eventually(
        "the second instance to refuse the old tokens",
        WITHIN,
        async || {
            let cookie = admin_status(&second, Auth::Cookies(cookies.clone())).await;
            let bearer = admin_status(&second, Auth::Bearer(bearer.clone())).await;
            (cookie == StatusCode::UNAUTHORIZED && bearer == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
    assert_eq!(close_code(&mut ws).await, CloseCode::Policy);
    // Signed in again, they are a customer: 403 on the admin API.
    let again = cookie_session(&second, &demoted.email).await;
    let again_bearer = second.bearer(&demoted.email).await;
    for app in [&first, &second] {
        assert_eq!(
            admin_status(app, Auth::Cookies(again.clone())).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            admin_status(app, Auth::Bearer(again_bearer.clone())).await,
            StatusCode::FORBIDDEN
        );
    }
}

enum Auth {
    Cookies(CookieSession),
    Bearer(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_racing_to_demote_each_other_leave_one_admin_and_one_last_admin() {
    let first = spawn_app().await;
    let second = first.second_instance().await;
    let active_admins =
        "SELECT count(*) AS n FROM users WHERE role = 'ADMIN' AND status = 'active'";
    let waiting = "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    for round in 0..5 {
        let a = first.admin().await;
        let b = second.admin().await;
        // Only these two are active admins this round.
        let mut conn = first.pool.get().await.unwrap();
        conn.batch_execute(&format!(
            "UPDATE users SET role = 'CUSTOMER' WHERE role = 'ADMIN' AND id NOT IN ({}, {})",
            a.user_id, b.user_id
        ))
        .await
        .unwrap();
        drop(conn);
        assert_eq!(count(&first.pool, active_admins).await, 2);
        // Both requests are let through together: they queue behind the lock of every change,
        // held here until both wait on it.
        let mut holder = AsyncPgConnection::establish(&first.settings_url())
            .await
            .unwrap();
        holder
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({CUSTOMER_LOCK_KEY})"
            ))
            .await
            .unwrap();
        let a_demotes_b = change(&first, &a, b.user_id, json!({"role": "CUSTOMER"}));
        let b_demotes_a = change(&second, &b, a.user_id, json!({"role": "CUSTOMER"}));
        let release = async {
            eventually(
                "both changes to wait on the lock",
                Duration::from_secs(10),
                async || (count(&first.pool, waiting).await == 2).then_some(()),
            )
            .await;
            holder.batch_execute("COMMIT").await.unwrap();
        };
        let (ab, ba, ()) = tokio::join!(a_demotes_b, b_demotes_a, release);
        let mut statuses = Vec::new();
        let mut codes = Vec::new();
        for response in [ab, ba] {
            statuses.push(response.status().as_u16());
            codes.push(json_of(response).await["code"].clone());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}: {codes:?}");
        assert!(
            codes.contains(&json!("last_admin")),
            "round {round}: {codes:?}"
        );
        assert_eq!(count(&first.pool, active_admins).await, 1, "round {round}");
    }
}

#[tokio::test]
async fn an_admin_cannot_change_themselves_and_if_match_guards_a_change() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let me = format!("/api/admin/customers/{}", admin.user_id);
    // Even as the only admin, cannot_change_self wins over last_admin.
    for body in [
        json!({"status": "disabled"}),
        json!({"role": "CUSTOMER"}),
        json!({"status": "disabled", "role": "CUSTOMER"}),
        json!({"status": "active"}),
    ] {
        let response = change(&app, &admin, admin.user_id, body.clone()).await;
        let refused = problem(response, StatusCode::CONFLICT).await;
        assert_eq!(refused["code"], "cannot_change_self", "{body}");
    }
    // Also with a stale If-Match.
    let response = patch(&admin, &app, &me)
        .header(IF_MATCH, "\"999\"")
        .json(&json!({"role": "CUSTOMER"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response, StatusCode::CONFLICT).await["code"],
        "cannot_change_self"
    );
    // Another admin may be disabled while one active admin remains.
    let other = app.admin().await;
    let response = change(&app, &admin, other.user_id, json!({"status": "disabled"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/api/admin/customers/{}", customer.user_id);
    let get = admin.get(&app, &path).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    let etag = get.headers()[ETAG].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"1\"");
    let before = json_of(get).await;

    for stale in ["\"2\"", "W/\"1\"", "garbage"] {
        let response = patch(&admin, &app, &path)
            .header(IF_MATCH, stale)
            .json(&json!({"status": "disabled"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(response, StatusCode::PRECONDITION_FAILED).await["code"],
            "precondition_failed",
            "{stale}"
        );
    }
    let (_, unchanged) = get_json(&admin, &app, &path).await;
    assert_eq!(unchanged, before);

    let response = patch(&admin, &app, &path)
        .header(IF_MATCH, &etag)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[ETAG], "\"2\"");
    // The old ETag no longer matches.
    let response = patch(&admin, &app, &path)
        .header(IF_MATCH, &etag)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    // The same values: 200, same ETag, no audit entry.
    let entries = "SELECT count(*) AS n FROM audit_log WHERE action = 'customer.updated'";
    let before_entries = count(&app.pool, entries).await;
    let response = patch(&admin, &app, &path)
        .header(IF_MATCH, "\"2\"")
        .json(&json!({"status": "disabled", "role": "CUSTOMER"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[ETAG], "\"2\"");
    assert_eq!(count(&app.pool, entries).await, before_entries);
}

#[tokio::test]
async fn the_customer_list_and_detail() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = app.product("Mug", 1000, 100).await;
    let ada = app.register("ada_50%@example.com").await;
    let bob = app.customer().await;
    // Ada: one paid order (1000 + 500 shipping), one unpaid.
    for payment in [Some("tok_visa"), None] {
        let mut body = e2e::order_body(product.id, 1);
        if let Some(token) = payment {
            body["payment"] = json!({"token": token});
        }
        let placed = ada
            .post(&app, "/api/orders")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(placed.status().is_success(), "{}", placed.status());
    }
    let (status, page) = get_json(&admin, &app, "/api/admin/customers?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Newest first: bob, then ada.
    assert_eq!(items[0]["id"], bob.user_id);
    assert_eq!(items[1]["id"], ada.user_id);
    let ada_json = &items[1];
    assert_eq!(ada_json["order_count"], 2);
    assert_eq!(ada_json["total_spent"], 1500);
    assert!(ada_json["last_order_at"].is_string());
    assert_eq!(ada_json["status"], "active");
    let mut keys: Vec<&str> = ada_json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "id",
            "last_order_at",
            "order_count",
            "role",
            "status",
            "total_spent",
            "updated_at"
        ]
    );
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, rest) = get_json(
        &admin,
        &app,
        &format!("/api/admin/customers?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["items"][0]["id"], admin.user_id);
    assert!(rest["next_cursor"].is_null());

    let (_, found) = get_json(&admin, &app, "/api/admin/customers?q=A_50%25").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["id"], ada.user_id);
    let (_, admins) = get_json(&admin, &app, "/api/admin/customers?role=ADMIN").await;
    assert_eq!(admins["items"].as_array().unwrap().len(), 1);
    let (_, disabled) = get_json(&admin, &app, "/api/admin/customers?status=disabled").await;
    assert!(disabled["items"].as_array().unwrap().is_empty());

    for bad in [
        "role=ROOT",
        "status=banned",
        "limit=0",
        "limit=201",
        "cursor=forged",
    ] {
        let (status, body) = get_json(&admin, &app, &format!("/api/admin/customers?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["code"], "validation_failed", "{bad}");
    }

    let (status, one) = get_json(
        &admin,
        &app,
        &format!("/api/admin/customers/{}", ada.user_id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, ada_json);
    for missing in ["/api/admin/customers/999999", "/api/admin/customers/abc"] {
        let (status, body) = get_json(&admin, &app, missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(body["code"], "not_found");
    }
    // Customers and nobody.
    let (status, _) = get_json(&ada, &app, "/api/admin/customers").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let status = plain_client()
        .get(app.url("/api/admin/customers"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Bad bodies change nothing.
    for body in [
        json!({"status": "banned"}),
        json!({"role": "root"}),
        json!({"status": null}),
        json!({"email": "x@example.com"}),
        json!({"status": 1}),
    ] {
        let response = change(&app, &admin, bob.user_id, body.clone()).await;
        assert_eq!(
            problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
            "validation_failed",
            "{body}"
        );
    }
    let response = change(&app, &admin, 999_999, json!({"status": "disabled"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Without the CSRF header a cookie PATCH is refused.
    let response = admin
        .client
        .patch(app.url(&format!("/api/admin/customers/{}", bob.user_id)))
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response, StatusCode::FORBIDDEN).await["code"],
        "csrf_failed"
    );
    let (_, bob_now) = get_json(
        &admin,
        &app,
        &format!("/api/admin/customers/{}", bob.user_id),
    )
    .await;
    assert_eq!(bob_now["status"], "active");
}

#[tokio::test]
async fn a_password_change_ends_every_older_session_and_starts_a_fresh_one() {
    let first = spawn_app().await;
    let second = first.second_instance().await;
    let customer = first.customer().await;
    let old_cookies = cookie_session(&first, &customer.email).await;
    let old_bearer = first.bearer(&customer.email).await;
    let mut ws = ws_connect(&second, &old_bearer, None).await;
    let new_password = "a brand new passphrase";
    let post = |cookies: &CookieSession, body: Value| {
        plain_client()
            .post(first.url("/api/auth/password"))
            .header(COOKIE, cookies.header())
            .header("X-CSRF-Token", &cookies.csrf)
            .json(&body)
            .send()
    };

    // Wrong current password: 403, nothing changes.
    let refused = post(
        &old_cookies,
        json!({"current_password": "not my password", "new_password": new_password}),
    )
    .await
    .unwrap();
    assert_eq!(
        problem(refused, StatusCode::FORBIDDEN).await["code"],
        "invalid_credentials"
    );
    // Too short, too long, unknown or missing fields: 422.
    for body in [
        json!({"current_password": PASSWORD, "new_password": "short"}),
        json!({"current_password": PASSWORD, "new_password": "x".repeat(129)}),
        json!({"current_password": PASSWORD, "new_password": new_password, "extra": 1}),
        json!({"new_password": new_password}),
    ] {
        let response = post(&old_cookies, body.clone()).await.unwrap();
        assert_eq!(
            problem(response, StatusCode::UNPROCESSABLE_ENTITY).await["code"],
            "validation_failed",
            "{body}"
        );
    }
    // A cookie session needs its CSRF token; nobody signed in gets 401.
    let no_csrf = plain_client()
        .post(first.url("/api/auth/password"))
        .header(COOKIE, old_cookies.header())
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(no_csrf, StatusCode::FORBIDDEN).await["code"],
        "csrf_failed"
    );
    let nobody = plain_client()
        .post(first.url("/api/auth/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_status(&second, &old_cookies, &old_bearer).await,
        (200, 200)
    );

    let changed = post(
        &old_cookies,
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let fresh = CookieSession {
        token: set_cookie(&changed, "oms_session").expect("a fresh session cookie"),
        csrf: set_cookie(&changed, "oms_csrf").expect("a fresh CSRF cookie"),
    };
    assert_ne!(fresh.token, old_cookies.token);
    assert_ne!(fresh.csrf, old_cookies.csrf);

    // The old cookie and bearer fail at once here, within a second elsewhere.
    assert_eq!(
        me_status(&first, &old_cookies, &old_bearer).await,
        (401, 401)
    );
    eventually(
        "the second instance to refuse the old tokens",
        WITHIN,
        async || (me_status(&second, &old_cookies, &old_bearer).await == (401, 401)).then_some(()),
    )
    .await;
    assert_eq!(close_code(&mut ws).await, CloseCode::Policy);
    // The fresh cookies work everywhere, writes with the fresh CSRF token included.
    let me = plain_client()
        .get(second.url("/api/auth/me"))
        .header(COOKIE, fresh.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(json_of(me).await["csrf_token"], fresh.csrf.as_str());
    // The old password no longer signs in; the new one does.
    assert_eq!(
        login_raw(&first, &customer.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_raw(&second, &customer.email, new_password)
            .await
            .status(),
        StatusCode::OK
    );

    // A Bearer caller: 204 without cookies, and that token stops working too.
    let bearer = plain_client()
        .post(first.url("/api/auth/token"))
        .json(&json!({"email": customer.email, "password": new_password}))
        .send()
        .await
        .unwrap();
    let bearer = json_of(bearer).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = plain_client()
        .post(second.url("/api/auth/password"))
        .bearer_auth(&bearer)
        .json(&json!({"current_password": new_password, "new_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert!(changed.headers().get(SET_COOKIE).is_none());
    let me = plain_client()
        .get(second.url("/api/auth/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    eventually(
        "the first instance to refuse the fresh cookies too",
        WITHIN,
        async || {
            let status = plain_client()
                .get(first.url("/api/auth/me"))
                .header(COOKIE, fresh.header())
                .send()
                .await
                .unwrap()
                .status();
            (status == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
}

/// One stored audit entry, as text fields.
#[derive(Debug, PartialEq, Eq, diesel::QueryableByName)]
struct Entry {
    #[diesel(sql_type = diesel::sql_types::Text)]
    action: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    actor_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    target_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    client_ip: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    whole: String,
}

async fn entries(app: &TestApp) -> Vec<Entry> {
    use diesel_async::RunQueryDsl as _;
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(
        "SELECT action, actor_id, target_id, request_id, client_ip, a::text AS whole \
         FROM audit_log a ORDER BY id",
    )
    .load(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn security_events_are_audited_and_no_entry_holds_a_secret() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let uid = customer.user_id.to_string();
    assert_eq!(entries(&app).await.len(), 1, "the admin's sign-in");

    // Sign-in failures: a wrong password (target the user), an unknown email (no target).
    let wrong = plain_client()
        .post(app.url("/api/auth/login"))
        .header("X-Request-Id", "req-wrong-password")
        .json(&json!({"email": customer.email, "password": "wrong horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = login_raw(&app, "nobody@example.com", "wrong horse").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    // A sign-in by token, a CSRF failure, a failed and a successful password change, a logout.
    let bearer = app.bearer(&customer.email).await;
    let cookies = cookie_session(&app, &customer.email).await;
    let no_csrf = plain_client()
        .post(app.url("/api/auth/logout"))
        .header(COOKIE, cookies.header())
        .header("X-CSRF-Token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    // Written on the side (the 403 does not wait for it): wait, so the order below is fixed.
    let csrf_entries = "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.csrf_failed'";
    eventually(
        "the CSRF failure's entry",
        Duration::from_secs(10),
        async || (count(&app.pool, csrf_entries).await == 1).then_some(()),
    )
    .await;
    let refused = plain_client()
        .post(app.url("/api/auth/password"))
        .bearer_auth(&bearer)
        .json(&json!({"current_password": "wrong horse", "new_password": "new horse staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let new_password = "new horse staple";
    let changed = plain_client()
        .post(app.url("/api/auth/password"))
        .bearer_auth(&bearer)
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let session = login_raw(&app, &customer.email, new_password).await;
    let token = set_cookie(&session, "oms_session").unwrap();
    let csrf = set_cookie(&session, "oms_csrf").unwrap();
    let out = plain_client()
        .post(app.url("/api/auth/logout"))
        .header(COOKIE, format!("oms_session={token}; oms_csrf={csrf}"))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    // A disabled account signing in with the right password.
    let response = change(
        &app,
        &admin,
        customer.user_id,
        json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let disabled = login_raw(&app, &customer.email, new_password).await;
    assert_eq!(disabled.status(), StatusCode::FORBIDDEN);

    let stored = entries(&app).await;
    let summary: Vec<(&str, Option<i64>, Option<&str>)> = stored
        .iter()
        .map(|e| (e.action.as_str(), e.actor_id, e.target_id.as_deref()))
        .collect();
    let me = Some(customer.user_id);
    let expected = [
        (
            "auth.login",
            Some(admin.user_id),
            Some(admin.user_id.to_string()),
        ),
        ("auth.login_failed", None, Some(uid.clone())),
        ("auth.login_failed", None, None),
        ("auth.login", me, Some(uid.clone())),
        ("auth.login", me, Some(uid.clone())),
        ("auth.csrf_failed", me, Some(uid.clone())),
        ("auth.password_change_failed", me, Some(uid.clone())),
        ("auth.password_changed", me, Some(uid.clone())),
        ("auth.login", me, Some(uid.clone())),
        ("auth.logout", me, Some(uid.clone())),
        ("customer.updated", Some(admin.user_id), Some(uid.clone())),
        ("auth.account_disabled", None, Some(uid.clone())),
    ];
    assert_eq!(
        summary,
        expected
            .iter()
            .map(|(a, actor, t)| (*a, *actor, t.as_deref()))
            .collect::<Vec<_>>()
    );
    assert_eq!(stored[1].request_id.as_deref(), Some("req-wrong-password"));
    assert!(stored.iter().all(|e| e.request_id.is_some()));
    assert!(
        stored
            .iter()
            .all(|e| e.client_ip.as_deref() == Some("127.0.0.1")),
        "{stored:#?}"
    );
    // No password, token, hash or cookie in any entry.
    for e in &stored {
        for secret in [
            PASSWORD,
            new_password,
            "wrong horse",
            bearer.as_str(),
            token.as_str(),
            csrf.as_str(),
            cookies.token.as_str(),
            cookies.csrf.as_str(),
            "argon2",
            "oms_session",
        ] {
            assert!(!e.whole.contains(secret), "{} holds a secret", e.whole);
        }
    }
}

/// The test database's URL of `app` (for a connection of the test's own).
trait SettingsUrl {
    fn settings_url(&self) -> String;
}

impl SettingsUrl for TestApp {
    fn settings_url(&self) -> String {
        use secrecy::ExposeSecret as _;
        self.settings.database.url.expose_secret().to_owned()
    }
}
