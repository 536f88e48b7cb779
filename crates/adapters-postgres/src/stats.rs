//! [`StatsRepository`] over the rollups `order_stats_hourly` and `order_stats_counters`, which
//! triggers keep in the transactions that change orders and items (migration
//! `2026-12-09-000001_catalogue_stats`; docs/architecture.md, "Admin statistics"). Reads sum the
//! rollups' slots; nothing here counts orders, except [`StatsRepository::before_boundaries`]:
//! the orders of the part-hours before boundaries that fall inside UTC hours.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use domain::stats::{Interval, SalesFigures};
use ports::{BoundariesError, StatsRepository, StatsSummary, StoreError};
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::pool::PgPool;

#[derive(Clone)]
pub struct PgStatsRepository {
    pool: PgPool,
    /// The time-zone database's names, lower case, read once.
    zones: Arc<OnceLock<HashSet<String>>>,
}

impl PgStatsRepository {
    pub fn new(pool: PgPool) -> PgStatsRepository {
        PgStatsRepository {
            pool,
            zones: Arc::default(),
        }
    }

    /// Whether PostgreSQL's time-zone database has `tz` (any case), from a list read once per
    /// process (`pg_timezone_names` reads the zone files: tens of milliseconds).
    async fn knows_zone(&self, tz: &str) -> Result<bool, StoreError> {
        if let Some(zones) = self.zones.get() {
            return Ok(zones.contains(&tz.to_lowercase()));
        }
        #[derive(QueryableByName)]
        struct Zone {
            #[diesel(sql_type = Text)]
            name: String,
        }
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let names: Vec<Zone> = diesel::sql_query("SELECT name FROM pg_timezone_names")
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        let zones: HashSet<String> = names.into_iter().map(|z| z.name.to_lowercase()).collect();
        let known = zones.contains(&tz.to_lowercase());
        // Another request may have filled it meanwhile: the same list.
        let _ = self.zones.set(zones);
        Ok(known)
    }
}

#[derive(QueryableByName)]
struct Boundary {
    #[diesel(sql_type = Timestamptz)]
    b: OffsetDateTime,
}

#[derive(QueryableByName)]
struct FiguresRow {
    #[diesel(sql_type = Timestamptz)]
    start: OffsetDateTime,
    #[diesel(sql_type = BigInt)]
    orders: i64,
    #[diesel(sql_type = BigInt)]
    paid_orders: i64,
    #[diesel(sql_type = BigInt)]
    units: i64,
    #[diesel(sql_type = BigInt)]
    gross: i64,
    #[diesel(sql_type = BigInt)]
    refunded: i64,
}

impl FiguresRow {
    fn into_pair(self) -> (OffsetDateTime, SalesFigures) {
        (
            self.start,
            SalesFigures {
                orders: self.orders,
                paid_orders: self.paid_orders,
                units: self.units,
                gross: self.gross,
                refunded: self.refunded,
            },
        )
    }
}

#[derive(QueryableByName)]
struct SummaryRow {
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    paid: i64,
    #[diesel(sql_type = BigInt)]
    fulfilled: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    awaiting_payment: i64,
    #[diesel(sql_type = BigInt)]
    units_to_ship: i64,
    #[diesel(sql_type = BigInt)]
    failed_webhook_deliveries: i64,
    #[diesel(sql_type = BigInt)]
    today_orders: i64,
    #[diesel(sql_type = BigInt)]
    today_paid_orders: i64,
    #[diesel(sql_type = BigInt)]
    today_units: i64,
    #[diesel(sql_type = BigInt)]
    today_gross: i64,
    #[diesel(sql_type = BigInt)]
    today_refunded: i64,
}

/// Hours: the zone's hour starts from the one holding `$1` while before `$2`, then the end of
/// the last (hours are 3,600 s in every zone, so `+ 1 hour` is exact).
const HOUR_BOUNDARIES: &str = "\
    WITH s AS ( \
        SELECT b FROM generate_series(date_trunc('hour', $1::timestamptz, $3::text), \
                                      $2::timestamptz, interval '1 hour') AS b \
         WHERE b < $2::timestamptz) \
    SELECT b FROM s \
    UNION ALL SELECT max(b) + interval '1 hour' FROM s \
    ORDER BY 1";

/// Days: the zone's local dates from the one holding `$1`, each local midnight read back as an
/// instant (`AT TIME ZONE`, so a day may last 23 or 25 hours), while before `$2`, then the end of
/// the last.
const DAY_BOUNDARIES: &str = "\
    WITH d AS ( \
        SELECT d FROM generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE $3::text), \
                                      $2::timestamptz AT TIME ZONE $3::text, \
                                      interval '1 day') AS d \
         WHERE (d AT TIME ZONE $3::text) < $2::timestamptz) \
    SELECT (d AT TIME ZONE $3::text) AS b FROM d \
    UNION ALL SELECT ((max(d) + interval '1 day') AT TIME ZONE $3::text) FROM d \
    ORDER BY 1";

/// The rollup's hours summed by bucket (`width_bucket`: the last boundary at or before the
/// hour), in the database: a year by day returns 365 rows, not 8,760.
const SUMS_BY_BUCKET: &str = "\
    SELECT ($1::timestamptz[])[width_bucket(hour, $1::timestamptz[])] AS start, \
           sum(orders)::bigint AS orders, sum(paid_orders)::bigint AS paid_orders, \
           sum(units)::bigint AS units, sum(gross)::bigint AS gross, \
           sum(refunded)::bigint AS refunded \
      FROM order_stats_hourly \
     WHERE hour >= ($1::timestamptz[])[1] \
       AND hour < ($1::timestamptz[])[array_length($1::timestamptz[], 1)] \
     GROUP BY 1 \
     ORDER BY 1";

