//! Admin statistics: the sales report's query rules and its bucket arithmetic.
//!
//! The figures come from rollups the database keeps as orders change (by UTC hour of creation);
//! the zone's bucket boundaries come from the database's time-zone data. What is decided here:
//! - the query: `interval` `hour` or `day` (default `day`), `tz` (default `UTC`), the range
//!   `[created_from, created_to)`, by default the last 30 days (`day`) or 24 hours (`hour`)
//!   up to now; `created_from` before `created_to`; at most [`MAX_BUCKETS`] buckets;
//! - how the hourly rollup answers: as it is when every boundary is a whole UTC hour (zones
//!   whose offset is whole hours); else each UTC hour a boundary cuts is split there, with the
//!   orders of its part before the boundary counted and moved ([`rows_for_cut_hours`]: 30- and
//!   45-minute offsets);
//! - how rows are summed into buckets: a bucket covers `[start, next start)`, every bucket is
//!   listed (zeros where nothing happened), oldest first, with the totals.

use time::{Duration, OffsetDateTime};

use crate::validation::ValidationErrors;

/// The most buckets one report may hold.
pub const MAX_BUCKETS: usize = 400;

/// Range ends from this instant on are refused: a bucket's end must stay within the four-digit
/// years that timestamps are written in.
pub const LATEST: OffsetDateTime = time::macros::datetime!(9999-01-01 0:00 UTC);

/// The longest accepted time-zone name.
pub const TZ_MAX: usize = 64;

/// The width of a bucket, in the report's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn parse(value: &str) -> Option<Interval> {
        match value {
            "hour" => Some(Interval::Hour),
            "day" => Some(Interval::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    /// The range reported when none is given, ending now.
    pub fn default_span(self) -> Duration {
        match self {
            Interval::Hour => Duration::hours(24),
            Interval::Day => Duration::days(30),
        }
    }

    /// The longest a bucket can be (a day of 25 hours, when clocks go back).
    fn longest(self) -> Duration {
        match self {
            Interval::Hour => Duration::hours(1),
            Interval::Day => Duration::hours(25),
        }
    }
}

/// The report's parameters as sent (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesQueryInput {
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub interval: Option<String>,
    pub tz: Option<String>,
}

/// A valid report query: `[from, to)`, buckets of `interval` in zone `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesQuery {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    pub interval: Interval,
    /// An IANA zone name as sent (the database says whether it knows it).
    pub tz: String,
}

/// Checks the query; `now` ends the default range. Refuses a range that certainly holds more than
/// [`MAX_BUCKETS`] buckets (the exact count, which depends on the zone, is checked with the
/// boundaries: [`too_many_buckets`]).
pub fn validate_sales_query(
    input: &SalesQueryInput,
    now: OffsetDateTime,
) -> Result<SalesQuery, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let interval = match input.interval.as_deref().map(str::trim) {
        None | Some("") => Interval::Day,
        Some(value) => Interval::parse(value).unwrap_or_else(|| {
            errors.add("interval", "must be hour or day");
            Interval::Day
        }),
    };
    let tz = match input.tz.as_deref().map(str::trim) {
        None | Some("") => "UTC".to_owned(),
        Some(tz) => {
            if !is_zone_name(tz) {
                errors.add("tz", "must be an IANA time zone, e.g. Europe/London");
            }
            tz.to_owned()
        }
    };
    let mut far = false;
    for (field, value) in [
        ("created_from", input.created_from),
        ("created_to", input.created_to),
    ] {
        if value.is_some_and(|v| v >= LATEST) {
            errors.add(field, "must be before 9999-01-01T00:00:00Z");
            far = true;
        }
    }
    let to = input.created_to.unwrap_or(now);
    let from = input
        .created_from
        .unwrap_or_else(|| to.saturating_sub(interval.default_span()));
    if far {
        // named above; the range checks would only repeat it
    } else if from >= to {
        errors.add("created_from", "must be before created_to");
    } else if (to - from) > interval.longest() * (MAX_BUCKETS as i32) {
        // At least 401 buckets whatever the zone: refused before any boundary is computed.
        errors.add("created_to", too_many_message(interval));
    }
    errors.into_result(SalesQuery {
        from,
        to,
        interval,
        tz,
    })
}

fn too_many_message(interval: Interval) -> String {
    format!(
        "the range holds more than {MAX_BUCKETS} buckets of one {}",
        interval.as_str()
    )
}

/// The refusal of a range whose `boundaries` (every bucket's start, then the last one's end)
/// make more than [`MAX_BUCKETS`] buckets.
pub fn too_many_buckets(
    interval: Interval,
    boundaries: &[OffsetDateTime],
) -> Option<ValidationErrors> {
    (boundaries.len().saturating_sub(1) > MAX_BUCKETS)
        .then(|| ValidationErrors::single("created_to", too_many_message(interval)))
}

