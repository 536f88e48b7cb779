//! Email against a real SMTP server on loopback ([`e2e::smtp`]): one email per event and
//! recipient with text and HTML parts, the right totals and tracking; a server that refuses then
//! accepts gets the email once, with the same `Message-ID`; a server that hangs never holds up an
//! order.

use std::collections::HashSet;
use std::time::Duration;

use e2e::smtp::{Behaviour, ReceivedMail, SmtpServer};
use e2e::{Session, TestApp, count, json_of, order_body, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SHOP: &str = "owner@shop.test";
const WAIT: Duration = Duration::from_secs(20);

/// A server whose email goes to `smtp`, with quick retries.
async fn app_with_mail(smtp: &SmtpServer, shop: bool) -> TestApp {
    let url = smtp.url();
    spawn_app_with(move |settings| {
        settings.mail.smtp_url = Some(url.into());
        settings.mail.from = Some("Tea Shop <orders@shop.test>".to_owned());
        settings.mail.admin_email = shop.then(|| SHOP.to_owned());
        settings.mail.settings.timeout = Duration::from_secs(1);
        settings.mail.settings.retry_schedule = vec![Duration::from_millis(100); 30];
    })
    .await
}

async fn place_paid(app: &TestApp, customer: &Session, product_id: i64, quantity: i64) -> Value {
    let mut body = order_body(product_id, quantity);
    body["payment"] = json!({"token": "tok_visa"});
    let response = customer
        .post(app, "/api/orders")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = json_of(response).await;
    assert_eq!(order["status"], "PAID");
    order
}

fn to(mail: &ReceivedMail) -> String {
    mail.to.join(",")
}

fn short(order_id: &str) -> &str {
    &order_id[order_id.len() - 8..]
}

/// The one email in `mails` whose subject contains `subject` and that went to `recipient`.
fn one<'a>(mails: &'a [ReceivedMail], recipient: &str, subject: &str) -> &'a ReceivedMail {
    let found: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|m| to(m) == recipient && m.header("Subject").unwrap().contains(subject))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {subject:?} email to {recipient}: {mails:#?}"
    );
    found[0]
}

