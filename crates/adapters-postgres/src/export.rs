//! [`OrderExport`] by PostgreSQL's own `COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)`.
//!
//! The database formats every cell (the SELECT yields exactly the contract's text) and writes the
//! CSV; this adapter only moves its bytes. Three things to know:
//!
//! - **No bind parameters.** `COPY` takes none, so the filter is rendered into the statement as
//!   typed literals by [`filter_sql`]: integers formatted by Rust, timestamps formatted by Rust
//!   (UTC, microseconds, the form PostgreSQL parses back exactly), statuses from their closed
//!   enum, and the one free text (the email) by [`text_literal`], which doubles quotes inside a
//!   standard string (`'…'`, never `E'…'`; the session sets `standard_conforming_strings = on`, so
//!   a backslash is just a backslash).
//! - **A connection of its own.** diesel-async does not expose the `tokio_postgres::Client`
//!   under its pooled connections, so each export opens one `tokio_postgres` connection from the
//!   pool's URL, without TLS as the pool's do, at most [`ExportSettings::max_concurrent`] at a
//!   time. `statement_timeout` is off on it (an export lasts as long as its client reads), and
//!   `client_connection_check_interval` makes the backend notice a dropped socket while it works.
//! - **Backpressure and cancellation.** tokio-postgres hands the connection's messages over a
//!   channel of one batch, and the stream below reads it only when polled, so the backend waits
//!   on its socket when the client reads slowly. Dropping the stream before the end aborts the
//!   connection's task, which closes the socket: the backend's next write fails and it ends (no
//!   cancel request, no busy connection left behind).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use ports::{CsvChunks, OrderExport, OrderFilter, StoreError};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_postgres::{CopyOutStream, NoTls};

use crate::errors::store_error;

/// A chunk is handed on once it holds this much (or when the database has nothing more ready).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The header row, in order: the SELECT's column names.
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

/// How exports reach PostgreSQL.
#[derive(Clone)]
pub struct ExportSettings {
    /// The pool's URL (`postgres://…`).
    pub url: String,
    /// Shown in `pg_stat_activity` (the pool's name with `-export`).
    pub application_name: String,
    pub connect_timeout: Duration,
    /// Exports running at once, at most; one more is `Unavailable` (503).
    pub max_concurrent: usize,
}

impl std::fmt::Debug for ExportSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportSettings")
            .field("url", &crate::settings::redact_url(&self.url))
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

#[derive(Clone)]
pub struct PgOrderExport {
    settings: ExportSettings,
    slots: Arc<Semaphore>,
}

impl PgOrderExport {
    pub fn new(settings: ExportSettings) -> PgOrderExport {
        let slots = Arc::new(Semaphore::new(settings.max_concurrent.max(1)));
        PgOrderExport { settings, slots }
    }
}

/// The session of an export connection: one round trip. `DateStyle` and `TimeZone` fix the text
/// of the timestamps; `client_connection_check_interval` exists from PostgreSQL 14 on (set only
/// where it exists). `enable_sort = off` keeps the plan that streams (the orders' index walked
/// newest first, each user found through its key): on 1,000,000 orders the planner otherwise
/// chose a parallel hash join and a sort of every row, 2.2 s before the first byte. `jit = off`:
/// compiling costs more than it saves on this plan.
pub const SESSION_SQL: &str = "SET statement_timeout = 0; \
     SET enable_sort = off; \
     SET jit = off; \
     SET standard_conforming_strings = on; \
     SET DateStyle = 'ISO, MDY'; \
     SET TimeZone = 'UTC'; \
     SET IntervalStyle = 'postgres'; \
     SELECT set_config(name, '1000', false) FROM pg_settings \
      WHERE name = 'client_connection_check_interval'";

