//! `GET /api/admin/orders/export`: the CSV parses back into exactly the filtered orders, formulas
//! are neutralised, commas and quotes round-trip, and a large export crosses batches whole.

use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
use e2e::spawn_app;
use reqwest::StatusCode;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::admin_support::{OrderSpec, get_json, ids, insert_order, problem};

const HEADER: [&str; 17] = [
    "id",
    "user_id",
    "email",
    "status",
    "payment_status",
    "subtotal",
    "shipping_amount",
    "tax_amount",
    "total_amount",
    "currency",
    "payment_collected",
    "item_count",
    "shipping_name",
    "shipping_city",
    "shipping_country",
    "created_at",
    "updated_at",
];

/// The export's body and its content headers.
async fn export(admin: &e2e::Session, app: &e2e::TestApp, query: &str) -> (String, String, String) {
    let response = admin
        .get(app, &format!("/api/admin/orders/export?{query}"))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header("content-type");
    let disposition = header("content-disposition");
    let body = response.text().await.expect("body");
    (content_type, disposition, body)
}

fn records(body: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body.as_bytes());
    assert_eq!(
        reader
            .headers()
            .expect("a header row")
            .iter()
            .collect::<Vec<_>>(),
        HEADER
    );
    reader
        .records()
        .map(|r| r.expect("a well-formed row"))
        .collect()
}

#[tokio::test]
async fn the_export_parses_back_into_exactly_the_filtered_orders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.customer().await;
    let bob = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    let t0 = datetime!(2026-02-01 9:30:00.250001 UTC);
    let names = [
        ("=HYPERLINK(\"http://x\")", "London"),
        ("+44 20 7946 0000", "-Manchester"),
        ("-2+3", "@SUM(A1)"),
        ("@admin", "\tTabbed"),
        ("Smith, \"Jo\"", "Paris, \"Île-de-France\""),
        ("Ada Lovelace", "Cambridge"),
        ("\rCarriage", "Leeds"),
    ];
    let mut made = Vec::new();
    for (i, (name, city)) in names.iter().enumerate() {
        let who = if i % 2 == 0 { &alice } else { &bob };
        let status = ["PAID", "FULFILLED", "CANCELLED", "PENDING"][i % 4];
        let spec = OrderSpec {
            status,
            total: 1000 * (i as i64 + 1),
            units: i as i64 % 3 + 1,
            name: (*name).to_owned(),
            city: (*city).to_owned(),
            ..OrderSpec::new(who.user_id, product.id, t0 + Duration::minutes(i as i64))
        };
        made.push((insert_order(&app, &spec).await, spec, who.email.clone()));
    }

    let before = OffsetDateTime::now_utc();
    let (content_type, disposition, body) =
        export(&admin, &app, "status=PAID&status=FULFILLED&status=PENDING").await;
    let after = OffsetDateTime::now_utc();
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let stamp = |t: OffsetDateTime| {
        format!(
            "attachment; filename=\"orders-{:04}{:02}{:02}.csv\"",
            t.year(),
            u8::from(t.month()),
            t.day()
        )
    };
    assert!(
        disposition == stamp(before) || disposition == stamp(after),
        "{disposition}"
    );
    assert!(!body.starts_with('\u{feff}'), "no BOM");
    assert!(body.ends_with('\n'));
    assert!(!body.contains("\r\n"), "lines end in \\n");

    let rows = records(&body);
    let mut expected: Vec<_> = made.iter().filter(|m| m.1.status != "CANCELLED").collect();
    expected.sort_by_key(|m| std::cmp::Reverse(m.1.created_at));
    assert_eq!(rows.len(), expected.len());
    // the same orders, in the same order, as the list with the same filters
    let (_, page) = get_json(
        &admin,
        &app,
        "/api/admin/orders?status=PAID&status=FULFILLED&status=PENDING",
    )
    .await;
    assert_eq!(
        rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(),
        ids(&page)
    );
    for (row, (id, spec, email)) in rows.iter().zip(expected) {
        let neutral = |text: &str| {
            if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{text}")
            } else {
                text.to_owned()
            }
        };
        assert_eq!(&row[0], id.to_string());
        assert_eq!(&row[1], spec.user_id.to_string());
        assert_eq!(&row[2], email.as_str());
        assert_eq!(&row[3], spec.status);
        let collected = matches!(spec.status, "PAID" | "FULFILLED");
        assert_eq!(&row[4], if collected { "captured" } else { "unpaid" });
        assert_eq!(&row[5], spec.total.to_string());
        assert_eq!(&row[6], "0");
        assert_eq!(&row[7], "0");
        assert_eq!(&row[8], spec.total.to_string());
        assert_eq!(&row[9], "USD");
        assert_eq!(&row[10], collected.to_string());
        assert_eq!(&row[11], spec.units.to_string());
        assert_eq!(row[12], neutral(&spec.name), "name of {id}");
        assert_eq!(row[13], neutral(&spec.city), "city of {id}");
        assert_eq!(&row[14], "GB");
        assert_eq!(
            OffsetDateTime::parse(&row[15], &Rfc3339).expect("created_at"),
            spec.created_at
        );
        assert!(row[16].ends_with('Z'));
    }
    // commas and quotes came back whole, and dangerous cells are prefixed
    assert!(
        rows.iter()
            .any(|r| &r[12] == "Smith, \"Jo\"" && &r[13] == "Paris, \"Île-de-France\"")
    );
    assert!(rows.iter().any(|r| &r[12] == "'=HYPERLINK(\"http://x\")"));

    // other filters: exactly the matching rows
    let (_, _, body) = export(&admin, &app, &format!("email={}&min_total=2000", bob.email)).await;
    let want: Vec<String> = {
        let mut m: Vec<_> = made
            .iter()
            .filter(|m| m.2 == bob.email && m.1.total >= 2000)
            .collect();
        m.sort_by_key(|m| std::cmp::Reverse(m.1.created_at));
        m.iter().map(|m| m.0.to_string()).collect()
    };
    assert_eq!(
        records(&body)
            .iter()
            .map(|r| r[0].to_owned())
            .collect::<Vec<_>>(),
        want
    );
    let (_, _, body) = export(&admin, &app, "user_id=-1").await;
    assert_eq!(records(&body).len(), 0, "no match: the header row alone");
}

