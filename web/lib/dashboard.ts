/** The admin dashboard's pure logic: the chart's date range and series, and a debouncer. */
import type { SalesBucket } from "./api";

const DAY_MS = 86_400_000;

/**
 * The last `days` UTC days, today included: `created_from` the start of the first day (inclusive),
 * `created_to` the start of tomorrow (exclusive), so `interval=day` answers exactly `days` buckets.
 * UTC, as the summary's "today".
 */
export function lastDaysRange(now: Date, days = 30): { created_from: string; created_to: string } {
  const startOfToday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return {
    created_from: new Date(startOfToday - (days - 1) * DAY_MS).toISOString(),
    created_to: new Date(startOfToday + DAY_MS).toISOString(),
  };
}

/** A bucket's day as a short label ("4 Dec"), in UTC like the buckets. */
export function dayLabel(periodStart: string): string {
  const d = new Date(periodStart);
  if (Number.isNaN(d.getTime())) return periodStart;
  return d.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

/** The chart's series: a label per day, the orders placed, and net sales in currency units (not cents). */
export function salesSeries(items: readonly SalesBucket[]): { labels: string[]; orders: number[]; net: number[] } {
  return {
    labels: items.map((b) => dayLabel(b.period_start)),
    orders: items.map((b) => b.orders),
    net: items.map((b) => b.net / 100),
  };
}

/**
 * Calls `fn` once `ms` after the last of a burst of calls (a flood of order events refetches the
 * statistics once). `cancel` drops a pending call (on unmount).
 */
export function debounce(fn: () => void, ms: number): { call: () => void; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return {
    call() {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    },
    cancel() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