#[async_trait]
impl OrderExport for PgOrderExport {
    #[tracing::instrument(skip(self))]
    async fn export_csv(&self, filter: &OrderFilter) -> Result<CsvChunks, StoreError> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| StoreError::Unavailable("too many exports running at once".into()))?;
        let sql = copy_sql(filter);
        let mut config: tokio_postgres::Config = self
            .settings
            .url
            .parse()
            .map_err(|e| StoreError::Internal(format!("the database URL: {e}")))?;
        config
            .application_name(&self.settings.application_name)
            .connect_timeout(self.settings.connect_timeout);
        let (client, connection) =
            tokio::time::timeout(self.settings.connect_timeout, config.connect(NoTls))
                .await
                .map_err(|_| StoreError::Unavailable("connecting for the export timed out".into()))?
                .map_err(store_error)?;
        let connection = AbortOnDrop(Some(tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "export connection ended");
            }
        })));
        client
            .batch_execute(SESSION_SQL)
            .await
            .map_err(store_error)?;
        let rows = Box::pin(client.copy_out(sql.as_str()).await.map_err(store_error)?);
        let mut chunks = CopyChunks {
            rows,
            buf: BytesMut::with_capacity(CHUNK_BYTES),
            done: false,
            _client: client,
            connection,
            _permit: permit,
        };
        // The header row and the first row (or the end): a query that fails on its first row
        // fails here, before the answer starts.
        for _ in 0..2 {
            match chunks.rows.next().await {
                Some(Ok(bytes)) => chunks.buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(store_error(e)),
                None => {
                    chunks.done = true;
                    break;
                }
            }
        }
        Ok(Box::pin(chunks))
    }
}

