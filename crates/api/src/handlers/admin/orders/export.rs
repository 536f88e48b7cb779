//! `GET /api/admin/orders/export`: the filtered orders as CSV, streamed.
//!
//! The body is a lazy stream of batches: each poll fetches the next [`BATCH`] rows by keyset
//! (`export_page` after the last row sent) and yields their CSV bytes. actix polls it only as fast
//! as the client reads, so at most one batch is in memory however many orders match; when the
//! client goes away actix drops the stream, and no further query runs (nothing is spawned).
//! The first batch is read before the answer starts, so a database failure is still a proper
//! 503 problem; a failure later can only cut the body short (logged).

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpResponse, web};
use app::AdminOrderService;
use bytes::Bytes;
use futures_util::stream;
use ports::{ExportRow, OrderCursor, OrderFilter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::filters::{self, QueryPairs};
use crate::auth::AdminUser;
use crate::error::{ApiError, ProblemBody};
use crate::state::AppState;

/// Rows fetched per query.
pub const BATCH: u32 = 1000;

/// The header row.
pub const COLUMNS: [&str; 17] = [
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
    let service = state.admin_orders.clone();
    let first = service.export_page(&filter, None, BATCH).await?;
    let export = Export {
        head: Some(csv_bytes(&first, true)?),
        after: last_position(&first),
        done: first.len() < BATCH as usize,
        service,
        filter,
    };
    drop(first);
    let body = stream::try_unfold(export, Export::next_chunk);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename)],
        })
        .streaming(body))
}

/// Where a running export is.
struct Export {
    service: AdminOrderService,
    filter: OrderFilter,
    /// Bytes ready to send first (the header row and the first batch).
    head: Option<Bytes>,
    /// The last row sent.
    after: Option<OrderCursor>,
    /// The last batch was short: nothing more matches.
    done: bool,
}

impl Export {
    /// The next piece of the body, or `None` at the end. One query per call at most.
    async fn next_chunk(mut self) -> Result<Option<(Bytes, Export)>, ApiError> {
        if let Some(head) = self.head.take() {
            return Ok(Some((head, self)));
        }
        if self.done {
            return Ok(None);
        }
        let rows = self
            .service
            .export_page(&self.filter, self.after, BATCH)
            .await
            .map_err(|error| {
                tracing::error!(%error, "export stopped: a batch could not be read");
                ApiError::from(error)
            })?;
        self.done = rows.len() < BATCH as usize;
        if rows.is_empty() {
            return Ok(None);
        }
        self.after = last_position(&rows);
        let bytes = csv_bytes(&rows, false)?;
        Ok(Some((bytes, self)))
    }
}

fn last_position(rows: &[ExportRow]) -> Option<OrderCursor> {
    rows.last().map(|r| OrderCursor {
        created_at: r.created_at,
        id: r.id,
    })
}

/// `YYYYMMDD` of `now` in UTC.
fn date_stamp(now: OffsetDateTime) -> Result<String, ApiError> {
    now.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year][month][day]"))
        .map_err(|e| ApiError::Internal(format!("formatting the export's date: {e}")))
}

/// The CSV of `rows` (after the header row when `header`): `\n` line ends, cells quoted only when
/// they must be (a comma, a quote, a line break).
pub fn csv_bytes(rows: &[ExportRow], header: bool) -> Result<Bytes, ApiError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(rows.len() * 256 + 256));
    let failed = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    if header {
        writer.write_record(COLUMNS).map_err(failed)?;
    }
    for row in rows {
        writer.write_record(record(row)?).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing CSV: {}", e.error())))?;
    Ok(Bytes::from(bytes))
}

/// One row's cells, in [`COLUMNS`] order.
fn record(row: &ExportRow) -> Result<[String; 17], ApiError> {
    Ok([
        row.id.to_string(),
        row.user_id.to_string(),
        text_cell(&row.email),
        text_cell(row.status.as_str()),
        text_cell(row.payment_status.as_str()),
        row.subtotal.to_string(),
        row.shipping_amount.to_string(),
        row.tax_amount.to_string(),
        row.total_amount.to_string(),
        text_cell(&row.currency),
        row.payment_collected.to_string(),
        row.item_count.to_string(),
        text_cell(&row.shipping_name),
        text_cell(&row.shipping_city),
        text_cell(&row.shipping_country),
        timestamp(row.created_at)?,
        timestamp(row.updated_at)?,
    ])
}

/// A text cell, neutralised for spreadsheets: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`, so that it is not run as a formula.
pub fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// RFC 3339 in UTC, as in the JSON (`2026-11-25T10:00:00.123456Z`).
fn timestamp(value: OffsetDateTime) -> Result<String, ApiError> {
    value
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| ApiError::Internal(format!("formatting a timestamp: {e}")))
}

#[cfg(test)]
mod tests {
    use domain::{OrderStatus, PaymentStatus};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn row(name: &str, city: &str) -> ExportRow {
        ExportRow {
            id: Uuid::nil(),
            user_id: 7,
            email: "ada@example.com".into(),
            status: OrderStatus::Paid,
            payment_status: PaymentStatus::Captured,
            subtotal: 1000,
            shipping_amount: 500,
            tax_amount: 0,
            total_amount: 1500,
            currency: "USD".into(),
            payment_collected: true,
            item_count: 3,
            shipping_name: name.into(),
            shipping_city: city.into(),
            shipping_country: "GB".into(),
            created_at: datetime!(2026-11-25 10:00:00.123456 UTC),
            updated_at: datetime!(2026-11-25 10:00:01 UTC),
        }
    }

    #[test]
    fn header_and_rows_with_newline_ends_and_no_bom() {
        let bytes = csv_bytes(&[row("Ada", "London")], true).expect("csv");
        let text = std::str::from_utf8(&bytes).expect("utf-8");
        assert_eq!(
            text,
            "id,user_id,email,status,payment_status,subtotal,shipping_amount,tax_amount,\
             total_amount,currency,payment_collected,item_count,shipping_name,shipping_city,\
             shipping_country,created_at,updated_at\n\
             00000000-0000-0000-0000-000000000000,7,ada@example.com,PAID,captured,1000,500,0,\
             1500,USD,true,3,Ada,London,GB,2026-11-25T10:00:00.123456Z,2026-11-25T10:00:01Z\n"
        );
        assert!(csv_bytes(&[], false).expect("empty").is_empty());
    }

    #[test]
    fn formulas_are_neutralised_and_quotes_round_trip() {
        for (raw, cell) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Ada", "Ada"),
            ("a=b", "a=b"),
        ] {
            assert_eq!(text_cell(raw), cell);
        }
        let bytes = csv_bytes(&[row("Smith, \"Jo\"", "=HYPERLINK(\"x\")")], false).expect("csv");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_ref());
        let record = reader.records().next().expect("a row").expect("parses");
        assert_eq!(&record[12], "Smith, \"Jo\"");
        assert_eq!(&record[13], "'=HYPERLINK(\"x\")");
    }

    #[test]
    fn date_stamps_are_utc() {
        assert_eq!(
            date_stamp(datetime!(2026-11-25 23:30 -02:00)).expect("date"),
            "20261126"
        );
    }
}
