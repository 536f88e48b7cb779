//! Admin statistics: rollups of the orders kept up to date as orders change (never recounted
//! for a request).

use async_trait::async_trait;
use domain::stats::{Interval, SalesFigures};
use time::OffsetDateTime;

use crate::StoreError;

/// The figures of the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSummary {
    pub pending: i64,
    pub paid: i64,
    pub fulfilled: i64,
    pub cancelled: i64,
    /// `PENDING` orders waiting for the customer's payment (`unpaid` or `failed`).
    pub awaiting_payment: i64,
    /// Open units (neither shipped nor cancelled) of `PAID` orders.
    pub units_to_ship: i64,
    /// Webhook deliveries that ran out of attempts (`failed`).
    pub failed_webhook_deliveries: i64,
    /// The sales figures of the orders created in the given day.
    pub today: SalesFigures,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundariesError {
    /// The time-zone database has no zone of this name.
    #[error("unknown time zone")]
    UnknownTimeZone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait StatsRepository: Send + Sync {
    /// The start of every bucket of `interval` in zone `tz` that holds a moment of
    /// `[from, to)` (the first holds `from`), oldest first, then the end of the last one. Hours
    /// and days are the zone's own (a day may last 23 or 25 hours). `UnknownTimeZone` for a
    /// name the time-zone database does not know.
    async fn bucket_boundaries(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        interval: Interval,
        tz: &str,
    ) -> Result<Vec<OffsetDateTime>, BoundariesError>;

    /// The hourly rollup summed into the buckets `boundaries` (whole UTC hours) delimit, one
    /// row per bucket that has orders, dated by the bucket's start, oldest first.
    async fn sums_by_bucket(
        &self,
        boundaries: &[OffsetDateTime],
    ) -> Result<Vec<(OffsetDateTime, SalesFigures)>, StoreError>;

    /// For each of `boundaries` (none a whole UTC hour), the figures counted from the orders
    /// created in `[the boundary's UTC hour, the boundary)`, dated by the boundary: the part of
    /// an hourly row before a bucket boundary that cuts it (zones with 30- and 45-minute
    /// offsets). Reads the orders of those part-hours only.
    async fn before_boundaries(
        &self,
        boundaries: &[OffsetDateTime],
    ) -> Result<Vec<(OffsetDateTime, SalesFigures)>, StoreError>;

    /// Orders by status, awaiting payment, units to ship, failed webhook deliveries, and the
    /// sales figures of the orders created in `[day_start, day_end)`.
    async fn summary(
        &self,
        day_start: OffsetDateTime,
        day_end: OffsetDateTime,
    ) -> Result<StatsSummary, StoreError>;
}