/// Aborts the task when dropped (the export connection: its socket closes with it), unless
/// detached.
struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    /// Lets the task run to its end.
    fn detach(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// `COPY`'s messages (one per row) gathered into chunks of about [`CHUNK_BYTES`]: a chunk goes as
/// soon as it is full or the connection has nothing more ready, so nothing waits on a half-full
/// buffer and at most one chunk is held here.
struct CopyChunks {
    rows: Pin<Box<CopyOutStream>>,
    buf: BytesMut,
    /// The database said `CopyDone` (or failed): nothing more will come.
    done: bool,
    /// Kept alive until the end (dropping it ends the connection gracefully).
    _client: tokio_postgres::Client,
    /// Dropped last among the connection's parts; aborts it if the export did not finish.
    connection: AbortOnDrop,
    _permit: OwnedSemaphorePermit,
}

impl CopyChunks {
    fn take(&mut self) -> Option<Result<Bytes, StoreError>> {
        (!self.buf.is_empty()).then(|| Ok(self.buf.split().freeze()))
    }
}

impl Stream for CopyChunks {
    type Item = Result<Bytes, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.done {
            match this.rows.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.buf.extend_from_slice(&bytes);
                    if this.buf.len() >= CHUNK_BYTES {
                        return Poll::Ready(this.take());
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.buf.clear();
                    return Poll::Ready(Some(Err(store_error(e))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    // Finished: the connection closes itself (Terminate) once the client goes.
                    this.connection.detach();
                }
                Poll::Pending => {
                    return match this.take() {
                        Some(chunk) => Poll::Ready(Some(chunk)),
                        None => Poll::Pending,
                    };
                }
            }
        }
        Poll::Ready(this.take())
    }
}

/// The `COPY` statement of an export.
pub fn copy_sql(filter: &OrderFilter) -> String {
    format!(
        "COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)",
        select_sql(filter)
    )
}

/// The SELECT whose rows are the contract's CSV cells, as text or NULL (an empty cell; COPY
/// writes an empty string as `""`, the contract's writer wrote nothing, so empty text is NULL
/// here). `COPY` quotes a cell exactly when it holds a comma, a quote, CR or LF, as before.
pub fn select_sql(filter: &OrderFilter) -> String {
    let address = |field: &str| neutralised(&format!("(o.shipping_address ->> '{field}')"));
    let columns = [
        "o.id".to_owned(),
        "o.user_id".to_owned(),
        neutralised("u.email"),
        "o.status".to_owned(),
        "o.payment_status".to_owned(),
        "o.subtotal".to_owned(),
        "o.shipping_amount".to_owned(),
        "o.tax_amount".to_owned(),
        "o.total_amount".to_owned(),
        neutralised("o.currency"),
        "o.payment_collected::text".to_owned(),
        // NULL: placed by a binary older than the column (see its migration).
        "COALESCE(o.item_count, (SELECT COALESCE(sum(i.quantity), 0)::bigint \
           FROM order_items i WHERE i.order_id = o.id))"
            .to_owned(),
        address("name"),
        address("city"),
        address("country"),
        rfc3339("o.created_at"),
        rfc3339("o.updated_at"),
    ];
    let select: Vec<String> = columns
        .iter()
        .zip(COLUMNS)
        .map(|(expr, name)| format!("{expr} AS {name}"))
        .collect();
    format!(
        "SELECT {} FROM orders o JOIN users u ON u.id = o.user_id{} \
         ORDER BY o.created_at DESC, o.id DESC",
        select.join(", "),
        filter_sql(filter)
    )
}

/// A text cell as the contract wants it: a value starting with `=`, `+`, `-`, `@`, tab or CR gets
/// a leading `'` (spreadsheets would run it); empty or missing → NULL (an empty cell).
/// `ascii()` is the first character's code point (0 for '', NULL for NULL).
fn neutralised(expr: &str) -> String {
    format!(
        "NULLIF(CASE WHEN ascii({expr}) IN (9, 13, 43, 45, 61, 64) \
         THEN '''' || {expr} ELSE {expr} END, '')"
    )
}

/// RFC 3339 in UTC as the JSON has it (`2026-11-25T10:00:00.123456Z`, trailing zeros of the
/// fraction dropped, no fraction on a whole second): `timestamp`'s ISO text does exactly that.
fn rfc3339(expr: &str) -> String {
    format!("replace(({expr} AT TIME ZONE 'UTC')::text, ' ', 'T') || 'Z'")
}

/// ` WHERE …` for every filter given (empty when none).
pub fn filter_sql(filter: &OrderFilter) -> String {
    let mut conditions = Vec::new();
    match filter.statuses.as_slice() {
        [] => {}
        // An equality, not `IN`, for one status: PostgreSQL walks the status index in order only
        // then (see `orders::queries::filtered`).
        [status] => conditions.push(format!("o.status = {}", text_literal(status.as_str()))),
        statuses => {
            let list: Vec<String> = statuses.iter().map(|s| text_literal(s.as_str())).collect();
            conditions.push(format!("o.status IN ({})", list.join(", ")));
        }
    }
    if let Some(user_id) = filter.user_id {
        conditions.push(format!("o.user_id = {}", bigint_literal(user_id)));
    }
    if let Some(email) = &filter.email {
        conditions.push(match text_literal_checked(email) {
            Some(email) => format!("lower(u.email) = lower({email})"),
            // No stored text holds a NUL byte: nothing matches.
            None => "FALSE".to_owned(),
        });
    }
    if let Some(from) = filter.created_from {
        conditions.push(format!("o.created_at >= {}", timestamptz_literal(from)));
    }
    if let Some(to) = filter.created_to {
        conditions.push(format!("o.created_at < {}", timestamptz_literal(to)));
    }
    if let Some(min) = filter.min_total {
        conditions.push(format!("o.total_amount >= {}", bigint_literal(min)));
    }
    if let Some(max) = filter.max_total {
        conditions.push(format!("o.total_amount <= {}", bigint_literal(max)));
    }
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// `'…'` with every `'` doubled: a standard string (the session has
/// `standard_conforming_strings = on`, so backslashes are plain characters). `None` when `text`
/// holds a NUL byte, which no PostgreSQL text can.
pub fn text_literal_checked(text: &str) -> Option<String> {
    if text.contains('\0') {
        return None;
    }
    Some(format!("'{}'", text.replace('\'', "''")))
}

/// [`text_literal_checked`] for text known to hold no NUL (a closed enum's names).
fn text_literal(text: &str) -> String {
    text_literal_checked(text).unwrap_or_else(|| "NULL".to_owned())
}

/// `(-12)::bigint`: Rust's decimal digits, parenthesised so that a minus sign never meets
/// another operator (`--` would start a comment).
pub fn bigint_literal(value: i64) -> String {
    format!("({value})::bigint")
}

/// `'2026-11-25T10:00:00.123456Z'::timestamptz`, in UTC, cut to microseconds as PostgreSQL keeps
/// them (diesel's binding cut them the same way). Years outside 0000–9999 are clamped to
/// PostgreSQL's `-infinity`/`infinity`, which compare as those instants would.
pub fn timestamptz_literal(value: OffsetDateTime) -> String {
    let utc = value.to_offset(time::UtcOffset::UTC);
    if utc.year() < 1 {
        return "'-infinity'::timestamptz".to_owned();
    }
    if utc.year() > 9999 {
        return "'infinity'::timestamptz".to_owned();
    }
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    match utc.format(format) {
        Ok(text) => format!("'{text}'::timestamptz"),
        // Unreachable for years 1–9999; an impossible filter rather than a wrong one.
        Err(_) => "NULL::timestamptz".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use domain::OrderStatus;
    use time::macros::datetime;

    use super::*;

    #[test]
    fn text_literals_double_quotes_and_keep_backslashes() {
        for (raw, literal) in [
            ("ada@example.com", "'ada@example.com'"),
            ("o'hara@example.com", "'o''hara@example.com'"),
            ("'; DROP TABLE orders; --", "'''; DROP TABLE orders; --'"),
            ("a\\'b", "'a\\''b'"),
            ("\\", "'\\'"),
            ("''", "''''''"),
            ("$$x$$", "'$$x$$'"),
            ("é\n\t\r", "'é\n\t\r'"),
            ("", "''"),
        ] {
            assert_eq!(
                text_literal_checked(raw).as_deref(),
                Some(literal),
                "{raw:?}"
            );
        }
        assert_eq!(text_literal_checked("a\0b"), None);
    }

    #[test]
    fn numbers_and_timestamps_are_typed_literals() {
        assert_eq!(bigint_literal(42), "(42)::bigint");
        assert_eq!(bigint_literal(-5), "(-5)::bigint");
        assert_eq!(bigint_literal(i64::MIN), "(-9223372036854775808)::bigint");
        assert_eq!(
            timestamptz_literal(datetime!(2026-11-25 12:30:00.123456789 +02:00)),
            "'2026-11-25T10:30:00.123456Z'::timestamptz"
        );
        assert_eq!(
            timestamptz_literal(datetime!(2026-11-25 10:00 UTC)),
            "'2026-11-25T10:00:00.000000Z'::timestamptz"
        );
        assert_eq!(
            timestamptz_literal(datetime!(0000-01-01 0:00 UTC)),
            "'-infinity'::timestamptz"
        );
    }

    #[test]
    fn every_filter_is_rendered_and_joined() {
        let filter = OrderFilter {
            statuses: vec![OrderStatus::Paid, OrderStatus::Cancelled],
            user_id: Some(7),
            email: Some("O'Hara@Example.com".into()),
            created_from: Some(datetime!(2026-11-01 0:00 UTC)),
            created_to: Some(datetime!(2026-12-01 0:00 UTC)),
            min_total: Some(-1),
            max_total: Some(5000),
        };
        assert_eq!(
            filter_sql(&filter),
            " WHERE o.status IN ('PAID', 'CANCELLED') AND o.user_id = (7)::bigint \
             AND lower(u.email) = lower('O''Hara@Example.com') \
             AND o.created_at >= '2026-11-01T00:00:00.000000Z'::timestamptz \
             AND o.created_at < '2026-12-01T00:00:00.000000Z'::timestamptz \
             AND o.total_amount >= (-1)::bigint AND o.total_amount <= (5000)::bigint"
        );
        assert_eq!(filter_sql(&OrderFilter::default()), "");
        let one = OrderFilter {
            statuses: vec![OrderStatus::Pending],
            email: Some("x\0y".into()),
            ..OrderFilter::default()
        };
        assert_eq!(filter_sql(&one), " WHERE o.status = 'PENDING' AND FALSE");
    }

    #[test]
    fn the_statement_names_every_column_in_order() {
        let sql = copy_sql(&OrderFilter::default());
        assert!(sql.starts_with("COPY (SELECT o.id AS id, o.user_id AS user_id, NULLIF("));
        assert!(sql.ends_with(
            "ORDER BY o.created_at DESC, o.id DESC) TO STDOUT WITH (FORMAT csv, HEADER)"
        ));
        let mut at = 0;
        for name in COLUMNS {
            let found = sql[at..]
                .find(&format!(" AS {name}"))
                .unwrap_or_else(|| panic!("{name} after byte {at}"));
            at += found + 1;
        }
    }

    /// The benchmark's psql runs exactly the server's statement (`make bench`, scenario 5).
    /// `BLESS=1 cargo test -p adapters-postgres --lib export` rewrites the file.
    #[test]
    fn the_bench_copies_the_same_statement() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/sql/export-copy.sql"
        );
        let want = format!(
            "-- The export's session and statement, exactly as the server sends them (checked by a\n\
             -- unit test in crates/adapters-postgres/src/export.rs): scenario 5 of scripts/bench.sh\n\
             -- times them.\n{SESSION_SQL};\n{};\n",
            copy_sql(&OrderFilter::default())
        );
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(path, &want).expect("write");
        }
        let have = std::fs::read_to_string(path).expect("bench/sql/export-copy.sql");
        assert!(
            have == want,
            "bench/sql/export-copy.sql differs: run with BLESS=1"
        );
    }
}
