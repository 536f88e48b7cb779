//! Admin statistics: the sales report and the summary, read from the rollups the store keeps as
//! orders change (see [`ports::StatsRepository`]); the query rules and the bucket arithmetic
//! are the domain's ([`domain::stats`]).

use std::sync::Arc;

use domain::ValidationErrors;
use domain::stats::{
    SalesQuery, SalesQueryInput, SalesReport, cutting, rows_for_cut_hours, sum_into_buckets,
    too_many_buckets, utc_day_start, utc_hour_start, validate_sales_query,
};
use ports::{BoundariesError, Clock, StatsRepository, StatsSummary, StoreError};
use time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsQueryError {
    /// Fields `created_from`, `created_to`, `interval`, `tz` (422).
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The admin statistics.
#[derive(Clone)]
pub struct StatsService {
    stats: Arc<dyn StatsRepository>,
    clock: Arc<dyn Clock>,
}

impl StatsService {
    pub fn new(stats: Arc<dyn StatsRepository>, clock: Arc<dyn Clock>) -> StatsService {
        StatsService { stats, clock }
    }

    /// The sales report: the query checked, the zone's bucket boundaries, the hourly rollup
    /// summed into the buckets by the store; in zones with 30- and 45-minute offsets, summed by
    /// the boundaries truncated to their UTC hour, with the orders of each part-hour before a
    /// boundary counted and moved to the bucket before it.
    #[tracing::instrument(skip(self))]
    pub async fn sales(
        &self,
        input: &SalesQueryInput,
    ) -> Result<(SalesQuery, SalesReport), StatsQueryError> {
        let query = validate_sales_query(input, self.clock.now())?;
        let boundaries = self
            .stats
            .bucket_boundaries(query.from, query.to, query.interval, &query.tz)
            .await
            .map_err(|e| match e {
                BoundariesError::UnknownTimeZone => StatsQueryError::Validation(
                    ValidationErrors::single("tz", "is not a known IANA time zone"),
                ),
                BoundariesError::Store(e) => StatsQueryError::Store(e),
            })?;
        if let Some(errors) = too_many_buckets(query.interval, &boundaries) {
            return Err(errors.into());
        }
        let cuts = cutting(&boundaries);
        let rows = if cuts.is_empty() {
            self.stats.sums_by_bucket(&boundaries).await?
        } else {
            let truncated: Vec<_> = boundaries.iter().map(|b| utc_hour_start(*b)).collect();
            let sums = self.stats.sums_by_bucket(&truncated).await?;
            let before = self.stats.before_boundaries(&cuts).await?;
            rows_for_cut_hours(&boundaries, &sums, &before)
        };
        Ok((query, sum_into_buckets(&boundaries, &rows)))
    }

    /// The summary; "today" is the current UTC day.
    #[tracing::instrument(skip(self))]
    pub async fn summary(&self) -> Result<StatsSummary, StoreError> {
        let start = utc_day_start(self.clock.now());
        self.stats.summary(start, start + Duration::days(1)).await
    }
}

#[cfg(test)]
mod tests {
    use domain::stats::{Interval, SalesFigures};
    use mockall::predicate::eq;
    use ports::clock::MockClock;
    use ports::stats::MockStatsRepository;
    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-09 10:30 UTC);

    fn service(stats: MockStatsRepository) -> StatsService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        StatsService::new(Arc::new(stats), Arc::new(clock))
    }

    fn one(gross: i64) -> SalesFigures {
        SalesFigures {
            orders: 1,
            paid_orders: 1,
            units: 1,
            gross,
            refunded: 0,
        }
    }

    fn input(tz: &str) -> SalesQueryInput {
        SalesQueryInput {
            created_from: Some(datetime!(2026-12-01 0:00 UTC)),
            created_to: Some(datetime!(2026-12-03 0:00 UTC)),
            interval: Some("day".into()),
            tz: Some(tz.into()),
        }
    }

    #[tokio::test]
    async fn whole_hour_zones_have_the_store_sum_the_hours_by_bucket() {
        let mut stats = MockStatsRepository::new();
        let boundaries = vec![
            datetime!(2026-12-01 0:00 UTC),
            datetime!(2026-12-02 0:00 UTC),
            datetime!(2026-12-03 0:00 UTC),
        ];
        let returned = boundaries.clone();
        stats
            .expect_bucket_boundaries()
            .with(
                eq(datetime!(2026-12-01 0:00 UTC)),
                eq(datetime!(2026-12-03 0:00 UTC)),
                eq(Interval::Day),
                eq("UTC"),
            )
            .times(1)
            .returning(move |_, _, _, _| Ok(returned.clone()));
        stats
            .expect_sums_by_bucket()
            .withf(move |b| b == boundaries.as_slice())
            .times(1)
            .returning(|_| {
                Ok(vec![
                    (datetime!(2026-12-01 0:00 UTC), one(100)),
                    (datetime!(2026-12-02 0:00 UTC), one(50)),
                ])
            });
        let (query, report) = service(stats).sales(&input("UTC")).await.expect("report");
        assert_eq!(query.interval, Interval::Day);
        assert_eq!(report.buckets.len(), 2);
        assert_eq!(report.buckets[1].figures.gross, 50);
        assert_eq!(report.totals.gross, 150);
    }

    #[tokio::test]
    async fn half_hour_zones_split_the_hours_their_boundaries_cut() {
        let mut stats = MockStatsRepository::new();
        let boundaries = vec![
            datetime!(2026-11-30 18:30 UTC),
            datetime!(2026-12-01 18:30 UTC),
        ];
        let returned = boundaries.clone();
        stats
            .expect_bucket_boundaries()
            .returning(move |_, _, _, _| Ok(returned.clone()));
        stats
            .expect_sums_by_bucket()
            .withf(|b| {
                b == [
                    datetime!(2026-11-30 18:00 UTC),
                    datetime!(2026-12-01 18:00 UTC),
                ]
            })
            .times(1)
            .returning(|_| Ok(vec![(datetime!(2026-11-30 18:00 UTC), one(100))]));
        stats
            .expect_before_boundaries()
            .withf(move |b| b == boundaries.as_slice())
            .times(1)
            .returning(|b| Ok(vec![(b[0], SalesFigures::default()), (b[1], one(40))]));
        let (_, report) = service(stats)
            .sales(&input("Asia/Kolkata"))
            .await
            .expect("report");
        assert_eq!(report.buckets.len(), 1);
        assert_eq!(report.totals.gross, 140);
    }

    #[tokio::test]
    async fn refusals() {
        let mut stats = MockStatsRepository::new();
        stats
            .expect_bucket_boundaries()
            .returning(|_, _, _, _| Err(BoundariesError::UnknownTimeZone));
        match service(stats).sales(&input("Mars/Olympus")).await {
            Err(StatsQueryError::Validation(e)) => assert_eq!(e.0[0].field, "tz"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        // too many buckets by the zone's boundaries
        let mut stats = MockStatsRepository::new();
        stats.expect_bucket_boundaries().returning(|_, _, _, _| {
            Ok((0..402)
                .map(|h| datetime!(2026-01-01 0:00 UTC) + Duration::hours(h))
                .collect())
        });
        match service(stats).sales(&input("UTC")).await {
            Err(StatsQueryError::Validation(e)) => assert_eq!(e.0[0].field, "created_to"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        // the query is checked before the store is asked
        let bad = SalesQueryInput {
            interval: Some("minute".into()),
            ..input("UTC")
        };
        assert!(matches!(
            service(MockStatsRepository::new()).sales(&bad).await,
            Err(StatsQueryError::Validation(_))
        ));
    }

    #[tokio::test]
    async fn the_summary_is_of_the_utc_day() {
        let mut stats = MockStatsRepository::new();
        stats
            .expect_summary()
            .with(
                eq(datetime!(2026-12-09 0:00 UTC)),
                eq(datetime!(2026-12-10 0:00 UTC)),
            )
            .times(1)
            .returning(|_, _| {
                Ok(StatsSummary {
                    pending: 2,
                    ..StatsSummary::default()
                })
            });
        assert_eq!(service(stats).summary().await.expect("summary").pending, 2);
    }
}