#[tokio::test]
async fn a_large_export_crosses_batches_without_losing_or_repeating_a_row() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    // 2,345 orders, three to a timestamp, so batch boundaries fall inside runs of equal times
    let mut conn = app.pool.get().await.expect("connection");
    diesel::sql_query(
        "INSERT INTO orders (id, user_id, status, payment_status, payment_collected, subtotal, \
           shipping_amount, tax_amount, total_amount, currency, shipping_address, created_at, \
           updated_at) \
         SELECT gen_random_uuid(), $1, 'PAID', 'captured', true, g, 0, 0, g, 'USD', \
           jsonb_build_object('name', 'N' || g, 'line1', 'x', 'city', 'C', 'country', 'GB'), \
           $2 - make_interval(secs => g / 3), $2 \
         FROM generate_series(1, 2345) AS g",
    )
    .bind::<BigInt, _>(customer.user_id)
    .bind::<Timestamptz, _>(datetime!(2026-06-01 0:00 UTC))
    .execute(&mut conn)
    .await
    .expect("bulk insert");
    drop(conn);
    let one = OrderSpec::new(customer.user_id, product.id, datetime!(2026-07-01 0:00 UTC));
    let newest = insert_order(&app, &one).await;

    let (_, _, body) = export(&admin, &app, "").await;
    let rows = records(&body);
    assert_eq!(rows.len(), 2346);
    assert_eq!(&rows[0][0], newest.to_string());
    let mut unique: Vec<&str> = rows.iter().map(|r| r.get(0).expect("id")).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 2346, "every order once");
    let times: Vec<(OffsetDateTime, String)> = rows
        .iter()
        .map(|r| {
            (
                OffsetDateTime::parse(&r[15], &Rfc3339).expect("time"),
                r[0].to_owned(),
            )
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] > w[1]),
        "newest first, then by id descending"
    );
    let (_, _, body) = export(&admin, &app, "max_total=100").await;
    assert_eq!(records(&body).len(), 100);
}

#[tokio::test]
async fn bad_filters_are_a_problem_not_a_csv() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (query, field) in [
        ("status=LOST", "status"),
        ("created_to=2026-13-01T00:00:00Z", "created_to"),
        ("min_total=x", "min_total"),
    ] {
        let response = admin
            .get(&app, &format!("/api/admin/orders/export?{query}"))
            .send()
            .await
            .expect("export");
        let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["errors"][0]["field"], field);
    }
}

/// `SELECT … AS n` on the test's database.
async fn count(app: &e2e::TestApp, sql: &str) -> i64 {
    e2e::count(&app.pool, sql).await
}

