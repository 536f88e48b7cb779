//! `GET /api/admin/stats/sales` and `GET /api/admin/stats/summary`: read from rollups the
//! database keeps as orders change (never recounted per request; see `app::stats`).
//!
//! Sales parameters (an empty value counts as not given; unknown parameters are ignored, as on
//! every list; every bad value is named in one 422 `validation_failed`):
//! - `created_from` (inclusive), `created_to` (exclusive): RFC 3339 timestamps with an offset;
//!   by default the 30 days (`interval=day`) or 24 hours (`interval=hour`) up to now. The
//!   report covers whole buckets: the first is the one holding `created_from`, the last the one
//!   holding the moment before `created_to`;
//! - `interval`: `hour` or `day` (default `day`);
//! - `tz`: an IANA zone for the buckets' boundaries (default `UTC`).

use actix_web::{HttpResponse, web};
use domain::stats::{SalesFigures, SalesQueryInput, SalesReport};
use ports::StatsSummary;
use serde::Serialize;
use time::OffsetDateTime;

use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::query::{QueryPairs, read_pairs, timestamp};
use crate::handlers::timestamps;
use crate::state::AppState;

/// One bucket's figures (money in cents, by the orders' creation time).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesBucketJson {
    /// The bucket's start (its local midnight or hour in `tz`), as a UTC timestamp. In
    /// `totals`: the first bucket's start.
    #[serde(with = "timestamps")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: OffsetDateTime,
    /// Orders created in the bucket, whatever became of them.
    pub orders: i64,
    /// Those whose payment was captured (refunded ones included).
    pub paid_orders: i64,
    /// Units of the captured orders.
    pub units: i64,
    /// The total of the captured orders.
    pub gross: i64,
    /// What was refunded of them (so far).
    pub refunded: i64,
    /// `gross − refunded`.
    pub net: i64,
}

impl SalesBucketJson {
    fn new(period_start: OffsetDateTime, figures: &SalesFigures) -> SalesBucketJson {
        SalesBucketJson {
            period_start,
            orders: figures.orders,
            paid_orders: figures.paid_orders,
            units: figures.units,
            gross: figures.gross,
            refunded: figures.refunded,
            net: figures.net(),
        }
    }
}

/// `{"items": [...], "totals": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SalesJson {
    /// One per bucket, oldest first, zeros where nothing happened.
    pub items: Vec<SalesBucketJson>,
    /// The sums of `items`.
    pub totals: SalesBucketJson,
}

impl SalesJson {
    pub fn new(report: &SalesReport) -> SalesJson {
        let first = report
            .buckets
            .first()
            .map_or(OffsetDateTime::UNIX_EPOCH, |b| b.start);
        SalesJson {
            items: report
                .buckets
                .iter()
                .map(|b| SalesBucketJson::new(b.start, &b.figures))
                .collect(),
            totals: SalesBucketJson::new(first, &report.totals),
        }
    }
}

/// Orders by status now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(non_snake_case)]
pub struct OrdersByStatusJson {
    pub PENDING: i64,
    pub PAID: i64,
    pub FULFILLED: i64,
    pub CANCELLED: i64,
}

/// The orders created today (UTC).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TodayJson {
    pub orders: i64,
    /// Captured minus refunded, in cents, of the orders created today.
    pub net: i64,
}

/// The shop now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SummaryJson {
    pub orders_by_status: OrdersByStatusJson,
    /// `PENDING` orders waiting for the customer's payment (`payment_status` `unpaid` or
    /// `failed`; a charge in flight, `processing`, is not counted).
    pub awaiting_payment: i64,
    /// Units of `PAID` orders neither shipped nor cancelled.
    pub units_to_ship: i64,
    /// Webhook deliveries that ran out of attempts (`failed`), kept for the delivery retention.
    pub failed_webhook_deliveries: i64,
    pub today: TodayJson,
}

impl SummaryJson {
    pub fn new(summary: &StatsSummary) -> SummaryJson {
        SummaryJson {
            orders_by_status: OrdersByStatusJson {
                PENDING: summary.pending,
                PAID: summary.paid,
                FULFILLED: summary.fulfilled,
                CANCELLED: summary.cancelled,
            },
            awaiting_payment: summary.awaiting_payment,
            units_to_ship: summary.units_to_ship,
            failed_webhook_deliveries: summary.failed_webhook_deliveries,
            today: TodayJson {
                orders: summary.today.orders,
                net: summary.today.net(),
            },
        }
    }
}