/// A time-zone name's shape: `Area/Location` words of letters, digits, `_`, `-`, `+`
/// (`UTC`, `Europe/London`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`), at most 64
/// characters. Whether the zone exists is the time-zone database's answer.
pub fn is_zone_name(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= TZ_MAX
        && tz.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
}

/// Whether every boundary is a whole UTC hour, so that the hourly rollup answers exactly.
pub fn on_whole_utc_hours(boundaries: &[OffsetDateTime]) -> bool {
    boundaries
        .iter()
        .all(|b| b.unix_timestamp().rem_euclid(3600) == 0 && b.nanosecond() == 0)
}

/// The sales figures of some orders (cents for money).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesFigures {
    /// Every order.
    pub orders: i64,
    /// Orders whose payment was captured (refunded ones included).
    pub paid_orders: i64,
    /// Units of the captured orders.
    pub units: i64,
    /// The total of the captured orders.
    pub gross: i64,
    /// What was refunded of them.
    pub refunded: i64,
}

impl SalesFigures {
    /// `self − other`, field by field.
    pub fn minus(&self, other: &SalesFigures) -> SalesFigures {
        SalesFigures {
            orders: self.orders.saturating_sub(other.orders),
            paid_orders: self.paid_orders.saturating_sub(other.paid_orders),
            units: self.units.saturating_sub(other.units),
            gross: self.gross.saturating_sub(other.gross),
            refunded: self.refunded.saturating_sub(other.refunded),
        }
    }

    /// `gross − refunded`.
    pub fn net(&self) -> i64 {
        self.gross.saturating_sub(self.refunded)
    }

    pub fn add(&mut self, other: &SalesFigures) {
        self.orders = self.orders.saturating_add(other.orders);
        self.paid_orders = self.paid_orders.saturating_add(other.paid_orders);
        self.units = self.units.saturating_add(other.units);
        self.gross = self.gross.saturating_add(other.gross);
        self.refunded = self.refunded.saturating_add(other.refunded);
    }
}

/// The start of `t`'s UTC hour.
pub fn utc_hour_start(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_time(time::Time::MIDNIGHT) + Duration::hours(i64::from(t.hour()))
}

/// The boundaries that cut a UTC hour (not whole hours).
pub fn cutting(boundaries: &[OffsetDateTime]) -> Vec<OffsetDateTime> {
    boundaries
        .iter()
        .copied()
        .filter(|b| utc_hour_start(*b) != *b)
        .collect()
}

/// The rows to sum into the buckets of `boundaries` when some of them cut UTC hours (zones with
/// 30- and 45-minute offsets), from what the rollup can give: `sums`, the hourly rollup summed
/// by the buckets of the boundaries truncated to their UTC hour (dated by the truncated start),
/// and `before`, for each cutting boundary `b`, the orders created in `[b's hour, b)` (dated by
/// `b`). Bucket `i` is then its truncated bucket, less the part-hour before its own start, plus
/// the part-hour before the next bucket's start. Boundaries are at least an hour apart, so
/// their truncations are distinct.
pub fn rows_for_cut_hours(
    boundaries: &[OffsetDateTime],
    sums: &[(OffsetDateTime, SalesFigures)],
    before: &[(OffsetDateTime, SalesFigures)],
) -> Vec<(OffsetDateTime, SalesFigures)> {
    let start_of: std::collections::HashMap<OffsetDateTime, OffsetDateTime> = boundaries
        .iter()
        .map(|b| (utc_hour_start(*b), *b))
        .collect();
    let mut rows = Vec::with_capacity(sums.len() + 2 * before.len());
    for (truncated, figures) in sums {
        if let Some(start) = start_of.get(truncated) {
            rows.push((*start, *figures));
        }
    }
    for (b, part) in before {
        rows.push((*b, SalesFigures::default().minus(part)));
        let index = boundaries.partition_point(|x| x < b);
        if let Some(previous) = index.checked_sub(1).and_then(|i| boundaries.get(i)) {
            rows.push((*previous, *part));
        }
    }
    rows
}

/// One bucket of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesBucket {
    pub start: OffsetDateTime,
    pub figures: SalesFigures,
}

/// The report: one bucket per interval, oldest first, and their totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesReport {
    pub buckets: Vec<SalesBucket>,
    pub totals: SalesFigures,
}