/// `text` percent-encoded for a query string (every byte but ASCII letters and digits).
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The raw body of an export (no parsing: the bytes the client gets).
async fn body_of(admin: &e2e::Session, app: &e2e::TestApp, query: &str) -> String {
    export(admin, app, query).await.2
}

#[tokio::test]
async fn placed_orders_export_their_stored_unit_count_and_exact_cells() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    // an email that is data for a spreadsheet formula, with a quote and a backslash in it
    let odd = app.register("=o'hara\\x@example.com").await;
    let product = app.product("Mug", 500, 100).await;
    let mut body = e2e::order_body(product.id, 3);
    body["shipping_address"]["name"] = "-Ada, \"the\" Countess".into();
    body["shipping_address"]["city"] = "@Home".into();
    let response = odd
        .post(&app, "/api/orders")
        .json(&body)
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), StatusCode::CREATED);
    let order = e2e::json_of(response).await;
    let id = order["id"].as_str().expect("id");
    let (_, listed) = get_json(&admin, &app, &format!("/api/orders/{id}")).await;
    let stored = count(
        &app,
        &format!("SELECT item_count AS n FROM orders WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(stored, 3, "the unit count is kept at placement");

    let csv = body_of(&admin, &app, &format!("user_id={}", odd.user_id)).await;
    let line = format!(
        "{id},{user},'=o'hara\\x@example.com,{status},{payment},{sub},{ship},{tax},{total},USD,\
         {collected},3,\"'-Ada, \"\"the\"\" Countess\",'@Home,GB,{created},{updated}\n",
        user = odd.user_id,
        status = listed["status"].as_str().expect("status"),
        payment = listed["payment_status"].as_str().expect("payment_status"),
        sub = listed["subtotal"],
        ship = listed["shipping_amount"],
        tax = listed["tax_amount"],
        total = listed["total_amount"],
        collected = listed["payment_collected"],
        created = listed["created_at"].as_str().expect("created_at"),
        updated = listed["updated_at"].as_str().expect("updated_at"),
    );
    assert_eq!(csv, format!("{}\n{line}", HEADER.join(",")));

    // a line break is quoted, an empty cell stays empty (not `""`), a tab or CR is neutralised
    let spec = OrderSpec {
        name: "Line\nbreak".into(),
        city: String::new(),
        ..OrderSpec::new(odd.user_id, product.id, datetime!(2020-01-01 0:00 UTC))
    };
    let old = insert_order(&app, &spec).await;
    let tabbed = OrderSpec {
        name: "\tTab".into(),
        city: "\rCR".into(),
        ..OrderSpec::new(odd.user_id, product.id, datetime!(2019-01-01 0:00 UTC))
    };
    let older = insert_order(&app, &tabbed).await;
    let csv = body_of(&admin, &app, &format!("user_id={}", odd.user_id)).await;
    assert!(csv.contains(&format!(
        "{old},{},'=o'hara\\x@example.com,PAID,captured,1000,0,0,1000,USD,true,1,\
         \"Line\nbreak\",,GB,2020-01-01T00:00:00Z,2020-01-01T00:00:00Z\n",
        odd.user_id
    )));
    assert!(csv.contains(&format!(
        "{older},{},'=o'hara\\x@example.com,PAID,captured,1000,0,0,1000,USD,true,1,\
         '\tTab,\"'\rCR\",GB,2019-01-01T00:00:00Z,2019-01-01T00:00:00Z\n",
        odd.user_id
    )));
}

#[tokio::test]
async fn hostile_filter_values_are_data_never_sql() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let quoted = app.register("o'brien\\'--@example.com").await;
    let other = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    let t0 = datetime!(2026-03-01 12:00 UTC);
    let mine = insert_order(&app, &OrderSpec::new(quoted.user_id, product.id, t0)).await;
    insert_order(&app, &OrderSpec::new(other.user_id, product.id, t0)).await;

    // the email with its quote, backslash and comment marker matches exactly its owner's order,
    // case-insensitively
    let query = |email: &str| format!("email={}", encoded(email));
    let rows = records(&body_of(&admin, &app, &query("O'BRIEN\\'--@example.com")).await);
    assert_eq!(
        rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(),
        [mine.to_string()]
    );
    for hostile in [
        "x' OR '1'='1",
        "x'); DROP TABLE orders; --",
        "x\\' OR 1=1 --",
        "$$ OR TRUE $$",
        "') TO PROGRAM 'id' --",
        "'",
    ] {
        let body = body_of(&admin, &app, &query(hostile)).await;
        assert_eq!(records(&body).len(), 0, "{hostile:?} matched something");
    }
    // control characters are refused before any SQL
    let response = admin
        .get(&app, "/api/admin/orders/export?email=a%00b")
        .send()
        .await
        .expect("export");
    problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(count(&app, "SELECT count(*) AS n FROM orders").await, 2);
}