/// Reads the sales parameters of `pairs` (see the module docs); the rules are the domain's.
pub fn parse(pairs: &[(String, String)]) -> Result<SalesQueryInput, ApiError> {
    read_pairs(
        pairs,
        SalesQueryInput::default(),
        |input, name, value| match name {
            "created_from" => timestamp(name, value).map(|v| input.created_from = Some(v)),
            "created_to" => timestamp(name, value).map(|v| input.created_to = Some(v)),
            "interval" => {
                input.interval = Some(value.to_owned());
                Ok(())
            }
            "tz" => {
                input.tz = Some(value.to_owned());
                Ok(())
            }
            _ => Ok(()),
        },
    )
}

/// Sales by hour or day in a time zone, from the hourly rollup (zones with 30- or 45-minute
/// offsets are counted from the orders of the range instead: exact, slower on long ranges).
#[utoipa::path(get, path = "/api/admin/stats/sales", tag = "admin", operation_id = "admin_stats_sales",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("created_from" = Option<String>, Query, format = DateTime, description = "Inclusive, RFC 3339 with an offset; rounded down to its bucket's start (default: `created_to` less 30 days for `day`, 24 hours for `hour`)"),
        ("created_to" = Option<String>, Query, format = DateTime, description = "Exclusive, RFC 3339 with an offset; the last bucket is the one holding the moment before it (default: now)"),
        ("interval" = Option<String>, Query, description = "`hour` or `day` (default `day`)"),
        ("tz" = Option<String>, Query, description = "An IANA time zone for the buckets' boundaries, e.g. `Europe/London` (default `UTC`)"),
    ),
    responses(
        (status = 200, description = "One item per bucket, oldest first, zeros where nothing happened, and the totals", body = SalesJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad timestamp (or one from 9999-01-01 on), `interval` or `tz` (unknown zone), `created_from` not before `created_to`, or more than 400 buckets (`created_to`)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn sales(
    _admin: AdminUser,
    query: web::Query<QueryPairs>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input = parse(&query)?;
    let (_, report) = state.stats.sales(&input).await?;
    Ok(HttpResponse::Ok().json(SalesJson::new(&report)))
}

/// The shop now: orders by status, awaiting payment, units to ship, failed webhook deliveries,
/// and today's (UTC) orders and net, from counters kept as orders change.
#[utoipa::path(get, path = "/api/admin/stats/summary", tag = "admin", operation_id = "admin_stats_summary",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The summary", body = SummaryJson),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn summary(
    _admin: AdminUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let summary = state.stats.summary().await?;
    Ok(HttpResponse::Ok().json(SummaryJson::new(&summary)))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::handlers::admin::query::pairs;

    #[test]
    fn parameters() {
        assert_eq!(parse(&[]).expect("none"), SalesQueryInput::default());
        let input = parse(&pairs(&[
            ("created_from", "2026-12-01T00:00:00Z"),
            ("created_to", "2026-12-02T00:00:00 01:00"),
            ("interval", "hour"),
            ("tz", "Europe/London"),
            ("limit", "ignored"),
            ("interval", ""),
        ]))
        .expect("valid");
        assert_eq!(
            input,
            SalesQueryInput {
                created_from: Some(datetime!(2026-12-01 0:00 UTC)),
                created_to: Some(datetime!(2026-12-01 23:00 UTC)),
                interval: Some("hour".into()),
                tz: Some("Europe/London".into()),
            }
        );
        match parse(&pairs(&[
            ("created_from", "yesterday"),
            ("created_to", "1"),
        ])) {
            Err(ApiError::Problem(p)) => assert_eq!(
                p.errors
                    .iter()
                    .map(|e| e.field.as_str())
                    .collect::<Vec<_>>(),
                ["created_from", "created_to"]
            ),
            other => panic!("expected a validation problem, got {other:?}"),
        }
    }

    #[test]
    fn summary_json_has_the_contract_s_members() {
        let json = serde_json::to_value(SummaryJson::new(&StatsSummary {
            pending: 1,
            paid: 2,
            fulfilled: 3,
            cancelled: 4,
            awaiting_payment: 1,
            units_to_ship: 5,
            failed_webhook_deliveries: 6,
            today: SalesFigures {
                orders: 7,
                paid_orders: 6,
                units: 9,
                gross: 1000,
                refunded: 250,
            },
        }))
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "orders_by_status": {"PENDING": 1, "PAID": 2, "FULFILLED": 3, "CANCELLED": 4},
                "awaiting_payment": 1, "units_to_ship": 5, "failed_webhook_deliveries": 6,
                "today": {"orders": 7, "net": 750}
            })
        );
    }
}