/// For each boundary, the orders from its UTC hour's start to it (one index range each).
const BEFORE_BOUNDARIES: &str = "\
    SELECT b AS start, f.orders, f.paid_orders, f.units, f.gross, f.refunded \
      FROM unnest($1::timestamptz[]) AS b \
     CROSS JOIN LATERAL ( \
        SELECT count(*)::bigint AS orders, \
               count(*) FILTER (WHERE o.payment_collected)::bigint AS paid_orders, \
               coalesce(sum((SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = o.id)) \
                        FILTER (WHERE o.payment_collected), 0)::bigint AS units, \
               coalesce(sum(o.total_amount) FILTER (WHERE o.payment_collected), 0)::bigint \
                   AS gross, \
               coalesce(sum(o.refunded_amount) FILTER (WHERE o.payment_collected), 0)::bigint \
                   AS refunded \
          FROM orders o \
         WHERE o.created_at >= date_trunc('hour', b, 'UTC') AND o.created_at < b) AS f \
     ORDER BY b";

/// The counters' slots, the failed deliveries (their partial index), the day's hours.
const SUMMARY: &str = "\
    SELECT c.pending, c.paid, c.fulfilled, c.cancelled, c.awaiting_payment, c.units_to_ship, \
           (SELECT count(*) FROM webhook_deliveries WHERE status = 'failed') \
               AS failed_webhook_deliveries, \
           t.orders AS today_orders, t.paid_orders AS today_paid_orders, t.units AS today_units, \
           t.gross AS today_gross, t.refunded AS today_refunded \
      FROM (SELECT coalesce(sum(pending), 0)::bigint AS pending, \
                   coalesce(sum(paid), 0)::bigint AS paid, \
                   coalesce(sum(fulfilled), 0)::bigint AS fulfilled, \
                   coalesce(sum(cancelled), 0)::bigint AS cancelled, \
                   coalesce(sum(awaiting_payment), 0)::bigint AS awaiting_payment, \
                   coalesce(sum(units_to_ship), 0)::bigint AS units_to_ship \
              FROM order_stats_counters) c, \
           (SELECT coalesce(sum(orders), 0)::bigint AS orders, \
                   coalesce(sum(paid_orders), 0)::bigint AS paid_orders, \
                   coalesce(sum(units), 0)::bigint AS units, \
                   coalesce(sum(gross), 0)::bigint AS gross, \
                   coalesce(sum(refunded), 0)::bigint AS refunded \
              FROM order_stats_hourly WHERE hour >= $1 AND hour < $2) t";

#[async_trait]
impl StatsRepository for PgStatsRepository {
    async fn bucket_boundaries(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        interval: Interval,
        tz: &str,
    ) -> Result<Vec<OffsetDateTime>, BoundariesError> {
        if !self.knows_zone(tz).await? {
            return Err(BoundariesError::UnknownTimeZone);
        }
        let sql = match interval {
            Interval::Hour => HOUR_BOUNDARIES,
            Interval::Day => DAY_BOUNDARIES,
        };
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<Boundary> = diesel::sql_query(sql)
            .bind::<Timestamptz, _>(from)
            .bind::<Timestamptz, _>(to)
            .bind::<Text, _>(tz)
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(|r| r.b).collect())
    }

    async fn sums_by_bucket(
        &self,
        boundaries: &[OffsetDateTime],
    ) -> Result<Vec<(OffsetDateTime, SalesFigures)>, StoreError> {
        if boundaries.len() < 2 {
            return Ok(Vec::new());
        }
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let rows: Vec<FiguresRow> = diesel::sql_query(SUMS_BY_BUCKET)
            .bind::<Array<Timestamptz>, _>(boundaries)
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(FiguresRow::into_pair).collect())
    }

    async fn before_boundaries(
        &self,
        boundaries: &[OffsetDateTime],
    ) -> Result<Vec<(OffsetDateTime, SalesFigures)>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        // The planner cannot know how few orders a part-hour holds (the bounds are per row of
        // the array) and prices the plan high enough to JIT-compile it: ~0.4 s of compilation
        // for ~20 ms of work, measured on a million orders. Off for this transaction.
        let rows: Vec<FiguresRow> = conn
            .transaction(async |conn| {
                diesel::sql_query("SET LOCAL jit = off")
                    .execute(conn)
                    .await?;
                diesel::sql_query(BEFORE_BOUNDARIES)
                    .bind::<Array<Timestamptz>, _>(boundaries)
                    .load(conn)
                    .await
            })
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(FiguresRow::into_pair).collect())
    }

    async fn summary(
        &self,
        day_start: OffsetDateTime,
        day_end: OffsetDateTime,
    ) -> Result<StatsSummary, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let row: SummaryRow = diesel::sql_query(SUMMARY)
            .bind::<Timestamptz, _>(day_start)
            .bind::<Timestamptz, _>(day_end)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(StatsSummary {
            pending: row.pending,
            paid: row.paid,
            fulfilled: row.fulfilled,
            cancelled: row.cancelled,
            awaiting_payment: row.awaiting_payment,
            units_to_ship: row.units_to_ship,
            failed_webhook_deliveries: row.failed_webhook_deliveries,
            today: SalesFigures {
                orders: row.today_orders,
                paid_orders: row.today_paid_orders,
                units: row.today_units,
                gross: row.today_gross,
                refunded: row.today_refunded,
            },
        })
    }
}