/// Sums `rows` (each dated by the start of the time it covers, which lies inside one bucket)
/// into the buckets that `boundaries` delimit: bucket `i` is `[boundaries[i], boundaries[i+1])`.
/// Rows outside every bucket are left out.
pub fn sum_into_buckets(
    boundaries: &[OffsetDateTime],
    rows: &[(OffsetDateTime, SalesFigures)],
) -> SalesReport {
    let mut buckets: Vec<SalesBucket> = boundaries
        .windows(2)
        .filter_map(|pair| pair.first())
        .map(|start| SalesBucket {
            start: *start,
            figures: SalesFigures::default(),
        })
        .collect();
    let mut totals = SalesFigures::default();
    let (Some(first), Some(last)) = (boundaries.first(), boundaries.last()) else {
        return SalesReport { buckets, totals };
    };
    for (at, figures) in rows {
        if at < first || at >= last {
            continue;
        }
        // The bucket whose start is the last one at or before `at`.
        let index = boundaries.partition_point(|b| b <= at).saturating_sub(1);
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.figures.add(figures);
            totals.add(figures);
        }
    }
    SalesReport { buckets, totals }
}

/// The start of `now`'s UTC day (the summary's "today").
pub fn utc_day_start(now: OffsetDateTime) -> OffsetDateTime {
    now.to_offset(time::UtcOffset::UTC)
        .replace_time(time::Time::MIDNIGHT)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-09 10:30 UTC);

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    fn figures(orders: i64, gross: i64, refunded: i64) -> SalesFigures {
        SalesFigures {
            orders,
            paid_orders: orders,
            units: orders * 2,
            gross,
            refunded,
        }
    }

    #[test]
    fn defaults_are_the_last_30_days_by_day_in_utc() {
        let query = validate_sales_query(&SalesQueryInput::default(), NOW).expect("valid");
        assert_eq!(
            query,
            SalesQuery {
                from: datetime!(2026-11-09 10:30 UTC),
                to: NOW,
                interval: Interval::Day,
                tz: "UTC".into(),
            }
        );
        let hourly = SalesQueryInput {
            interval: Some("hour".into()),
            tz: Some(" ".into()),
            ..Default::default()
        };
        let query = validate_sales_query(&hourly, NOW).expect("valid");
        assert_eq!(query.from, datetime!(2026-12-08 10:30 UTC));
        assert_eq!(query.tz, "UTC");
        // only `created_to`: the span before it
        let until = SalesQueryInput {
            created_to: Some(datetime!(2026-01-31 0:00 UTC)),
            ..Default::default()
        };
        assert_eq!(
            validate_sales_query(&until, NOW).expect("valid").from,
            datetime!(2026-01-01 0:00 UTC)
        );
    }

    #[test]
    fn refusals_name_their_parameter() {
        let bad = SalesQueryInput {
            created_from: Some(NOW),
            created_to: Some(NOW),
            interval: Some("week".into()),
            tz: Some("../etc/passwd".into()),
        };
        let errors = validate_sales_query(&bad, NOW).expect_err("invalid");
        assert_eq!(fields(&errors), ["interval", "tz", "created_from"]);
        let long = SalesQueryInput {
            created_from: Some(datetime!(2020-01-01 0:00 UTC)),
            ..Default::default()
        };
        assert_eq!(
            fields(&validate_sales_query(&long, NOW).expect_err("too long")),
            ["created_to"]
        );
        // 400 hours are fine (401 may be: the boundaries decide), 401 and a bit are not
        let hours = |n: i64| SalesQueryInput {
            created_from: Some(NOW - Duration::hours(n)),
            created_to: Some(NOW),
            interval: Some("hour".into()),
            ..Default::default()
        };
        assert!(validate_sales_query(&hours(400), NOW).is_ok());
        assert!(validate_sales_query(&hours(401), NOW).is_err());
        // days: 400 of 25 hours at most; 399 days are fine
        let days = |n: i64| SalesQueryInput {
            created_from: Some(NOW - Duration::days(n)),
            created_to: Some(NOW),
            ..Default::default()
        };
        assert!(validate_sales_query(&days(399), NOW).is_ok());
        // the year 9999's last day would end in the year 10000
        let far = SalesQueryInput {
            created_to: Some(datetime!(9999-12-31 23:59 UTC)),
            ..Default::default()
        };
        assert_eq!(
            fields(&validate_sales_query(&far, NOW).expect_err("far")),
            ["created_to"]
        );
        assert!(validate_sales_query(&days(417), NOW).is_err());
    }

    #[test]
    fn zone_names() {
        for ok in [
            "UTC",
            "Europe/London",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "America/Port-au-Prince",
        ] {
            assert!(is_zone_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Europe/",
            "/UTC",
            "Europe//London",
            "..",
            "a b",
            "UTC;",
            &"A".repeat(65),
        ] {
            assert!(!is_zone_name(bad), "{bad}");
        }
    }

    #[test]
    fn bucket_counts_are_checked_on_the_boundaries() {
        let start = datetime!(2026-01-01 0:00 UTC);
        let boundaries: Vec<OffsetDateTime> =
            (0..=400).map(|h| start + Duration::hours(h)).collect();
        assert!(too_many_buckets(Interval::Hour, &boundaries).is_none());
        let mut more = boundaries.clone();
        more.push(start + Duration::hours(401));
        assert_eq!(
            fields(&too_many_buckets(Interval::Hour, &more).expect("refused")),
            ["created_to"]
        );
    }

    #[test]
    fn whole_hours_or_not() {
        let utc = [
            datetime!(2026-03-29 0:00 UTC),
            datetime!(2026-03-29 23:00 UTC),
        ];
        assert!(on_whole_utc_hours(&utc));
        // Asia/Kolkata's midnight, Asia/Kathmandu's
        assert!(!on_whole_utc_hours(&[datetime!(2026-03-28 18:30 UTC)]));
        assert!(!on_whole_utc_hours(&[datetime!(2026-03-28 18:15 UTC)]));
    }

    #[test]
    fn rows_are_summed_into_their_buckets_with_zeros_between() {
        // Days in Europe/London around the start of summer time (a day of 23 hours).
        let boundaries = [
            datetime!(2026-03-28 0:00 UTC),
            datetime!(2026-03-29 0:00 UTC),
            datetime!(2026-03-29 23:00 UTC),
            datetime!(2026-03-30 23:00 UTC),
        ];
        let rows = [
            (datetime!(2026-03-27 23:00 UTC), figures(100, 1, 0)), // before: left out
            (datetime!(2026-03-28 0:00 UTC), figures(1, 1000, 0)),
            (datetime!(2026-03-28 23:00 UTC), figures(2, 2000, 500)),
            (datetime!(2026-03-29 22:00 UTC), figures(3, 3000, 0)), // still the 29th's
            (datetime!(2026-03-30 23:00 UTC), figures(100, 1, 0)),  // the end: left out
        ];
        let report = sum_into_buckets(&boundaries, &rows);
        assert_eq!(report.buckets.len(), 3);
        assert_eq!(report.buckets[0].start, datetime!(2026-03-28 0:00 UTC));
        assert_eq!(report.buckets[0].figures, figures(3, 3000, 500));
        assert_eq!(report.buckets[0].figures.net(), 2500);
        assert_eq!(report.buckets[1].figures, figures(3, 3000, 0));
        assert_eq!(report.buckets[2].figures, SalesFigures::default());
        assert_eq!(report.totals, figures(6, 6000, 500));
        assert_eq!(report.totals.net(), 5500);
        let empty = sum_into_buckets(&[], &rows);
        assert!(empty.buckets.is_empty());
        assert_eq!(empty.totals, SalesFigures::default());
    }

    #[test]
    fn hours_cut_by_half_hour_boundaries_are_split() {
        // Asia/Kolkata's days start at 18:30 UTC.
        let boundaries = [
            datetime!(2026-03-27 18:30 UTC),
            datetime!(2026-03-28 18:30 UTC),
        ];
        assert_eq!(cutting(&boundaries), boundaries);
        assert!(cutting(&[datetime!(2026-03-27 18:00 UTC)]).is_empty());
        assert_eq!(
            utc_hour_start(datetime!(2026-03-27 18:30:59.5 +01:00)),
            datetime!(2026-03-27 17:00 UTC)
        );
        // Hours 18:00 (3 orders, 1 before 18:30), 10:00 (1), 18:00 the next day (4, all before
        // 18:30): summed by the truncated bucket [27 18:00, 28 18:00) and [28 18:00, ...).
        let sums = [
            (datetime!(2026-03-27 18:00 UTC), figures(4, 400, 0)),
            (datetime!(2026-03-28 18:00 UTC), figures(4, 400, 100)),
        ];
        let before = [
            (datetime!(2026-03-27 18:30 UTC), figures(1, 100, 0)),
            (datetime!(2026-03-28 18:30 UTC), figures(4, 400, 100)),
        ];
        let rows = rows_for_cut_hours(&boundaries, &sums, &before);
        let report = sum_into_buckets(&boundaries, &rows);
        // the 18:00 hour's 2 after 18:30, the 10:00 hour, the last 18:00 hour's 4 before 18:30
        assert_eq!(report.buckets.len(), 1);
        assert_eq!(report.buckets[0].start, datetime!(2026-03-27 18:30 UTC));
        assert_eq!(report.totals, figures(7, 700, 100));
    }

    #[test]
    fn today_starts_at_utc_midnight() {
        assert_eq!(utc_day_start(NOW), datetime!(2026-12-09 0:00 UTC));
        assert_eq!(
            utc_day_start(datetime!(2026-12-09 1:00 +05:00)),
            datetime!(2026-12-08 0:00 UTC)
        );
    }
}