#[tokio::test]
async fn every_filter_at_once_keeps_exactly_the_matching_orders() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.customer().await;
    let bob = app.customer().await;
    let product = app.product("Mug", 500, 100).await;
    let t0 = datetime!(2026-04-01 0:00:00.000001 UTC);
    let mut made = Vec::new();
    for i in 0..24_i64 {
        let who = if i % 3 == 0 { &bob } else { &ada };
        let spec = OrderSpec {
            status: ["PAID", "FULFILLED", "CANCELLED", "PENDING"][(i % 4) as usize],
            total: 100 * (i + 1),
            ..OrderSpec::new(who.user_id, product.id, t0 + Duration::hours(i))
        };
        made.push((insert_order(&app, &spec).await, spec));
    }
    let from = t0 + Duration::hours(3);
    let to = t0 + Duration::hours(20);
    let query = format!(
        "status=PAID&status=FULFILLED&user_id={}&email={}&created_from={}&created_to={}\
         &min_total=500&max_total=1900",
        ada.user_id,
        encoded(&ada.email.to_uppercase()),
        encoded(&from.format(&Rfc3339).expect("from")),
        encoded(&to.format(&Rfc3339).expect("to")),
    );
    let mut want: Vec<_> = made
        .iter()
        .filter(|(_, s)| {
            matches!(s.status, "PAID" | "FULFILLED")
                && s.user_id == ada.user_id
                && s.created_at >= from
                && s.created_at < to
                && (500..=1900).contains(&s.total)
        })
        .collect();
    want.sort_by_key(|(_, s)| std::cmp::Reverse(s.created_at));
    let want: Vec<String> = want.iter().map(|(id, _)| id.to_string()).collect();
    assert!(want.len() >= 3, "the filter keeps a few: {want:?}");
    let rows = records(&body_of(&admin, &app, &query).await);
    assert_eq!(
        rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(),
        want
    );
    // The same filters list the same orders. (PAID and FULFILLED, not PENDING: these orders were
    // made months ago, and the server expires a stale PENDING order at any moment, which once
    // made this check miss one.)
    assert_eq!(
        crate::admin_support::all_pages(&admin, &app, &format!("/api/admin/orders?{query}")).await,
        want
    );
}

#[tokio::test]
async fn a_client_that_leaves_mid_export_leaves_no_busy_connection() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let customer = app.customer().await;
    let mut conn = app.pool.get().await.expect("connection");
    // about 20 MB of CSV: far more than the socket buffers between the database and the client
    diesel::sql_query(
        "INSERT INTO orders (id, user_id, status, payment_status, payment_collected, subtotal, \
           shipping_amount, tax_amount, total_amount, currency, shipping_address, created_at, \
           updated_at, item_count) \
         SELECT gen_random_uuid(), $1, 'PAID', 'captured', true, g, 0, 0, g, 'USD', \
           jsonb_build_object('name', repeat('N', 60), 'city', repeat('C', 40), \
             'country', 'GB'), \
           $2 - make_interval(secs => g), $2, 1 \
         FROM generate_series(1, 80000) AS g",
    )
    .bind::<BigInt, _>(customer.user_id)
    .bind::<Timestamptz, _>(datetime!(2026-06-01 0:00 UTC))
    .execute(&mut conn)
    .await
    .expect("bulk insert");
    drop(conn);
    let exports = "SELECT count(*) AS n FROM pg_stat_activity \
                   WHERE application_name = 'oms-export' AND datname = current_database()";

    let response = admin
        .get(&app, "/api/admin/orders/export")
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.bytes_stream();
    let first = futures_util::StreamExt::next(&mut body)
        .await
        .expect("a first chunk")
        .expect("bytes");
    assert!(first.starts_with(b"id,user_id,"));
    // the export's connection is open and stuck behind the client that does not read
    assert_eq!(count(&app, exports).await, 1);
    drop(body);
    e2e::eventually(
        "the export's connection to go",
        std::time::Duration::from_secs(10),
        async || (count(&app, exports).await == 0).then_some(()),
    )
    .await;
    // and the next export runs whole
    let rows = records(&body_of(&admin, &app, "").await);
    assert_eq!(rows.len(), 80_000);
}
