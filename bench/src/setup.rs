//! `oms-bench setup`: through the API, the products and customers the scenarios use, and the
//! customers' Bearer tokens. Writes `setup.json` (for the other subcommands) and `setup.env`
//! (id ranges for pgbench, sourced by the script).

use std::fmt::Write as _;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::args::Args;
use crate::http::{Customer, Setup, client, ensure_loopback, token};

/// Every bench product costs this (cents): a 2-line order of 1 + 2 units is 4,500, plus 500
/// shipping: the pgbench scripts use the same amounts.
pub const PRICE: i64 = 1_500;
pub const CUSTOMER_PASSWORD: &str = "bench-customer-password";

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let base = args.required("base")?.trim_end_matches('/').to_owned();
    ensure_loopback(&base)?;
    let customers: usize = args.number("customers", 8)?;
    let products: usize = args.number("products", 200)?;
    let hot: usize = args.number("hot-products", 5)?;
    let stock: i64 = args.number("stock", 2_000_000_000)?;
    let hot_stock: i64 = args.number("hot-stock", 100_000_000)?;
    let http = client()?;
    let admin_token = token(
        &http,
        &base,
        args.required("admin-email")?,
        args.required("admin-password")?,
    )
    .await?;

    let mut product_ids = Vec::with_capacity(products);
    for n in 1..=products {
        let sku = format!("BENCH-P{n:04}");
        product_ids.push(create_product(&http, &base, &admin_token, &sku, n, stock).await?);
    }
    let mut hot_ids = Vec::with_capacity(hot);
    for n in 1..=hot {
        let sku = format!("BENCH-HOT{n}");
        hot_ids.push(create_product(&http, &base, &admin_token, &sku, n, hot_stock).await?);
    }
    let mut made = Vec::with_capacity(customers);
    for n in 1..=customers {
        made.push(register(&http, &base, &format!("bench-customer-{n}@bench.local")).await?);
    }
    let setup = Setup {
        base,
        admin_token,
        customers: made,
        products: product_ids,
        hot: hot_ids,
        stock,
        hot_stock,
    };
    let out = args.required("out")?;
    std::fs::write(out, serde_json::to_string_pretty(&setup)?)
        .with_context(|| format!("writing {out}"))?;
    if let Some(env_out) = args.get("env-out") {
        std::fs::write(env_out, shell_vars(&setup))
            .with_context(|| format!("writing {env_out}"))?;
    }
    println!(
        "{}",
        json!({"kind": "setup", "customers": customers, "products": products, "hot": hot})
    );
    Ok(())
}

async fn create_product(
    http: &reqwest::Client,
    base: &str,
    admin_token: &str,
    sku: &str,
    n: usize,
    stock: i64,
) -> anyhow::Result<i64> {
    let response = http
        .post(format!("{base}/api/admin/products"))
        .bearer_auth(admin_token)
        .json(&json!({
            "name": format!("Bench product {n}"),
            "description": "A product for the benchmark",
            "price": PRICE,
            "stock_quantity": stock,
            "sku": sku,
        }))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    match body["id"].as_i64() {
        Some(id) if status.as_u16() == 201 => Ok(id),
        _ => bail!("POST /api/admin/products {sku}: {status} {body}"),
    }
}

async fn register(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<Customer> {
    let response = http
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": email, "password": CUSTOMER_PASSWORD}))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    let Some(id) = body["user"]["id"]
        .as_i64()
        .filter(|_| status.as_u16() == 201)
    else {
        bail!("POST /api/auth/register {email}: {status} {body}");
    };
    Ok(Customer {
        id,
        email: email.to_owned(),
        token: token(http, base, email, CUSTOMER_PASSWORD).await?,
    })
}

/// `PFIRST=… PLAST=… HOTFIRST=… HOTLAST=… UFIRST=… ULAST=…` for pgbench's `-D`.
fn shell_vars(setup: &Setup) -> String {
    let range = |ids: &[i64]| {
        (
            ids.iter().min().copied().unwrap_or(0),
            ids.iter().max().copied().unwrap_or(0),
        )
    };
    let (pfirst, plast) = range(&setup.products);
    let (hfirst, hlast) = range(&setup.hot);
    let users: Vec<i64> = setup.customers.iter().map(|c| c.id).collect();
    let (ufirst, ulast) = range(&users);
    let mut out = String::new();
    for (k, v) in [
        ("PFIRST", pfirst),
        ("PLAST", plast),
        ("HOTFIRST", hfirst),
        ("HOTLAST", hlast),
        ("UFIRST", ufirst),
        ("ULAST", ulast),
    ] {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}
