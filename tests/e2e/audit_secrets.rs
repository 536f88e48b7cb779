//! No secret ever enters the audit log: a session of sign-ins (right and wrong), token issues,
//! password changes (right and wrong), a CSRF failure and a sign-out, then every stored entry is
//! scanned for every password, token, cookie value, CSRF token and hash used or stored, and every
//! webhook secret given out (at an endpoint's creation and rotation) or stored.

use std::time::Duration;

use e2e::{JWT_SECRET, PASSWORD, count, eventually, json_of, plain_client, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

/// The values of the `Set-Cookie` headers of `response` (session JWT and CSRF token).
fn cookie_values(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

#[tokio::test]
async fn no_password_token_cookie_or_hash_reaches_an_audit_entry() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned(), JWT_SECRET.to_owned()];
    let client = plain_client();

    // Sign-ins: right, wrong password, unknown email; a Bearer token.
    let wrong = "wrong password 0123456789";
    let unknown = "unknown user password 42";
    secrets.extend([wrong.to_owned(), unknown.to_owned()]);
    let login = client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": customer.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    secrets.extend(cookie_values(&login));
    let body = json_of(login).await;
    secrets.push(body["csrf_token"].as_str().unwrap().to_owned());
    for (email, password) in [
        (customer.email.as_str(), wrong),
        ("nobody@example.com", unknown),
    ] {
        let refused = client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    let bearer = app.bearer(&customer.email).await;
    secrets.push(bearer.clone());

    // A CSRF failure: a cookie session's POST without the header.
    let csrf_refused = customer
        .client
        .post(app.url("/api/orders"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(csrf_refused.status(), StatusCode::FORBIDDEN);
    // Its entry is written on the side (the 403 does not wait for it).
    eventually(
        "the CSRF failure's entry",
        Duration::from_secs(10),
        async || {
            (count(
                &app.pool,
                "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.csrf_failed'",
            )
            .await
                == 1)
                .then_some(())
        },
    )
    .await;

    // Password changes: a wrong current password, then two right ones (cookie, then Bearer).
    let first = "first new password 2026";
    let second = "second new password 2026";
    secrets.extend([first.to_owned(), second.to_owned()]);
    let refused = customer
        .post(&app, "/api/auth/password")
        .json(&json!({"current_password": wrong, "new_password": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let changed = customer
        .post(&app, "/api/auth/password")
        .json(&json!({"current_password": PASSWORD, "new_password": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    secrets.extend(cookie_values(&changed));
    let token = client
        .post(app.url("/api/auth/token"))
        .json(&json!({"email": customer.email, "password": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let token = json_of(token).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    secrets.push(token.clone());
    let changed = client
        .post(app.url("/api/auth/password"))
        .bearer_auth(&token)
        .json(&json!({"current_password": first, "new_password": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);

    // A webhook endpoint: its secret at creation, a rotation's, a change, a test, a deletion.
    let created = admin
        .post(&app, "/api/admin/webhooks")
        .json(&json!({"url": "https://hooks.example.com/oms", "event_types": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json_of(created).await;
    let webhook = format!("/api/admin/webhooks/{}", created["id"].as_str().unwrap());
    let mut webhook_secrets = vec![created["secret"].as_str().unwrap().to_owned()];
    for _ in 0..2 {
        let rotated = admin
            .post(&app, &format!("{webhook}/rotate-secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), StatusCode::OK);
        webhook_secrets.push(
            json_of(rotated).await["secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let changed = admin
        .client
        .patch(app.url(&webhook))
        .header("X-CSRF-Token", &admin.csrf)
        .json(&json!({"description": "ERP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let tested = admin
        .post(&app, &format!("{webhook}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(tested.status(), StatusCode::ACCEPTED);
    webhook_secrets.extend(stored_webhook_secrets(&app).await);
    let deleted = admin
        .client
        .delete(app.url(&webhook))
        .header("X-CSRF-Token", &admin.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // The key alone (the base64 after `whsec_`) is the secret too.
    let keys: Vec<String> = webhook_secrets
        .iter()
        .map(|s| s.trim_start_matches("whsec_").to_owned())
        .collect();
    secrets.extend(webhook_secrets);
    secrets.extend(keys);

    // Sign-out of the admin's cookie session.
    let out = admin.post(&app, "/api/auth/logout").send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);

    // Every hash stored now, and the JWT's parts (a signature alone is a secret too).
    let hashes: Vec<String> = stored_hashes(&app).await;
    secrets.extend(hashes);
    let jwt_parts: Vec<String> = secrets
        .iter()
        .filter(|s| s.matches('.').count() == 2)
        .flat_map(|jwt| jwt.split('.').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    secrets.extend(jwt_parts);

    // The entries were written (the scan below is not over an empty table) ...
    for action in [
        "auth.login",
        "auth.login_failed",
        "auth.csrf_failed",
        "auth.password_change_failed",
        "auth.password_changed",
        "auth.logout",
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.updated",
        "webhook.test_sent",
        "webhook.deleted",
    ] {
        let n = count(
            &app.pool,
            &format!("SELECT count(*) AS n FROM audit_log WHERE action = '{action}'"),
        )
        .await;
        assert!(n >= 1, "no {action} entry");
    }
    // ... and none of them holds a secret, in the database or over the API.
    let stored = entries_as_text(&app).await;
    let admin2 = app.admin().await;
    let listed = admin2
        .get(&app, "/api/admin/audit?limit=200")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let listed = listed.text().await.unwrap();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(
            !stored.contains(secret.as_str()),
            "an audit entry holds a secret: {secret}"
        );
        assert!(
            !listed.contains(secret.as_str()),
            "the audit list shows a secret"
        );
    }
    for marker in ["$argon2", "Bearer", "oms_session", "oms_csrf", "whsec_"] {
        assert!(
            !stored.contains(marker),
            "an entry mentions {marker}: {stored}"
        );
    }
}

async fn stored_hashes(app: &e2e::TestApp) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = Text)]
        password_hash: String,
    }
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("SELECT password_hash FROM users")
        .load::<Hash>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.password_hash)
        .collect()
}

/// The current and previous secrets of every webhook endpoint, as stored.
async fn stored_webhook_secrets(app: &e2e::TestApp) -> Vec<String> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Secret {
        #[diesel(sql_type = Text)]
        secret: String,
    }
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query(
        "SELECT secret FROM webhook_endpoints \
         UNION ALL SELECT previous_secret FROM webhook_endpoints WHERE previous_secret IS NOT NULL",
    )
    .load::<Secret>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|s| s.secret)
    .collect()
}

async fn entries_as_text(app: &e2e::TestApp) -> String {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Entry {
        #[diesel(sql_type = Text)]
        entry: String,
    }
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("SELECT row_to_json(a)::text AS entry FROM audit_log a ORDER BY id")
        .load::<Entry>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect::<Vec<_>>()
        .join("\n")
}