#[tokio::test]
async fn each_event_mails_each_recipient_once_with_text_html_totals_and_tracking() {
    let smtp = SmtpServer::start();
    let app = app_with_mail(&smtp, true).await;
    let customer = app.customer().await;
    let admin = app.admin().await;
    let product = app.product("Tea & <Pot>", 1_250, 10).await;

    // Paid: the customer and the shop.
    let order = place_paid(&app, &customer, product.id, 2).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let mails = smtp.wait_for(2, WAIT).await;
    let paid = one(
        &mails,
        &customer.email,
        &format!("#{} is confirmed", short(&id)),
    );
    let new_order = one(&mails, SHOP, &format!("New order #{}: $30.00", short(&id)));
    assert!(paid.from.contains("orders@shop.test"));
    let text = paid.part("text/plain").expect("a text part");
    let html = paid.part("text/html").expect("an HTML part");
    for expected in [
        &id,
        "$30.00",
        "$25.00",
        "$12.50",
        "$5.00",
        "2 x Tea & <Pot>",
        "Ada Lovelace",
        "London N1 9GU",
    ] {
        assert!(text.contains(expected), "text has {expected:?}: {text}");
    }
    assert!(
        html.contains("Tea &amp; &lt;Pot&gt;"),
        "HTML escaped: {html}"
    );
    assert!(!html.contains("<Pot>"), "nothing unescaped: {html}");
    assert!(html.contains("$30.00") && html.contains(&id), "{html}");
    assert!(new_order.part("text/plain").unwrap().contains("$30.00"));
    let message_id = paid.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with("<oms.") && message_id.ends_with("@shop.test>"),
        "{message_id}"
    );
    assert_ne!(message_id, new_order.header("Message-ID").unwrap());

    // Shipped: one unit, with carrier and tracking.
    let response = admin
        .post(&app, &format!("/api/admin/orders/{id}/shipments"))
        .json(
            &json!({"items": [{"product_id": product.id, "quantity": 1}],
                      "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mails = smtp.wait_for(3, WAIT).await;
    let shipped = one(&mails, &customer.email, "has shipped");
    let text = shipped.part("text/plain").unwrap();
    for expected in [
        "UPS",
        "1Z999AA10123456784",
        "1 x Tea & <Pot>",
        "The rest will follow",
        &id,
    ] {
        assert!(
            text.contains(expected),
            "shipment email has {expected:?}: {text}"
        );
    }

    // Refunded: the open unit, which completes the order (`order.status_changed`).
    let response = admin
        .post(&app, &format!("/api/admin/orders/{id}/refunds"))
        .json(
            &json!({"items": [{"product_id": product.id, "quantity": 1, "restock": "cancel"}],
                      "reason": "out of stock"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mails = smtp.wait_for(4, WAIT).await;
    let refunded = one(&mails, &customer.email, "Refund of $12.50");
    let text = refunded.part("text/plain").unwrap();
    assert!(
        text.contains("$12.50 of $30.00") && text.contains(&id),
        "{text}"
    );
    assert!(
        !text.contains("out of stock"),
        "the admin's reason stays internal: {text}"
    );

    // Cancelled: an unpaid order the customer cancels.
    let response = customer
        .post(&app, "/api/orders")
        .json(&order_body(product.id, 1))
        .send()
        .await
        .unwrap();
    let unpaid = json_of(response).await["id"].as_str().unwrap().to_owned();
    let response = customer
        .post(&app, &format!("/api/orders/{unpaid}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mails = smtp.wait_for(5, WAIT).await;
    let cancelled = one(
        &mails,
        &customer.email,
        &format!("#{} was cancelled", short(&unpaid)),
    );
    assert!(
        cancelled
            .part("text/plain")
            .unwrap()
            .contains("Nothing was charged")
    );

    // Once each: nothing more arrives, no Message-ID twice, every email sent per the records.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 5, "{mails:#?}");
    let ids: HashSet<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) AS n FROM email_deliveries WHERE status = 'sent'"
        )
        .await,
        5
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("oms_emails_total{outcome=\"sent\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_refusing_server_gets_the_email_once_after_retries_with_the_same_message_id() {
    let smtp = SmtpServer::start();
    smtp.set_behaviour(Behaviour::Refuse);
    let app = app_with_mail(&smtp, false).await;
    let customer = app.customer().await;
    let product = app.product("Kettle", 4_000, 10).await;
    let order = place_paid(&app, &customer, product.id, 1).await;

    let refused = smtp.wait_for_refusals(2, WAIT).await;
    assert!(refused.len() >= 2, "retried after a 451");
    assert!(smtp.mails().is_empty());
    smtp.set_behaviour(Behaviour::Accept);
    let mails = smtp.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails_after = smtp.mails();
    assert_eq!(mails_after.len(), 1, "delivered once: {mails:#?}");
    let sent = &mails_after[0];
    assert_eq!(to(sent), customer.email);
    assert!(
        sent.part("text/plain")
            .unwrap()
            .contains(order["id"].as_str().unwrap())
    );
    let message_id = sent.header("Message-ID").unwrap();
    for attempt in &refused {
        assert_eq!(
            attempt.header("Message-ID").unwrap(),
            message_id,
            "fixed per event and recipient"
        );
    }
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) AS n FROM email_deliveries WHERE status = 'sent' AND attempts >= 3"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_hanging_server_never_holds_up_an_order() {
    let smtp = SmtpServer::start();
    smtp.set_behaviour(Behaviour::Hang);
    let app = app_with_mail(&smtp, true).await;
    let customer = app.customer().await;
    let product = app.product("Cup", 500, 100).await;

    place_paid(&app, &customer, product.id, 1).await;
    // The first order's emails are stuck in a hanging attempt (or waiting to retry one)...
    e2e::eventually("an email attempt in flight", WAIT, async || {
        (count(
            &app.pool,
            "SELECT count(*) AS n FROM email_deliveries WHERE status = 'pending' AND attempts >= 1",
        )
        .await
            >= 1)
            .then_some(())
    })
    .await;
    // ...and orders are answered all the same, their emails queued behind.
    for _ in 0..3 {
        place_paid(&app, &customer, product.id, 1).await;
        assert!(
            smtp.mails().is_empty(),
            "nothing sent while the server hangs"
        );
    }
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) AS n FROM email_deliveries WHERE status = 'sent'"
        )
        .await,
        0
    );

    // Once the server answers, each email arrives once (4 orders: the customer and the shop).
    smtp.set_behaviour(Behaviour::Accept);
    smtp.wait_for(8, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 8, "{mails:#?}");
    let ids: HashSet<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 8, "no email twice");
}
