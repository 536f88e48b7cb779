//! `GET /api/admin/orders/export`: the filtered orders as CSV, streamed.
//!
//! The store produces the CSV (PostgreSQL's `COPY … TO STDOUT WITH (FORMAT csv)`, see
//! `adapters_postgres::export`) and this handler moves its chunks: actix polls the body only as
//! fast as the client reads, and the store's stream reads ahead at most a chunk or two, so memory
//! stays flat however many orders match. When the client goes away actix drops the body, which
//! stops the export and closes its database connection. The store answers only once the header and
//! the first row are ready, so a database failure is still a proper 503 problem; a failure later
//! can only cut the body short (logged).

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use futures_util::StreamExt as _;
use time::OffsetDateTime;
use time::macros::format_description;

use super::filters;
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::handlers::admin::query::QueryPairs;
use crate::state::AppState;

/// The filtered orders as CSV (see the contract for the columns), newest first.
#[utoipa::path(get, path = "/api/admin/orders/export", tag = "admin", operation_id = "admin_export_orders",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("status" = Option<Vec<String>>, Query, explode = true,
            description = "`PENDING`, `PAID`, `FULFILLED` or `CANCELLED`; repeat for any of several"),
        ("user_id" = Option<i64>, Query, description = "The orders of this user"),
        ("email" = Option<String>, Query, description = "The orders of the user with this email (exact, case-insensitive)"),
        ("created_from" = Option<String>, Query, format = DateTime, description = "RFC 3339; created at or after (inclusive)"),
        ("created_to" = Option<String>, Query, format = DateTime, description = "RFC 3339; created before (exclusive)"),
        ("min_total" = Option<i64>, Query, minimum = 0, description = "`total_amount` at least this (cents, inclusive)"),
        ("max_total" = Option<i64>, Query, minimum = 0, description = "`total_amount` at most this (cents, inclusive)"),
    ),
    responses(
        (status = 200, description = "`text/csv; charset=utf-8`, streamed: a header row (`id,user_id,email,status,payment_status,subtotal,shipping_amount,tax_amount,total_amount,currency,payment_collected,item_count,shipping_name,shipping_city,shipping_country,created_at,updated_at`) then one row per order, newest first; lines end in `\\n`, no BOM; a text cell starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'`",
            body = String, content_type = "text/csv; charset=utf-8",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"orders-YYYYMMDD.csv\"` (today, UTC)"))),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad filter, named in `errors`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn export_orders(
    _admin: AdminUser,
    query: web::Query<QueryPairs>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filter = filters::parse(&query)?.filter;
    let filename = format!("orders-{}.csv", date_stamp(state.clock.now())?);
    let chunks = state.admin_orders.export_csv(&filter).await?;
    let body = chunks.map(|chunk| {
        chunk.map_err(|error| {
            tracing::error!(%error, "export cut short: the store failed midway");
            ApiError::from(error)
        })
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .streaming(body))
}

/// `YYYYMMDD` of `now` in UTC.
fn date_stamp(now: OffsetDateTime) -> Result<String, ApiError> {
    now.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year][month][day]"))
        .map_err(|e| ApiError::Internal(format!("formatting the export's date: {e}")))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn date_stamps_are_utc() {
        assert_eq!(
            date_stamp(datetime!(2026-11-25 23:30 -02:00)).expect("date"),
            "20261126"
        );
    }
}
